"""On-hand and reserved quantities per SKU."""
from __future__ import annotations

from collections import defaultdict


class UnknownSku(KeyError):
    """The SKU has never been received into stock."""


class InsufficientStock(Exception):
    """Not enough unreserved units are available."""

    def __init__(self, sku: str, requested: int, available: int):
        super().__init__(f"{sku}: requested {requested}, only {available} available")
        self.sku = sku
        self.requested = requested
        self.available = available


class Stock:
    """Tracks physical units (``on_hand``) and units promised to orders (``reserved``)."""

    def __init__(self):
        self._on_hand: dict[str, int] = {}
        self._reserved: dict[str, int] = defaultdict(int)

    def _require(self, sku: str) -> None:
        if sku not in self._on_hand:
            raise UnknownSku(sku)

    def receive(self, sku: str, quantity: int) -> None:
        """Add delivered units."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        self._on_hand[sku] = self._on_hand.get(sku, 0) + quantity

    def on_hand(self, sku: str) -> int:
        self._require(sku)
        return self._on_hand[sku]

    def reserved(self, sku: str) -> int:
        self._require(sku)
        return self._reserved[sku]

    def available(self, sku: str) -> int:
        """Units that can still be promised to new orders."""
        return self.on_hand(sku) - self.reserved(sku)

    def reserve(self, sku: str, quantity: int) -> None:
        available = self.available(sku)
        if quantity > available:
            raise InsufficientStock(sku, quantity, available)
        self._reserved[sku] += quantity

    def release(self, sku: str, quantity: int) -> None:
        """Undo a reservation (e.g. when an order is cancelled)."""
        self._require(sku)
        if quantity > self._reserved[sku]:
            raise ValueError(f"{sku}: cannot release more than is reserved")
        self._reserved[sku] -= quantity

    def ship(self, sku: str, quantity: int) -> None:
        """Reserved units leave the warehouse."""
        self.release(sku, quantity)
        self._on_hand[sku] -= quantity
