"""Per-key rate limiting, e.g. one bucket per client IP."""
from __future__ import annotations

import re
from typing import Dict, Hashable

from .bucket import TokenBucket
from .clock import Clock, MonotonicClock

_UNITS = {"second": 1, "sec": 1, "s": 1, "minute": 60, "min": 60, "m": 60, "hour": 3600, "h": 3600}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*([a-z]+)\s*$")


def parse_rate(text: str) -> tuple[int, float]:
    """Parse ``"10/minute"`` into ``(10, 10/60)``: burst size and tokens per second."""
    match = _RATE_RE.match(text.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"invalid rate: {text!r}")
    count = int(match.group(1))
    if count == 0:
        raise ValueError("rate must allow at least one request")
    return count, count / _UNITS[match.group(2)]


class RateLimiter:
    """Keeps an independent :class:`TokenBucket` for every key."""

    def __init__(self, rate: str, clock: Clock | None = None):
        self.capacity, self.refill_rate = parse_rate(rate)
        self._clock = clock or MonotonicClock()
        self._buckets: Dict[Hashable, TokenBucket] = {}

    def _bucket(self, key: Hashable) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = TokenBucket(self.capacity, self.refill_rate, self._clock)
            self._buckets[key] = bucket
        return bucket

    def allow(self, key: Hashable) -> bool:
        """Record a request for ``key`` and return whether it is within the limit."""
        return self._bucket(key).try_acquire()

    def retry_after(self, key: Hashable) -> float:
        """Seconds a refused client should wait before retrying."""
        return self._bucket(key).wait_time()
