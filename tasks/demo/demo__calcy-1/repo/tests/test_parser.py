import pytest

from calcy import ExprSyntaxError, parse, tokenize
from calcy.parser import BinOp, Call, Neg, Num, Var


def test_tokenize_positions():
    tokens = tokenize("  12 +x")
    assert [(t.kind, t.value, t.pos) for t in tokens] == [
        ("number", "12", 2),
        ("op", "+", 5),
        ("name", "x", 6),
        ("end", "", 7),
    ]


def test_parse_tree_shape():
    assert parse("-a * f(1, b)") == BinOp(
        "*", Neg(Var("a")), Call("f", (Num(1.0), Var("b")))
    )


@pytest.mark.parametrize(
    "text",
    ["1 +", "(1 + 2", "1 2", "3 $ 4", ""],
    ids=["dangling-operator", "unclosed-paren", "missing-operator", "bad-character", "empty"],
)
def test_syntax_errors(text):
    with pytest.raises(ExprSyntaxError):
        parse(text)


def test_syntax_error_position():
    with pytest.raises(ExprSyntaxError) as info:
        parse("1 + * 2")
    assert info.value.pos == 4
