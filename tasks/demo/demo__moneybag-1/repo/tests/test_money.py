from decimal import Decimal

import pytest

from moneybag import CurrencyMismatch, Money, UnknownCurrency


def test_amounts_are_quantized_to_minor_unit():
    assert str(Money("12.5")) == "12.50 EUR"
    assert str(Money(1500, "jpy")) == "1500 JPY"
    assert Money("1.2346", "KWD").amount == Decimal("1.235")


def test_floats_do_not_leak_binary_noise():
    assert Money(0.1) + Money(0.2) == Money("0.30")


def test_arithmetic():
    assert Money("10.00") * Decimal("1.5") == Money("15.00")
    assert 3 * Money("0.10") == Money("0.30")
    assert Money("5") - Money("7.25") == Money("-2.25")
    assert -Money("1") == Money("-1")


def test_minor_units_round_trip():
    m = Money("123.45")
    assert m.minor_units == 12345
    assert Money.from_minor_units(12345) == m


def test_currency_mismatch():
    with pytest.raises(CurrencyMismatch):
        Money("1", "EUR") + Money("1", "USD")


def test_unknown_currency():
    with pytest.raises(UnknownCurrency):
        Money("1", "XXX")


def test_ordering():
    assert Money("1.99") < Money("2.00")
    assert max(Money("3"), Money("2.5")) == Money("3")
