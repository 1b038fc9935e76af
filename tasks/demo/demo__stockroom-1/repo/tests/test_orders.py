from decimal import Decimal

import pytest

from stockroom import (
    InsufficientStock,
    InvalidOrderState,
    Order,
    OrderService,
    OrderStatus,
    Product,
    Stock,
)

CATALOG = {
    "MUG-1": Product("MUG-1", "Mug", Decimal("8.50")),
    "TEE-M": Product("TEE-M", "T-shirt (M)", Decimal("19.90")),
}


@pytest.fixture
def service():
    stock = Stock()
    stock.receive("MUG-1", 5)
    stock.receive("TEE-M", 2)
    return OrderService(stock, CATALOG)


class TestPlaceOrder:
    def test_place_reserves_stock(self, service):
        order = Order("o1").add("MUG-1", 2).add("TEE-M", 1)
        service.place(order)
        assert order.status is OrderStatus.PLACED
        assert service.stock.reserved("MUG-1") == 2
        assert service.stock.available("TEE-M") == 1

    def test_place_is_all_or_nothing(self, service):
        order = Order("o2").add("MUG-1", 2).add("TEE-M", 3)
        with pytest.raises(InsufficientStock):
            service.place(order)
        assert order.status is OrderStatus.NEW
        assert service.stock.reserved("MUG-1") == 0

    def test_cannot_place_twice(self, service):
        order = Order("o3").add("MUG-1", 1)
        service.place(order)
        with pytest.raises(InvalidOrderState):
            service.place(order)

    def test_empty_order(self, service):
        with pytest.raises(ValueError):
            service.place(Order("o4"))


class TestLifecycle:
    def test_cancel_releases_stock(self, service):
        order = Order("o5").add("MUG-1", 4)
        service.place(order)
        service.cancel(order)
        assert order.status is OrderStatus.CANCELLED
        assert service.stock.available("MUG-1") == 5

    def test_ship_removes_stock(self, service):
        order = Order("o6").add("TEE-M", 2)
        service.place(order)
        service.ship(order)
        assert service.stock.on_hand("TEE-M") == 0
        with pytest.raises(InvalidOrderState):
            service.cancel(order)


def test_total(service):
    order = Order("o7").add("MUG-1", 3).add("TEE-M", 1)
    assert service.total(order) == Decimal("45.40")
