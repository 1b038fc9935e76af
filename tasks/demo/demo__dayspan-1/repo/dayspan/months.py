"""Calendar-month arithmetic on :class:`datetime.date` objects."""
from __future__ import annotations

import calendar
from datetime import date
from typing import Iterator


def month_start(day: date) -> date:
    """First day of the month containing ``day``."""
    return day.replace(day=1)


def month_end(day: date) -> date:
    """Last day of the month containing ``day``."""
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def add_months(day: date, months: int) -> date:
    """Shift ``day`` by a (possibly negative) number of calendar months.

    When the target month is shorter, the result is clamped to its last day,
    e.g. ``add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)``.
    """
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    return day.replace(year=year, month=month0 + 1)


def monthly(start: date, count: int) -> Iterator[date]:
    """Yield ``count`` dates one month apart, always anchored on ``start``.

    Anchoring on ``start`` (rather than on the previous result) means a
    series starting on the 31st returns to the 31st whenever possible.
    """
    for i in range(count):
        yield add_months(start, i)
