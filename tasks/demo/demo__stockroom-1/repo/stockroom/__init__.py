"""Stock keeping and order handling for a small web shop."""
from .models import Order, OrderLine, OrderStatus, Product
from .orders import InvalidOrderState, OrderService
from .stock import InsufficientStock, Stock, UnknownSku

__all__ = [
    "InsufficientStock",
    "InvalidOrderState",
    "Order",
    "OrderLine",
    "OrderService",
    "OrderStatus",
    "Product",
    "Stock",
    "UnknownSku",
]
