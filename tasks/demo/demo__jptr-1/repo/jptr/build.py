"""Building pointer strings."""
from __future__ import annotations

from typing import Any, Iterable, Iterator


def escape(token: str) -> str:
    """Encode one reference token so it can be embedded in a pointer."""
    return token.replace("/", "~1").replace("~", "~0")


def join(tokens: Iterable[object]) -> str:
    """Build a pointer from raw tokens; integers are used as array indices.

    >>> join(["users", 0, "name"])
    '/users/0/name'
    """
    return "".join("/" + escape(str(token)) for token in tokens)


def leaf_pointers(document: Any, prefix: tuple = ()) -> Iterator[str]:
    """Yield a pointer for every scalar (non-container) value in ``document``."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from leaf_pointers(value, prefix + (key,))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from leaf_pointers(value, prefix + (index,))
    else:
        yield join(prefix)
