from querykit import build_query


def test_simple_params():
    assert build_query({"q": "red shoes", "page": 2}) == "q=red+shoes&page=2"


def test_special_characters_are_encoded():
    assert build_query({"next": "/a?b=c&d"}) == "next=%2Fa%3Fb%3Dc%26d"
    assert build_query({"name": "Zoë"}) == "name=Zo%C3%AB"


def test_none_is_dropped_and_bools_are_lowercase():
    assert build_query({"a": None, "b": True, "c": False}) == "b=true&c=false"


def test_sorting_and_pairs_input():
    assert build_query([("z", 1), ("a", 2)]) == "z=1&a=2"
    assert build_query([("z", 1), ("a", 2)], sort=True) == "a=2&z=1"


def test_empty():
    assert build_query({}) == ""
