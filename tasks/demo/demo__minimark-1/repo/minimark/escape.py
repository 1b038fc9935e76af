"""HTML escaping."""
from __future__ import annotations

_REPLACEMENTS = (
    ("&", "&amp;"),  # must come first
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&quot;"),
)


def escape_html(text: str) -> str:
    """Escape the characters that are special in HTML text and attributes."""
    for char, entity in _REPLACEMENTS:
        text = text.replace(char, entity)
    return text
