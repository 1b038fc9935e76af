"""Exceptions raised by :mod:`numerals`."""


class RomanError(ValueError):
    """Base class for conversion errors."""


class OutOfRangeError(RomanError):
    """The integer cannot be written as a standard Roman numeral."""


class InvalidRomanNumeral(RomanError):
    """The string is not a well-formed Roman numeral."""
