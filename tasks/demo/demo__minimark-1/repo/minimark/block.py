"""Block structure: headings, paragraphs, lists and fenced code."""
from __future__ import annotations

import re

from .escape import escape_html
from .inline import render_inline

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^[-*]\s+(.*)$")
_FENCE = "```"


def render(markdown: str) -> str:
    """Convert a Markdown document to an HTML fragment (one block per line)."""
    html: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    code: list[str] | None = None

    def flush() -> None:
        if paragraph:
            html.append(f"<p>{render_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            html.append("<ul>")
            html.extend(f"<li>{render_inline(item)}</li>" for item in items)
            html.append("</ul>")
            items.clear()

    for line in markdown.splitlines():
        if code is not None:
            if line.strip() == _FENCE:
                html.append("<pre><code>" + escape_html("\n".join(code)) + "</code></pre>")
                code = None
            else:
                code.append(line)
            continue
        stripped = line.strip()
        if stripped.startswith(_FENCE):
            flush()
            code = []
        elif not stripped:
            flush()
        elif heading := _HEADING.match(stripped):
            flush()
            level = len(heading.group(1))
            html.append(f"<h{level}>{render_inline(heading.group(2))}</h{level}>")
        elif bullet := _BULLET.match(stripped):
            if paragraph:
                flush()
            items.append(bullet.group(1))
        else:
            if items:
                flush()
            paragraph.append(stripped)
    if code is not None:
        html.append("<pre><code>" + escape_html("\n".join(code)) + "</code></pre>")
    flush()
    return "\n".join(html)
