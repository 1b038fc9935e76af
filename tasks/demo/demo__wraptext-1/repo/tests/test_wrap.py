import pytest

from wraptext import fill, wrap


def test_wrap_simple_sentence():
    assert wrap("the quick brown fox", 10) == ["the quick", "brown fox"]


def test_whitespace_is_normalised():
    assert wrap("  one\ttwo\n\nthree  ", 20) == ["one two three"]


def test_empty_text():
    assert wrap("", 10) == []
    assert wrap("   \n ", 10) == []


def test_long_words_are_broken():
    assert wrap("abcdefghijkl x", 5) == ["abcde", "fghij", "kl x"]


def test_long_words_kept_when_not_breaking():
    assert wrap("tiny incomprehensibilities", 8, break_long_words=False) == [
        "tiny",
        "incomprehensibilities",
    ]


def test_fill_joins_lines():
    assert fill("lorem ipsum dolor sit amet", 12) == "lorem ipsum\ndolor sit\namet"


def test_invalid_width():
    with pytest.raises(ValueError):
        wrap("text", 0)
