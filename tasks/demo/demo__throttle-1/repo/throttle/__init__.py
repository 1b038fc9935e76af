"""Token-bucket rate limiting with an injectable clock."""
from .bucket import TokenBucket
from .clock import Clock, FakeClock, MonotonicClock
from .limiter import RateLimiter, parse_rate

__all__ = ["Clock", "FakeClock", "MonotonicClock", "RateLimiter", "TokenBucket", "parse_rate"]
