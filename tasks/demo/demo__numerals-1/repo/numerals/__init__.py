"""Conversion between integers and Roman numerals."""
from .convert import from_roman, is_roman, to_roman
from .errors import InvalidRomanNumeral, OutOfRangeError, RomanError
from .tables import MAX_VALUE, MIN_VALUE

__all__ = [
    "InvalidRomanNumeral",
    "MAX_VALUE",
    "MIN_VALUE",
    "OutOfRangeError",
    "RomanError",
    "from_roman",
    "is_roman",
    "to_roman",
]
