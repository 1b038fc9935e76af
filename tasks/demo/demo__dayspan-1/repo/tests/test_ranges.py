from datetime import date

import pytest

from dayspan import DateRange, format_range


def test_length_iteration_and_membership():
    r = DateRange(date(2024, 2, 27), date(2024, 3, 2))
    assert len(r) == 5
    assert list(r)[-1] == date(2024, 3, 2)
    assert date(2024, 2, 29) in r
    assert date(2024, 3, 3) not in r


def test_end_before_start_is_rejected():
    with pytest.raises(ValueError):
        DateRange(date(2024, 1, 2), date(2024, 1, 1))


def test_overlap_and_intersection():
    a = DateRange(date(2024, 1, 1), date(2024, 1, 10))
    b = DateRange(date(2024, 1, 10), date(2024, 1, 20))
    c = DateRange(date(2024, 2, 1), date(2024, 2, 2))
    assert a.intersection(b) == DateRange(date(2024, 1, 10), date(2024, 1, 10))
    assert a.intersection(c) is None


def test_split_by_month():
    r = DateRange(date(2023, 12, 30), date(2024, 2, 2))
    assert [(p.start.isoformat(), p.end.isoformat()) for p in r.split_by_month()] == [
        ("2023-12-30", "2023-12-31"),
        ("2024-01-01", "2024-01-31"),
        ("2024-02-01", "2024-02-02"),
    ]


def test_for_month_and_shift():
    r = DateRange.for_month(2024, 4)
    assert r == DateRange(date(2024, 4, 1), date(2024, 4, 30))
    assert r.shift_months(2) == DateRange(date(2024, 6, 1), date(2024, 6, 30))


def test_format_range():
    assert format_range(DateRange(date(2024, 3, 3), date(2024, 3, 7))) == "3-7 Mar 2024"
    assert format_range(DateRange(date(2024, 2, 28), date(2024, 3, 3))) == "28 Feb - 3 Mar 2024"
    assert (
        format_range(DateRange(date(2023, 12, 30), date(2024, 1, 2)))
        == "30 Dec 2023 - 2 Jan 2024"
    )
    assert format_range(DateRange(date(2024, 5, 1), date(2024, 5, 1))) == "1 May 2024"
