"""Tokenizer."""
from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<number>\d+\.\d*|\.\d+|\d+)|(?P<name>[A-Za-z_]\w*)|(?P<op>[-+*/%^(),]))"
)


class ExprSyntaxError(ValueError):
    """Raised for malformed expressions; ``pos`` is the offending offset."""

    def __init__(self, message: str, pos: int):
        super().__init__(f"{message} at position {pos}")
        self.pos = pos


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op" or "end"
    value: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``end`` token."""
    tokens = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            bad = len(text) - len(text[pos:].lstrip())
            raise ExprSyntaxError(f"unexpected character {text[bad]!r}", bad)
        kind = match.lastgroup
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens
