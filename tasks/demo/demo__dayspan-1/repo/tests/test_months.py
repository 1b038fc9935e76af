from datetime import date

from dayspan import add_months, month_end, month_start, monthly


def test_month_start_and_end():
    assert month_start(date(2024, 2, 17)) == date(2024, 2, 1)
    assert month_end(date(2024, 2, 17)) == date(2024, 2, 29)
    assert month_end(date(2023, 2, 1)) == date(2023, 2, 28)
    assert month_end(date(2023, 12, 5)) == date(2023, 12, 31)


def test_add_months_simple():
    assert add_months(date(2024, 1, 15), 1) == date(2024, 2, 15)
    assert add_months(date(2024, 1, 15), 0) == date(2024, 1, 15)


def test_add_months_across_years():
    assert add_months(date(2023, 11, 10), 3) == date(2024, 2, 10)
    assert add_months(date(2024, 2, 10), -3) == date(2023, 11, 10)
    assert add_months(date(2024, 5, 1), -17) == date(2022, 12, 1)


def test_monthly_series():
    assert list(monthly(date(2024, 1, 5), 3)) == [
        date(2024, 1, 5),
        date(2024, 2, 5),
        date(2024, 3, 5),
    ]
