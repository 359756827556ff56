"""Wall-clock seam: rate-limit windows read time only through a `Clock`, so tests can move it by hand.

The protocol is the same shape as ``iac.runtime``'s clocks (``time()`` in epoch seconds), so a
test can hand one virtual clock to both a connector and the simulator it talks to.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the Unix epoch."""
        ...


class SystemClock:
    """The real time."""

    def time(self) -> float:
        return time.time()


class ManualClock:
    """A clock that only moves when told to; safe to advance from a test thread while a server reads it."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
