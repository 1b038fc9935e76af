"""The cache itself."""
from __future__ import annotations

from collections import OrderedDict
from threading import RLock
from typing import Any, Hashable, Iterator

from .stats import CacheStats

_MISSING = object()


class LRUCache:
    """A bounded mapping that evicts the least recently used entry.

    Both :meth:`get` and :meth:`put` count as a "use" of a key.  When a
    :meth:`put` pushes the size above ``capacity`` the entry that was used
    longest ago is discarded.
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.stats = CacheStats()
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = RLock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        """Return the cached value and mark ``key`` as most recently used."""
        with self._lock:
            value = self._data.get(key, _MISSING)
            if value is _MISSING:
                self.stats.record_miss()
                return default
            self._data.move_to_end(key)
            self.stats.record_hit()
            return value

    def peek(self, key: Hashable, default: Any = None) -> Any:
        """Return the cached value without touching recency or statistics."""
        with self._lock:
            return self._data.get(key, default)

    def put(self, key: Hashable, value: Any) -> None:
        """Insert or replace ``key``, evicting the least recently used entry if full."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
            self._data[key] = value
            if len(self._data) > self.capacity:
                self._data.popitem()
                self.stats.record_eviction()

    def pop(self, key: Hashable, default: Any = _MISSING) -> Any:
        with self._lock:
            if default is _MISSING:
                return self._data.pop(key)
            return self._data.pop(key, default)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def keys(self) -> list:
        """Keys from least to most recently used."""
        with self._lock:
            return list(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator:
        return iter(self.keys())
