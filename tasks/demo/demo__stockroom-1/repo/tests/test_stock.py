import pytest

from stockroom import InsufficientStock, Stock, UnknownSku


def test_receive_reserve_ship():
    stock = Stock()
    stock.receive("MUG-1", 5)
    stock.reserve("MUG-1", 2)
    assert (stock.on_hand("MUG-1"), stock.reserved("MUG-1"), stock.available("MUG-1")) == (5, 2, 3)
    stock.ship("MUG-1", 2)
    assert (stock.on_hand("MUG-1"), stock.reserved("MUG-1")) == (3, 0)


def test_reserve_more_than_available():
    stock = Stock()
    stock.receive("MUG-1", 1)
    with pytest.raises(InsufficientStock) as info:
        stock.reserve("MUG-1", 2)
    assert info.value.available == 1


def test_unknown_sku():
    with pytest.raises(UnknownSku):
        Stock().available("NOPE")


def test_release_validation():
    stock = Stock()
    stock.receive("MUG-1", 3)
    stock.reserve("MUG-1", 1)
    with pytest.raises(ValueError):
        stock.release("MUG-1", 2)
