"""Greedy word wrapping, filling and justification for plain text."""
from .align import center, fill_paragraphs, justify
from .tokens import split_paragraphs, split_words
from .wrap import fill, wrap

__all__ = [
    "center",
    "fill",
    "fill_paragraphs",
    "justify",
    "split_paragraphs",
    "split_words",
    "wrap",
]
