"""Exact money arithmetic on top of :mod:`decimal`."""
from .allocate import allocate
from .currency import EXPONENTS, UnknownCurrency, quantum
from .money import CurrencyMismatch, Money
from .tax import TaxBreakdown, add_tax, remove_tax

__all__ = [
    "EXPONENTS",
    "CurrencyMismatch",
    "Money",
    "TaxBreakdown",
    "UnknownCurrency",
    "add_tax",
    "allocate",
    "quantum",
    "remove_tax",
]
