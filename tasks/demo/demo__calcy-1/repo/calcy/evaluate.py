"""AST evaluation."""
from __future__ import annotations

import math
from typing import Callable, Mapping

from .parser import BinOp, Call, Neg, Node, Num, Var, parse

FUNCTIONS: dict[str, Callable[..., float]] = {
    "abs": abs,
    "max": max,
    "min": min,
    "round": round,
    "sqrt": math.sqrt,
}

CONSTANTS = {"pi": math.pi, "e": math.e}


class EvaluationError(ArithmeticError):
    """Raised for unknown names, bad calls and division by zero."""


def _binop(op: str, a: float, b: float) -> float:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in ("/", "%") and b == 0:
        raise EvaluationError("division by zero")
    if op == "/":
        return a / b
    if op == "%":
        return a % b
    if op == "^":
        return a**b
    raise EvaluationError(f"unknown operator {op!r}")


def evaluate(node: Node, variables: Mapping[str, float] | None = None) -> float:
    """Evaluate an AST produced by :func:`calcy.parser.parse`."""
    env = {**CONSTANTS, **(variables or {})}
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Var):
        if node.name not in env:
            raise EvaluationError(f"unknown variable {node.name!r}")
        return env[node.name]
    if isinstance(node, Neg):
        return -evaluate(node.operand, variables)
    if isinstance(node, BinOp):
        return _binop(node.op, evaluate(node.left, variables), evaluate(node.right, variables))
    if isinstance(node, Call):
        func = FUNCTIONS.get(node.name)
        if func is None:
            raise EvaluationError(f"unknown function {node.name!r}")
        try:
            return func(*(evaluate(arg, variables) for arg in node.args))
        except (TypeError, ValueError) as exc:
            raise EvaluationError(f"{node.name}(): {exc}") from None
    raise TypeError(f"not an AST node: {node!r}")


def calc(text: str, **variables: float) -> float:
    """Parse and evaluate ``text`` in one go: ``calc("2 * x + 1", x=4) == 9``."""
    return evaluate(parse(text), variables)
