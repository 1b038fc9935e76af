"""Line-level tokenizer for INI files."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

COMMENT_PREFIXES = ("#", ";")
SEPARATORS = ("=", ":")


@dataclass(frozen=True)
class Line:
    """One meaningful line of an INI file.

    ``kind`` is ``"section"`` (``key`` holds the section name), ``"pair"``
    (``key``/``value``) or ``"continuation"`` (an indented line that extends
    the previous value).
    """

    kind: str
    lineno: int
    key: str = ""
    value: str = ""


class IniSyntaxError(ValueError):
    """Raised for lines that cannot be understood."""

    def __init__(self, message: str, lineno: int):
        super().__init__(f"line {lineno}: {message}")
        self.lineno = lineno


def _separator(text: str) -> str | None:
    """Return whichever separator occurs first in ``text``."""
    positions = [(text.find(sep), sep) for sep in SEPARATORS if sep in text]
    return min(positions)[1] if positions else None


def tokenize(text: str) -> Iterator[Line]:
    """Yield :class:`Line` objects for every non-blank, non-comment line."""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith(COMMENT_PREFIXES):
            continue
        if raw[0] in " \t":
            yield Line("continuation", lineno, value=stripped)
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]"):
                raise IniSyntaxError("unterminated section header", lineno)
            yield Line("section", lineno, key=stripped[1:-1].strip())
            continue
        sep = _separator(stripped)
        if sep is None:
            raise IniSyntaxError(f"expected 'key = value', got {stripped!r}", lineno)
        key, value = stripped.split(sep)[:2]
        key = key.strip().lower()
        if not key:
            raise IniSyntaxError("empty key", lineno)
        yield Line("pair", lineno, key=key, value=value.strip())
