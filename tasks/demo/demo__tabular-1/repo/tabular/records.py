"""Rows as dictionaries keyed by a header line."""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Sequence

from .dialect import EXCEL, CsvError, Dialect
from .reader import read_rows
from .writer import write_rows


def read_records(text: str, dialect: Dialect = EXCEL) -> list[dict[str, str]]:
    """Parse CSV with a header row into a list of dicts.

    Every data row must have exactly as many fields as the header.
    """
    rows = read_rows(text, dialect)
    if not rows:
        return []
    header, *data = rows
    records = []
    for number, row in enumerate(data, start=2):
        if len(row) != len(header):
            raise CsvError(f"row {number} has {len(row)} fields, expected {len(header)}")
        records.append(dict(zip(header, row)))
    return records


def write_records(
    records: Iterable[Mapping[str, Any]],
    fieldnames: Optional[Sequence[str]] = None,
    dialect: Dialect = EXCEL,
) -> str:
    """Write dicts as CSV with a header row; missing keys become empty fields."""
    records = list(records)
    if fieldnames is None:
        fieldnames = list(records[0]) if records else []
    rows = [list(fieldnames)]
    rows.extend([record.get(name) for name in fieldnames] for record in records)
    return write_rows(rows, dialect)
