"""The conversion functions."""
from __future__ import annotations

import re

from .errors import InvalidRomanNumeral, OutOfRangeError
from .tables import MAX_VALUE, MIN_VALUE, SYMBOLS, VALUES

# Canonical form only: no "IIII", "VX", "IC", ...
_CANONICAL = re.compile(r"^M{0,3}(CM|CD|D?C{0,3})(XC|XL|L?X{0,3})(IX|IV|V?I{0,3})$")


def to_roman(number: int) -> str:
    """Convert an integer in ``MIN_VALUE..MAX_VALUE`` (inclusive) to a Roman numeral."""
    if isinstance(number, bool) or not isinstance(number, int):
        raise TypeError(f"expected int, got {type(number).__name__}")
    if not MIN_VALUE <= number < MAX_VALUE:
        raise OutOfRangeError(f"{number} is outside {MIN_VALUE}..{MAX_VALUE}")
    parts = []
    for value, symbol in SYMBOLS:
        count, number = divmod(number, value)
        parts.append(symbol * count)
    return "".join(parts)


def is_roman(text: str) -> bool:
    """True if ``text`` is a canonical, non-empty Roman numeral (case-insensitive)."""
    text = text.strip().upper()
    return bool(text) and _CANONICAL.match(text) is not None


def from_roman(text: str) -> int:
    """Convert a canonical Roman numeral (case-insensitive) to an integer."""
    numeral = text.strip().upper()
    if not is_roman(numeral):
        raise InvalidRomanNumeral(f"not a valid Roman numeral: {text!r}")
    total = 0
    for i, char in enumerate(numeral):
        value = VALUES[char]
        if i + 1 < len(numeral) and VALUES[numeral[i + 1]] > value:
            total -= value
        else:
            total += value
    return total
