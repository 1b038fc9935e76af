"""Symbol tables for standard (subtractive) Roman numerals."""

#: Smallest and largest values representable without overline notation.
MIN_VALUE = 1
MAX_VALUE = 3999

#: Values in descending order, including the six subtractive pairs.
SYMBOLS = (
    (1000, "M"),
    (900, "CM"),
    (500, "D"),
    (400, "CD"),
    (100, "C"),
    (90, "XC"),
    (50, "L"),
    (40, "XL"),
    (10, "X"),
    (9, "IX"),
    (5, "V"),
    (4, "IV"),
    (1, "I"),
)

VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
