import pytest

from semver import InvalidVersion, Version, parse


def test_parse_full_version():
    v = parse("1.4.0-rc.1+build.7")
    assert v == Version(1, 4, 0, ("rc", "1"), ("build", "7"))
    assert v.is_prerelease


def test_parse_accepts_v_prefix():
    assert parse("v2.0.1") == Version(2, 0, 1)


@pytest.mark.parametrize(
    "text",
    ["1.2", "01.2.3", "1.2.3-", "1.2.3+", "one.two.three", ""],
    ids=["two-parts", "leading-zero", "empty-prerelease", "empty-build", "words", "empty"],
)
def test_parse_rejects_invalid(text):
    with pytest.raises(InvalidVersion):
        parse(text)


def test_str_round_trip():
    for text in ["0.0.1", "1.0.0-alpha.1", "3.2.1+sha.abc123", "1.0.0-x-y.7+z"]:
        assert str(parse(text)) == text


def test_bumps():
    v = parse("1.2.3")
    assert str(v.bump_major()) == "2.0.0"
    assert str(v.bump_minor()) == "1.3.0"
    assert str(v.bump_patch()) == "1.2.4"
    assert str(parse("1.2.3-rc.2").bump_patch()) == "1.2.3"
