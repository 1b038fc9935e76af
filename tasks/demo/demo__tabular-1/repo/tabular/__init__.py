"""A small, dependency-free CSV reader and writer."""
from .dialect import EXCEL, TSV, CsvError, Dialect
from .reader import read_rows
from .records import read_records, write_records
from .writer import format_field, format_row, write_rows

__all__ = [
    "EXCEL",
    "TSV",
    "CsvError",
    "Dialect",
    "format_field",
    "format_row",
    "read_records",
    "read_rows",
    "write_records",
    "write_rows",
]
