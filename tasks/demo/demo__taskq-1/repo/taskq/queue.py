"""A max-priority queue on top of :mod:`heapq`."""
from __future__ import annotations

import heapq
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class PriorityQueue(Generic[T]):
    """Pops the item with the highest priority first.

    Items with equal priority come out in insertion (FIFO) order.  Items
    themselves never need to be comparable.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[Any, ...]] = []

    def push(self, item: T, priority: int = 0) -> None:
        heapq.heappush(self._heap, (-priority, item))

    def pop(self) -> T:
        if not self._heap:
            raise IndexError("pop from an empty PriorityQueue")
        return heapq.heappop(self._heap)[-1]

    def peek(self) -> T:
        if not self._heap:
            raise IndexError("peek at an empty PriorityQueue")
        return self._heap[0][-1]

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)
