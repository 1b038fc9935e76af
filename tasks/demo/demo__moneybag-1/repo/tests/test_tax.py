import pytest

from moneybag import Money, add_tax, allocate, remove_tax


def test_add_tax():
    result = add_tax(Money("100.00"), 19)
    assert result.tax == Money("19.00")
    assert result.gross == Money("119.00")


def test_remove_tax():
    result = remove_tax(Money("119.00"), 19)
    assert result.net == Money("100.00")
    assert result.tax == Money("19.00")


def test_negative_rate_rejected():
    with pytest.raises(ValueError):
        add_tax(Money("1"), -5)


def test_allocate_even_split():
    assert allocate(Money("100"), [1, 1, 1]) == [Money("33.34"), Money("33.33"), Money("33.33")]


def test_allocate_weighted_split_keeps_total():
    parts = allocate(Money("0.05"), [3, 7])
    assert parts == [Money("0.02"), Money("0.03")]
    assert sum(parts[1:], parts[0]) == Money("0.05")


def test_allocate_validation():
    with pytest.raises(ValueError):
        allocate(Money("1"), [0, 0])
