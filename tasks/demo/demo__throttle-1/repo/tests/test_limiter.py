import pytest

from throttle import FakeClock, RateLimiter, parse_rate


def test_parse_rate():
    assert parse_rate("10/minute") == (10, pytest.approx(10 / 60))
    assert parse_rate("5 / s") == (5, 5.0)
    with pytest.raises(ValueError):
        parse_rate("ten per minute")
    with pytest.raises(ValueError):
        parse_rate("0/hour")


def test_keys_are_independent():
    limiter = RateLimiter("2/minute", FakeClock())
    assert limiter.allow("alice") and limiter.allow("alice")
    assert not limiter.allow("alice")
    assert limiter.allow("bob")


def test_retry_after():
    clock = FakeClock(start=1000.0)
    limiter = RateLimiter("1/minute", clock)
    assert limiter.allow("ip")
    assert not limiter.allow("ip")
    assert limiter.retry_after("ip") == pytest.approx(60.0)
    clock.advance(60)
    assert limiter.allow("ip")
