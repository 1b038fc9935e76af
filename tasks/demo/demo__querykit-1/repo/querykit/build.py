"""Serialising parameters into a query string."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Union
from urllib.parse import urlencode

Params = Union[Mapping[str, Any], Iterable[tuple[str, Any]]]


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_query(params: Params, *, sort: bool = False) -> str:
    """Encode ``params`` as ``application/x-www-form-urlencoded``.

    * ``None`` values are dropped entirely.
    * Booleans become ``true`` / ``false``.
    * Lists and tuples become repeated keys: ``{"tag": ["a", "b"]}`` gives
      ``tag=a&tag=b`` (``None`` items inside them are skipped).
    * With ``sort=True`` keys are sorted, which makes URLs cache-friendly.
    """
    items = params.items() if isinstance(params, Mapping) else params
    cleaned: list[tuple[str, Any]] = []
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = [_stringify(v) for v in value if v is not None]
        else:
            value = _stringify(value)
        cleaned.append((key, value))
    if sort:
        cleaned.sort(key=lambda pair: pair[0])
    return urlencode(cleaned)
