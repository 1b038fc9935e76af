"""Inline formatting: code spans, strong, emphasis and links."""
from __future__ import annotations

import re

from .escape import escape_html

_CODE = re.compile(r"`([^`]+)`")
_STRONG = re.compile(r"\*\*(.+)\*\*")
_EMPHASIS = re.compile(r"\*([^*\s][^*]*)\*")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _format(text: str) -> str:
    """Format a stretch of text that contains no code spans."""
    text = escape_html(text)
    text = _LINK.sub(r'<a href="\2">\1</a>', text)
    text = _STRONG.sub(r"<strong>\1</strong>", text)
    text = _EMPHASIS.sub(r"<em>\1</em>", text)
    return text


def render_inline(text: str) -> str:
    """Render inline Markdown in ``text`` to HTML.

    Code spans are rendered verbatim (escaped, but not formatted), so
    ``*`` inside backticks stays a literal asterisk.
    """
    out = []
    pos = 0
    for match in _CODE.finditer(text):
        out.append(_format(text[pos : match.start()]))
        out.append(f"<code>{escape_html(match.group(1))}</code>")
        pos = match.end()
    out.append(_format(text[pos:]))
    return "".join(out)
