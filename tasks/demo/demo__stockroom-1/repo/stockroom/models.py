"""Plain data objects."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int

    def __post_init__(self):
        if self.quantity <= 0:
            raise ValueError(f"quantity must be positive, got {self.quantity}")


class OrderStatus(enum.Enum):
    NEW = "new"
    PLACED = "placed"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


@dataclass
class Order:
    order_id: str
    lines: list[OrderLine] = field(default_factory=list)
    status: OrderStatus = OrderStatus.NEW

    def add(self, sku: str, quantity: int) -> "Order":
        self.lines.append(OrderLine(sku, quantity))
        return self
