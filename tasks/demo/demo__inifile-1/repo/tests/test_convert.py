import pytest

from inifile import to_bool, to_int, to_list


@pytest.mark.parametrize("raw", ["yes", "True", "ON", "1"])
def test_to_bool_true(raw):
    assert to_bool(raw) is True


def test_to_bool_rejects_garbage():
    with pytest.raises(ValueError):
        to_bool("maybe")


def test_to_int():
    assert to_int(" 1_000 ") == 1000
    assert to_int("0x1F") == 31


def test_to_list():
    assert to_list("a, b,,c") == ["a", "b", "c"]
    assert to_list("a\nb, c") == ["a", "b", "c"]
