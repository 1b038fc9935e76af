"""Manipulating the query part of complete URLs."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional
from urllib.parse import urlsplit, urlunsplit

from .build import build_query
from .parse import parse_query


def _existing(query: str) -> dict[str, Any]:
    """Existing parameters, single values unwrapped from their lists."""
    return {k: v[0] if len(v) == 1 else v for k, v in parse_query(query).items()}


def with_query(url: str, params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> str:
    """Return ``url`` with parameters merged into its query string.

    New values replace existing ones with the same key; a value of ``None``
    removes the key.  The fragment is preserved.
    """
    parts = urlsplit(url)
    merged = _existing(parts.query)
    merged.update(params or {})
    merged.update(kwargs)
    return urlunsplit(parts._replace(query=build_query(merged)))


def without_params(url: str, keys: Iterable[str]) -> str:
    """Return ``url`` with the given query keys removed."""
    return with_query(url, {key: None for key in keys})
