import pytest

from jptr import ResolutionError, leaf_pointers, resolve, set_value

# The example document from RFC 6901, section 5.
RFC_DOC = {
    "foo": ["bar", "baz"],
    "": 0,
    "a/b": 1,
    "c%d": 2,
    "e^f": 3,
    "g|h": 4,
    "i\\j": 5,
    'k"l': 6,
    " ": 7,
    "m~n": 8,
}


@pytest.mark.parametrize(
    "pointer, expected",
    [
        ("", RFC_DOC),
        ("/foo", ["bar", "baz"]),
        ("/foo/0", "bar"),
        ("/", 0),
        ("/a~1b", 1),
        ("/c%d", 2),
        ("/e^f", 3),
        ("/g|h", 4),
        ("/i\\j", 5),
        ('/k"l', 6),
        ("/ ", 7),
        ("/m~0n", 8),
    ],
    ids=["root", "array", "index", "empty-key", "slash", "percent", "caret", "pipe",
         "backslash", "quote", "space", "tilde"],
)
def test_rfc_examples(pointer, expected):
    assert resolve(RFC_DOC, pointer) == expected


def test_unresolvable_pointers():
    with pytest.raises(ResolutionError):
        resolve(RFC_DOC, "/foo/2")
    with pytest.raises(ResolutionError):
        resolve(RFC_DOC, "/foo/01")
    with pytest.raises(ResolutionError):
        resolve(RFC_DOC, "/foo/-")
    assert resolve(RFC_DOC, "/nope", default=None) is None


def test_set_value():
    doc = {"items": [1, 2]}
    set_value(doc, "/items/-", 3)
    set_value(doc, "/items/0", 10)
    set_value(doc, "/meta", {"n": 3})
    assert doc == {"items": [10, 2, 3], "meta": {"n": 3}}


def test_leaf_pointers_round_trip():
    doc = {"users": [{"name": "ann", "tags": ["x"]}], "m~n": True, "a/b": None}
    pointers = list(leaf_pointers(doc))
    assert pointers[:3] == ["/users/0/name", "/users/0/tags/0", "/m~0n"]
    assert [resolve(doc, p) for p in pointers] == ["ann", "x", True, None]
