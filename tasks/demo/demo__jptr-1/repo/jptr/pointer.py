"""Parsing pointer strings into reference tokens (RFC 6901, section 3-4)."""
from __future__ import annotations

import re

from .errors import PointerSyntaxError

_BAD_ESCAPE = re.compile(r"~(?![01])")


def unescape(token: str) -> str:
    """Decode one reference token: ``~1`` means ``/`` and ``~0`` means ``~``."""
    if _BAD_ESCAPE.search(token):
        raise PointerSyntaxError(f"invalid escape in {token!r}")
    return token.replace("~0", "~").replace("~1", "/")


def parse(pointer: str) -> list[str]:
    """Split a JSON Pointer into its unescaped reference tokens.

    ``""`` refers to the whole document and yields ``[]``.
    """
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PointerSyntaxError(f"pointer must start with '/': {pointer!r}")
    return [unescape(token) for token in pointer[1:].split("/")]
