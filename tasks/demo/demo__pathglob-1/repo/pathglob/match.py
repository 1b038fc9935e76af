"""Matching single paths."""
from __future__ import annotations

from typing import Iterable

from .translate import compile_pattern


def normalize(path: str) -> str:
    """Use forward slashes and drop a leading ``./``."""
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def match(path: str, pattern: str, *, ignore_case: bool = False) -> bool:
    """Return True if the whole of ``path`` matches the glob ``pattern``.

    Patterns without a ``/`` are matched against the file name only, so
    ``*.py`` matches ``src/app/main.py``.  With ``ignore_case=True`` letters
    are compared case-insensitively.
    """
    path = normalize(path)
    if "/" not in pattern:
        path = path.rsplit("/", 1)[-1]
    return compile_pattern(pattern).fullmatch(path) is not None


def match_any(path: str, patterns: Iterable[str], *, ignore_case: bool = False) -> bool:
    """Return True if ``path`` matches at least one of ``patterns``."""
    return any(match(path, p, ignore_case=ignore_case) for p in patterns)
