"""Order workflow: place -> ship, or place -> cancel."""
from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from .models import Order, OrderStatus, Product
from .stock import InsufficientStock, Stock


class InvalidOrderState(Exception):
    """The requested transition is not allowed for the order's current status."""


class OrderService:
    def __init__(self, stock: Stock, catalog: Mapping[str, Product]):
        self.stock = stock
        self.catalog = catalog

    def total(self, order: Order) -> Decimal:
        """Sum of price x quantity over all lines."""
        return sum(
            (self.catalog[line.sku].price * line.quantity for line in order.lines),
            Decimal("0"),
        )

    def place(self, order: Order) -> None:
        """Reserve stock for every line of a new order.

        Placing is all-or-nothing: if any SKU is short, :class:`InsufficientStock`
        is raised and no stock is reserved for the order.
        """
        if order.status is not OrderStatus.NEW:
            raise InvalidOrderState(f"cannot place a {order.status.value} order")
        if not order.lines:
            raise ValueError("cannot place an empty order")
        for line in order.lines:
            available = self.stock.available(line.sku)
            if line.quantity > available:
                raise InsufficientStock(line.sku, line.quantity, available)
        for line in order.lines:
            self.stock.reserve(line.sku, line.quantity)
        order.status = OrderStatus.PLACED

    def cancel(self, order: Order) -> None:
        if order.status is not OrderStatus.PLACED:
            raise InvalidOrderState(f"cannot cancel a {order.status.value} order")
        for line in order.lines:
            self.stock.release(line.sku, line.quantity)
        order.status = OrderStatus.CANCELLED

    def ship(self, order: Order) -> None:
        if order.status is not OrderStatus.PLACED:
            raise InvalidOrderState(f"cannot ship a {order.status.value} order")
        for line in order.lines:
            self.stock.ship(line.sku, line.quantity)
        order.status = OrderStatus.SHIPPED
