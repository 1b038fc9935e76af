"""Compact, locale-independent rendering of date ranges."""
from __future__ import annotations

from .ranges import DateRange

_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _day_month(d) -> str:
    return f"{d.day} {_MONTHS[d.month - 1]}"


def format_range(r: DateRange) -> str:
    """Render a range as briefly as possible.

    >>> from datetime import date
    >>> format_range(DateRange(date(2024, 3, 3), date(2024, 3, 7)))
    '3-7 Mar 2024'
    """
    s, e = r.start, r.end
    if s == e:
        return f"{_day_month(s)} {s.year}"
    if s.year != e.year:
        return f"{_day_month(s)} {s.year} - {_day_month(e)} {e.year}"
    if s.month != e.month:
        return f"{_day_month(s)} - {_day_month(e)} {e.year}"
    return f"{s.day}-{e.day} {_MONTHS[s.month - 1]} {s.year}"
