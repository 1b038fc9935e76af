"""A thread-safe least-recently-used cache and a memoizing decorator."""
from .cache import LRUCache
from .decorator import lru_cached
from .stats import CacheStats

__all__ = ["CacheStats", "LRUCache", "lru_cached"]
