"""A tiny arithmetic expression evaluator with variables and functions."""
from .evaluate import EvaluationError, calc, evaluate
from .parser import ExprSyntaxError, parse
from .tokens import tokenize

__all__ = ["EvaluationError", "ExprSyntaxError", "calc", "evaluate", "parse", "tokenize"]
