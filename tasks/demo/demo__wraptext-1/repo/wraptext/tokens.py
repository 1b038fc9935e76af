"""Splitting text into words and paragraphs."""
from __future__ import annotations

import re

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def split_words(text: str) -> list[str]:
    """Split on any run of whitespace; newlines and tabs are treated like spaces."""
    return text.split()


def split_paragraphs(text: str) -> list[str]:
    """Split ``text`` on blank lines, dropping empty paragraphs."""
    return [p for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]
