"""An inclusive range of calendar days."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterator, Optional

from .months import add_months, month_end, month_start

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DateRange:
    """All days from ``start`` to ``end``, both inclusive."""

    start: date
    end: date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")

    def __len__(self) -> int:
        return (self.end - self.start).days + 1

    def __iter__(self) -> Iterator[date]:
        day = self.start
        while day <= self.end:
            yield day
            day += ONE_DAY

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def overlaps(self, other: "DateRange") -> bool:
        return self.start <= other.end and other.start <= self.end

    def intersection(self, other: "DateRange") -> Optional["DateRange"]:
        if not self.overlaps(other):
            return None
        return DateRange(max(self.start, other.start), min(self.end, other.end))

    def split_by_month(self) -> list["DateRange"]:
        """Cut the range at month boundaries."""
        pieces = []
        cursor = self.start
        while cursor <= self.end:
            piece_end = min(month_end(cursor), self.end)
            pieces.append(DateRange(cursor, piece_end))
            cursor = piece_end + ONE_DAY
        return pieces

    @classmethod
    def for_month(cls, year: int, month: int) -> "DateRange":
        first = date(year, month, 1)
        return cls(first, month_end(first))

    def shift_months(self, months: int) -> "DateRange":
        """Move both ends by ``months`` calendar months."""
        return DateRange(add_months(self.start, months), add_months(self.end, months))
