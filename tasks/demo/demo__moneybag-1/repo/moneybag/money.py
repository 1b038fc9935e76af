"""The :class:`Money` value type."""
from __future__ import annotations

from decimal import Decimal
from functools import total_ordering
from typing import Union

from .currency import exponent, quantum

Number = Union[int, str, float, Decimal]


class CurrencyMismatch(TypeError):
    """Raised when combining amounts in different currencies."""


@total_ordering
class Money:
    """An amount of money in a single currency.

    Amounts are always stored rounded to the currency's minor unit using
    commercial rounding: halves are rounded up (away from zero), so
    ``Money("2.665")`` is ``2.67 EUR``.  Floats are converted through their
    shortest ``repr`` so that ``Money(0.1)`` is exactly ``0.10``.
    """

    __slots__ = ("amount", "currency")

    def __init__(self, amount: Number, currency: str = "EUR"):
        currency = currency.upper()
        if isinstance(amount, float):
            amount = repr(amount)
        self.amount = Decimal(amount).quantize(quantum(currency))
        self.currency = currency

    @classmethod
    def from_minor_units(cls, units: int, currency: str = "EUR") -> "Money":
        return cls(Decimal(units).scaleb(-exponent(currency.upper())), currency)

    @property
    def minor_units(self) -> int:
        """The amount in cents (or the currency's minor unit)."""
        return int(self.amount.scaleb(exponent(self.currency)))

    def _check(self, other: "Money") -> None:
        if not isinstance(other, Money):
            raise TypeError(f"expected Money, got {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} != {other.currency}")

    def __add__(self, other: "Money") -> "Money":
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: Number) -> "Money":
        if isinstance(factor, Money):
            raise TypeError("cannot multiply Money by Money")
        if isinstance(factor, float):
            factor = repr(factor)
        return Money(self.amount * Decimal(factor), self.currency)

    __rmul__ = __mul__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return (self.amount, self.currency) == (other.amount, other.currency)

    def __lt__(self, other: "Money") -> bool:
        self._check(other)
        return self.amount < other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __bool__(self) -> bool:
        return bool(self.amount)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"
