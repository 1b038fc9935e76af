"""ISO 4217 currencies we support and their minor-unit exponents."""
from __future__ import annotations

from decimal import Decimal

EXPONENTS = {
    "CHF": 2,
    "EUR": 2,
    "GBP": 2,
    "JPY": 0,
    "KWD": 3,
    "USD": 2,
}


class UnknownCurrency(ValueError):
    """Raised for currency codes that are not in :data:`EXPONENTS`."""


def exponent(code: str) -> int:
    try:
        return EXPONENTS[code]
    except KeyError:
        raise UnknownCurrency(code) from None


def quantum(code: str) -> Decimal:
    """The smallest unit of ``code`` as a Decimal, e.g. ``Decimal('0.01')`` for EUR."""
    return Decimal(1).scaleb(-exponent(code))
