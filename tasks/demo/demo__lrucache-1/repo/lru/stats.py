"""Hit/miss bookkeeping for caches."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CacheStats:
    """Counters updated by :class:`lru.cache.LRUCache`."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0

    def record_hit(self) -> None:
        self.hits += 1

    def record_miss(self) -> None:
        self.misses += 1

    def record_eviction(self) -> None:
        self.evictions += 1

    @property
    def lookups(self) -> int:
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Fraction of lookups that were hits (0.0 before the first lookup)."""
        return self.hits / self.lookups if self.lookups else 0.0

    def reset(self) -> None:
        self.hits = self.misses = self.evictions = 0
