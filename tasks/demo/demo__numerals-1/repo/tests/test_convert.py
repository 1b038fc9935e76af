import pytest

from numerals import InvalidRomanNumeral, OutOfRangeError, from_roman, is_roman, to_roman

KNOWN = [
    (1, "I"),
    (4, "IV"),
    (9, "IX"),
    (14, "XIV"),
    (40, "XL"),
    (90, "XC"),
    (400, "CD"),
    (1994, "MCMXCIV"),
    (2024, "MMXXIV"),
    (3888, "MMMDCCCLXXXVIII"),
]


@pytest.mark.parametrize("number, numeral", KNOWN)
def test_to_roman(number, numeral):
    assert to_roman(number) == numeral


@pytest.mark.parametrize("number, numeral", KNOWN)
def test_from_roman(number, numeral):
    assert from_roman(numeral) == number
    assert from_roman(numeral.lower()) == number


@pytest.mark.parametrize("number", [0, -1, 4000, 10_000])
def test_to_roman_out_of_range(number):
    with pytest.raises(OutOfRangeError):
        to_roman(number)


def test_to_roman_type_errors():
    with pytest.raises(TypeError):
        to_roman(3.0)
    with pytest.raises(TypeError):
        to_roman(True)


@pytest.mark.parametrize(
    "text",
    ["", "IIII", "VX", "IC", "MMMM", "XIIV", "ABC"],
    ids=["empty", "IIII", "VX", "IC", "MMMM", "XIIV", "ABC"],
)
def test_invalid_numerals(text):
    assert not is_roman(text)
    with pytest.raises(InvalidRomanNumeral):
        from_roman(text)
