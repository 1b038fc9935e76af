"""Parsing CSV text."""
from __future__ import annotations

from .dialect import EXCEL, CsvError, Dialect


def read_rows(text: str, dialect: Dialect = EXCEL) -> list[list[str]]:
    """Parse ``text`` into rows of strings.

    Quoted fields may contain delimiters, line breaks and quote characters;
    inside a quoted field a doubled quote character (``""``) stands for one
    literal quote.  ``\\n``, ``\\r\\n`` and ``\\r`` all end a row, and blank
    lines are skipped.
    """
    q, d = dialect.quotechar, dialect.delimiter
    rows: list[list[str]] = []
    row: list[str] = []
    field: list[str] = []
    in_quotes = False
    quoted = False  # current field started with a quote (so "" is a real empty field)

    def end_field() -> None:
        nonlocal field, quoted
        row.append("".join(field))
        field = []
        quoted = False

    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if in_quotes:
            if ch == q:
                in_quotes = False
            else:
                field.append(ch)
        elif ch == q:
            in_quotes = quoted = True
        elif ch == d:
            end_field()
        elif ch in "\r\n":
            if ch == "\r" and text.startswith("\n", i + 1):
                i += 1
            if row or field or quoted:
                end_field()
                rows.append(row)
                row = []
        else:
            field.append(ch)
        i += 1
    if in_quotes:
        raise CsvError("unterminated quoted field at end of input")
    if row or field or quoted:
        end_field()
        rows.append(row)
    return rows
