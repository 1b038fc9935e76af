"""Resolving pointers against JSON-like documents (dicts, lists, scalars)."""
from __future__ import annotations

import re
from typing import Any

from .errors import ResolutionError
from .pointer import parse

_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
_MISSING = object()


def _step(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise ResolutionError(pointer, f"missing key {token!r}")
        return node[token]
    if isinstance(node, list):
        if token == "-":
            raise ResolutionError(pointer, "'-' refers to a nonexistent element")
        if not _INDEX.match(token):
            raise ResolutionError(pointer, f"invalid array index {token!r}")
        index = int(token)
        if index >= len(node):
            raise ResolutionError(pointer, f"index {index} out of range")
        return node[index]
    raise ResolutionError(pointer, f"cannot descend into {type(node).__name__}")


def resolve(document: Any, pointer: str, default: Any = _MISSING) -> Any:
    """Return the value ``pointer`` refers to, or ``default`` if given and unresolvable."""
    node = document
    try:
        for token in parse(pointer):
            node = _step(node, token, pointer)
    except ResolutionError:
        if default is _MISSING:
            raise
        return default
    return node


def set_value(document: Any, pointer: str, value: Any) -> None:
    """Set the value at ``pointer`` in place.  ``-`` appends to an array."""
    tokens = parse(pointer)
    if not tokens:
        raise ResolutionError(pointer, "cannot replace the whole document in place")
    parent = document
    for token in tokens[:-1]:
        parent = _step(parent, token, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            _step(parent, last, pointer)  # validates the index
            parent[int(last)] = value
    else:
        raise ResolutionError(pointer, f"cannot set inside {type(parent).__name__}")
