"""Clocks.  Production code uses :class:`MonotonicClock`; tests use :class:`FakeClock`."""
from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current time in seconds; only differences are meaningful."""


class MonotonicClock:
    """Wall-clock independent time source backed by :func:`time.monotonic`."""

    def now(self) -> float:
        return time.monotonic()


class FakeClock:
    """A manually advanced clock for deterministic tests."""

    def __init__(self, start: float = 0.0):
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
