"""``@lru_cached`` - memoize a function with an :class:`LRUCache`."""
from __future__ import annotations

import functools
from typing import Callable

from .cache import LRUCache

_SENTINEL = object()


def _make_key(args: tuple, kwargs: dict) -> tuple:
    if not kwargs:
        return args
    return args + (_SENTINEL,) + tuple(sorted(kwargs.items()))


def lru_cached(maxsize: int = 128) -> Callable:
    """Decorator caching up to ``maxsize`` results keyed by the call arguments.

    The wrapper exposes ``.cache`` (the underlying :class:`LRUCache`) and
    ``.cache_clear()``.
    """

    def decorate(func: Callable) -> Callable:
        cache = LRUCache(maxsize)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            key = _make_key(args, kwargs)
            result = cache.get(key, _SENTINEL)
            if result is _SENTINEL:
                result = func(*args, **kwargs)
                cache.put(key, result)
            return result

        wrapper.cache = cache
        wrapper.cache_clear = cache.clear
        return wrapper

    return decorate
