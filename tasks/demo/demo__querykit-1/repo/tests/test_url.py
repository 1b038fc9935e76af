from querykit import first, parse_query, with_query, without_params


def test_parse_query_keeps_blanks_and_repeats():
    assert parse_query("?a=&b=1&b=2") == {"a": [""], "b": ["1", "2"]}
    assert first("b=1&b=2", "b") == "1"
    assert first("", "b", "x") == "x"


def test_with_query_adds_and_replaces():
    url = "https://shop.example/search?q=mugs&page=3#results"
    assert with_query(url, page=1, sort="price") == (
        "https://shop.example/search?q=mugs&page=1&sort=price#results"
    )


def test_with_query_on_url_without_query():
    assert with_query("https://example.org/", {"lang": "de"}) == "https://example.org/?lang=de"


def test_without_params():
    url = "https://example.org/p?utm_source=x&id=7&utm_medium=y"
    assert without_params(url, ["utm_source", "utm_medium"]) == "https://example.org/p?id=7"
