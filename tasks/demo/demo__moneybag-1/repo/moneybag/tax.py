"""Value-added-tax helpers."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .currency import quantum
from .money import Money, Number


@dataclass(frozen=True)
class TaxBreakdown:
    net: Money
    tax: Money
    gross: Money


def _rate(rate_percent: Number) -> Decimal:
    rate = Decimal(repr(rate_percent) if isinstance(rate_percent, float) else rate_percent)
    if rate < 0:
        raise ValueError("tax rate cannot be negative")
    return rate


def _round_tax(amount: Decimal, currency: str) -> Decimal:
    """Round a tax amount to the minor unit (commercial rounding, like Money)."""
    return amount.quantize(quantum(currency))


def add_tax(net: Money, rate_percent: Number) -> TaxBreakdown:
    """Compute tax on a net amount: ``add_tax(Money("100"), 19).gross == Money("119")``."""
    tax = Money(_round_tax(net.amount * _rate(rate_percent) / 100, net.currency), net.currency)
    return TaxBreakdown(net, tax, net + tax)


def remove_tax(gross: Money, rate_percent: Number) -> TaxBreakdown:
    """Split a tax-inclusive amount into net and tax (the tax absorbs rounding)."""
    rate = _rate(rate_percent)
    net = Money(gross.amount * 100 / (100 + rate), gross.currency)
    return TaxBreakdown(net, gross - net, gross)
