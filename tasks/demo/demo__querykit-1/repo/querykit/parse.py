"""Parsing query strings."""
from __future__ import annotations

from typing import Optional
from urllib.parse import parse_qs


def parse_query(query: str) -> dict[str, list[str]]:
    """Parse a query string (with or without a leading ``?``) into lists of values.

    Blank values are kept: ``"a=&b=1"`` gives ``{"a": [""], "b": ["1"]}``.
    """
    return parse_qs(query.lstrip("?"), keep_blank_values=True)


def first(query: str, key: str, default: Optional[str] = None) -> Optional[str]:
    """Return the first value of ``key`` or ``default``."""
    values = parse_query(query).get(key)
    return values[0] if values else default
