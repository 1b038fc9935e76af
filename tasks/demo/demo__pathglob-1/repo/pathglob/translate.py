"""Translate glob patterns into regular expressions.

Supported syntax:

* ``*``   any run of characters except ``/``
* ``**``  any run of characters including ``/``; ``**/`` also matches no directory
* ``?``   one character except ``/``
* ``[abc]`` / ``[!abc]`` character classes
"""
from __future__ import annotations

import re
from functools import lru_cache


def translate(pattern: str) -> str:
    """Return a regular expression (without anchors) equivalent to ``pattern``."""
    parts = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            parts.append(".*")
            i += 2
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                parts.append(re.escape(char))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^/" + body[1:]
                parts.append(f"[{body}]")
                i = end + 1
                continue
        else:
            parts.append(re.escape(char))
        i += 1
    return "".join(parts)


@lru_cache(maxsize=256)
def compile_pattern(pattern: str, ignore_case: bool = False) -> re.Pattern:
    """Compile ``pattern`` (cached).  Use ``.fullmatch`` on the result."""
    flags = re.IGNORECASE if ignore_case else 0
    return re.compile(translate(pattern), flags)
