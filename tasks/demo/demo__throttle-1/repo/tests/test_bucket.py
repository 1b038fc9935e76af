import pytest

from throttle import FakeClock, TokenBucket


def test_starts_full_and_refuses_when_empty():
    bucket = TokenBucket(3, 1, FakeClock())
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_refills_over_time():
    clock = FakeClock()
    bucket = TokenBucket(5, 2, clock)
    for _ in range(5):
        bucket.try_acquire()
    clock.advance(1.0)
    assert bucket.try_acquire()
    assert bucket.try_acquire()
    assert not bucket.try_acquire()


def test_wait_time():
    clock = FakeClock()
    bucket = TokenBucket(2, 0.5, clock)
    bucket.try_acquire(2)
    assert bucket.wait_time() == pytest.approx(2.0)
    clock.advance(1.0)
    assert bucket.wait_time() == pytest.approx(1.0)
    clock.advance(1.0)
    assert bucket.wait_time() == 0.0


def test_cannot_request_more_than_capacity():
    bucket = TokenBucket(2, 1, FakeClock())
    with pytest.raises(ValueError):
        bucket.try_acquire(3)


def test_fake_clock_only_moves_forward():
    with pytest.raises(ValueError):
        FakeClock().advance(-1)
