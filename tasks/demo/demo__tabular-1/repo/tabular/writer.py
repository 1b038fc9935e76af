"""Serialising rows."""
from __future__ import annotations

from typing import Any, Iterable

from .dialect import EXCEL, Dialect


def _needs_quotes(text: str, dialect: Dialect) -> bool:
    """Quote fields the reader could otherwise not reproduce exactly."""
    return (
        dialect.quotechar in text
        or "\n" in text
        or "\r" in text
        or text != text.strip()
    )


def format_field(value: Any, dialect: Dialect = EXCEL) -> str:
    """Render one value; ``None`` becomes an empty field."""
    text = "" if value is None else str(value)
    if _needs_quotes(text, dialect):
        q = dialect.quotechar
        return q + text.replace(q, q + q) + q
    return text


def format_row(values: Iterable[Any], dialect: Dialect = EXCEL) -> str:
    return dialect.delimiter.join(format_field(v, dialect) for v in values)


def write_rows(rows: Iterable[Iterable[Any]], dialect: Dialect = EXCEL) -> str:
    """Render all rows, each followed by the dialect's line terminator."""
    return "".join(format_row(row, dialect) + dialect.lineterminator for row in rows)
