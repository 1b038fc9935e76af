"""Recursive-descent parser producing a small AST.

Grammar (lowest to highest precedence)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/" | "%") unary)*
    unary  := "-" unary | power
    power  := atom ("^" unary)?
    atom   := NUMBER | NAME | NAME "(" [expr ("," expr)*] ")" | "(" expr ")"

All binary operators are left-associative except ``^``, which is
right-associative (``2^3^2 == 2^9``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .tokens import ExprSyntaxError, Token, tokenize


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Neg:
    operand: "Node"


@dataclass(frozen=True)
class BinOp:
    op: str
    left: "Node"
    right: "Node"


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple


Node = Union[Num, Var, Neg, BinOp, Call]


class _Parser:
    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, value: str) -> Token:
        token = self.advance()
        if token.value != value:
            raise ExprSyntaxError(f"expected {value!r}, got {token.value or 'end'!r}", token.pos)
        return token

    def expr(self) -> Node:
        left = self.term()
        if self.peek().value in ("+", "-"):
            op = self.advance().value
            return BinOp(op, left, self.expr())
        return left

    def term(self) -> Node:
        node = self.unary()
        while self.peek().value in ("*", "/", "%"):
            op = self.advance().value
            node = BinOp(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek().value == "-":
            self.advance()
            return Neg(self.unary())
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.peek().value == "^":
            self.advance()
            return BinOp("^", base, self.unary())
        return base

    def atom(self) -> Node:
        token = self.advance()
        if token.kind == "number":
            return Num(float(token.value))
        if token.kind == "name":
            if self.peek().value != "(":
                return Var(token.value)
            self.advance()
            args = []
            if self.peek().value != ")":
                args.append(self.expr())
                while self.peek().value == ",":
                    self.advance()
                    args.append(self.expr())
            self.expect(")")
            return Call(token.value, tuple(args))
        if token.value == "(":
            node = self.expr()
            self.expect(")")
            return node
        raise ExprSyntaxError(f"unexpected {token.value or 'end of input'!r}", token.pos)


def parse(text: str) -> Node:
    """Parse ``text`` into an AST."""
    parser = _Parser(tokenize(text))
    node = parser.expr()
    if parser.peek().kind != "end":
        token = parser.peek()
        raise ExprSyntaxError(f"unexpected {token.value!r}", token.pos)
    return node
