"""Inclusive date ranges, month arithmetic and human-friendly formatting."""
from .fmt import format_range
from .months import add_months, month_end, month_start, monthly
from .ranges import DateRange

__all__ = ["DateRange", "add_months", "format_range", "month_end", "month_start", "monthly"]
