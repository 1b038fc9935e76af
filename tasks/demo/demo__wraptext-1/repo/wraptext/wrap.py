"""Greedy line breaking."""
from __future__ import annotations

from .tokens import split_words


def wrap(text: str, width: int = 70, *, break_long_words: bool = True) -> list[str]:
    """Wrap ``text`` into lines of at most ``width`` characters.

    Words are packed greedily; a line is filled as long as the next word
    (plus one separating space) still fits, so lines may be exactly
    ``width`` characters long.  Words longer than ``width`` are split when
    ``break_long_words`` is true, otherwise they are put on a line of their own.
    """
    if width < 1:
        raise ValueError(f"width must be positive, got {width}")
    lines: list[str] = []
    current = ""
    for word in split_words(text):
        while break_long_words and len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        if not word:
            continue
        if not current:
            current = word
        elif len(current) + 1 + len(word) < width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def fill(text: str, width: int = 70, **options) -> str:
    """Like :func:`wrap` but returns a single newline-joined string."""
    return "\n".join(wrap(text, width, **options))
