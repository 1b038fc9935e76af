"""Alignment helpers built on top of :func:`wraptext.wrap.wrap`."""
from __future__ import annotations

from .tokens import split_paragraphs
from .wrap import wrap


def justify(line: str, width: int) -> str:
    """Pad the gaps between words so ``line`` is exactly ``width`` wide.

    Extra spaces go to the leftmost gaps first.  Single-word lines and lines
    already at least ``width`` long are returned unchanged.
    """
    words = line.split()
    if len(words) < 2 or len(line) >= width:
        return line
    gaps = len(words) - 1
    spaces = width - sum(len(w) for w in words)
    base, extra = divmod(spaces, gaps)
    out = []
    for i, word in enumerate(words[:-1]):
        out.append(word + " " * (base + (1 if i < extra else 0)))
    out.append(words[-1])
    return "".join(out)


def center(line: str, width: int, fillchar: str = " ") -> str:
    """Center ``line`` in ``width`` columns (extra padding goes on the right)."""
    pad = max(width - len(line), 0)
    left = pad // 2
    return fillchar * left + line + fillchar * (pad - left)


def fill_paragraphs(text: str, width: int = 70, *, justified: bool = False) -> str:
    """Wrap every paragraph separately and join them with a blank line.

    With ``justified=True`` every line except the last of each paragraph
    is justified to ``width``.
    """
    blocks = []
    for paragraph in split_paragraphs(text):
        lines = wrap(paragraph, width)
        if justified:
            lines = [justify(l, width) for l in lines[:-1]] + lines[-1:]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
