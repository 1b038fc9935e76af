"""CSV dialect description."""
from __future__ import annotations

from dataclasses import dataclass


class CsvError(ValueError):
    """Malformed CSV input or inconsistent records."""


@dataclass(frozen=True)
class Dialect:
    """Formatting parameters shared by the reader and the writer."""

    delimiter: str = ","
    quotechar: str = '"'
    lineterminator: str = "\n"

    def __post_init__(self):
        if len(self.delimiter) != 1 or len(self.quotechar) != 1:
            raise ValueError("delimiter and quotechar must be single characters")
        if self.delimiter == self.quotechar:
            raise ValueError("delimiter and quotechar must differ")


EXCEL = Dialect()
TSV = Dialect(delimiter="\t")
