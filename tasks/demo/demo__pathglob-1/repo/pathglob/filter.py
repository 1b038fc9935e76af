"""Filtering lists of paths with include/exclude patterns."""
from __future__ import annotations

from typing import Iterable, Sequence

from .match import match_any


def filter_paths(
    paths: Iterable[str],
    include: Sequence[str] = ("**",),
    exclude: Sequence[str] = (),
    *,
    ignore_case: bool = False,
) -> list[str]:
    """Keep paths matching any ``include`` pattern and no ``exclude`` pattern.

    The input order is preserved.  ``ignore_case`` applies to both pattern lists.
    """
    kept = []
    for path in paths:
        if not match_any(path, include):
            continue
        if exclude and match_any(path, exclude):
            continue
        kept.append(path)
    return kept
