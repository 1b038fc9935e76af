import pytest

from jptr import PointerSyntaxError, escape, join, parse, unescape


def test_parse_root_and_simple_paths():
    assert parse("") == []
    assert parse("/") == [""]
    assert parse("/foo/0/bar") == ["foo", "0", "bar"]


def test_parse_escapes():
    assert parse("/a~1b") == ["a/b"]
    assert parse("/m~0n") == ["m~n"]


def test_parse_requires_leading_slash():
    with pytest.raises(PointerSyntaxError):
        parse("foo/bar")


@pytest.mark.parametrize("token", ["~", "a~2", "~x~1"], ids=["lone-tilde", "tilde-two", "tilde-x"])
def test_invalid_escapes(token):
    with pytest.raises(PointerSyntaxError):
        unescape(token)


def test_escape_tilde():
    assert escape("m~n") == "m~0n"
    assert escape("plain") == "plain"


def test_join():
    assert join([]) == ""
    assert join(["users", 0, "name"]) == "/users/0/name"
