"""Helpers that turn raw string values into Python objects."""
from __future__ import annotations

_TRUE = {"1", "yes", "true", "on"}
_FALSE = {"0", "no", "false", "off"}


def to_bool(value: str) -> bool:
    """Interpret common spellings of booleans (case-insensitive)."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def to_int(value: str) -> int:
    """Parse an integer, allowing ``_`` digit separators and hex (``0x``)."""
    return int(value.strip().replace("_", ""), 0)


def to_list(value: str, sep: str = ",") -> list[str]:
    """Split a value on ``sep`` (or newlines) and drop empty items."""
    items = []
    for line in value.splitlines():
        items.extend(part.strip() for part in line.split(sep))
    return [item for item in items if item]
