import math

import pytest

from calcy import EvaluationError, ExprSyntaxError, calc


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 + 2", 3),
        ("7 - 2", 5),
        ("1 + 2 + 3", 6),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("2 ^ 3 ^ 2", 512),
        ("-2 ^ 2", -4),
        ("100 / 10 / 5", 2),
        ("7 % 4", 3),
        (".5 * 4", 2),
    ],
    ids=["add", "sub", "chain-add", "precedence", "parens", "pow-right-assoc",
         "neg-pow", "div-left-assoc", "mod", "leading-dot"],
)
def test_arithmetic(text, expected):
    assert calc(text) == expected


def test_variables_and_constants():
    assert calc("2 * x + y", x=4, y=1) == 9
    assert calc("2 * pi") == pytest.approx(math.tau)


def test_functions():
    assert calc("max(1, 5, 3) + min(4, 2)") == 7
    assert calc("sqrt(16) + abs(-2)") == 6


def test_errors():
    with pytest.raises(EvaluationError, match="division by zero"):
        calc("1 / (2 - 2)")
    with pytest.raises(EvaluationError, match="unknown variable"):
        calc("x + 1")
    with pytest.raises(EvaluationError, match="unknown function"):
        calc("cos(0)")
    with pytest.raises(EvaluationError, match="sqrt"):
        calc("sqrt(-1)")
