"""The token bucket algorithm."""
from __future__ import annotations

from .clock import Clock, MonotonicClock


class TokenBucket:
    """A bucket holding at most ``capacity`` tokens, refilled at ``rate`` tokens/second.

    The bucket starts full.  Each request takes one or more tokens; requests
    are refused while not enough tokens are available.  Because the bucket can
    never hold more than ``capacity`` tokens, bursts are bounded by
    ``capacity`` no matter how long the bucket was idle.
    """

    def __init__(self, capacity: float, rate: float, clock: Clock | None = None):
        if capacity <= 0 or rate <= 0:
            raise ValueError("capacity and rate must be positive")
        self.capacity = float(capacity)
        self.rate = float(rate)
        self._clock = clock or MonotonicClock()
        self._tokens = self.capacity
        self._last = self._clock.now()

    def _refill(self) -> None:
        now = self._clock.now()
        elapsed = now - self._last
        if elapsed > 0:
            self._tokens = self._tokens + elapsed * self.rate
            self._last = now

    @property
    def tokens(self) -> float:
        """Tokens currently available (after refilling)."""
        self._refill()
        return self._tokens

    def try_acquire(self, n: float = 1) -> bool:
        """Take ``n`` tokens if available; return whether the request is allowed."""
        if n > self.capacity:
            raise ValueError(f"cannot acquire {n} tokens from a bucket of {self.capacity}")
        self._refill()
        if self._tokens >= n:
            self._tokens -= n
            return True
        return False

    def wait_time(self, n: float = 1) -> float:
        """Seconds until ``n`` tokens will be available (0.0 if they already are)."""
        if n > self.capacity:
            raise ValueError(f"cannot acquire {n} tokens from a bucket of {self.capacity}")
        self._refill()
        missing = n - self._tokens
        return max(missing, 0.0) / self.rate
