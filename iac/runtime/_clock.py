"""Time as an injected dependency, so pacing and retries can be tested in virtual time; and waiting that a
stop request cuts short.

This is the project's one clock: the simulators (:mod:`iac.sim`) read their rate-limit windows and token
lifetimes through the same :class:`Clock`, so a test can hand one :class:`VirtualClock` to a connector
and the simulator it talks to.

* ``time()`` is wall-clock epoch seconds: only for timestamps and for reading a vendor's epoch headers
  *once*, when a response arrives (:mod:`iac.runtime._http.headers`).
* ``monotonic()`` is what every deadline and wait is measured on: a wall clock that jumps (NTP, a
  skewed host) cannot stretch or shorten a wait.
* ``sleep()`` blocks; ``wait(event, seconds)`` blocks until ``event`` is set or the time is up.

:func:`stop_scope` makes every :func:`pause` in its block (the HTTP client's pacing, backoff and retry
waits, polling) end early with :class:`~iac.runtime.errors.SyncInterruptedError` once the event is set:
the sync engine wraps each task in it, so SIGTERM stops a sync whatever it waits on.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from iac.runtime.errors import SyncInterruptedError

__all__ = ["Clock", "SystemClock", "VirtualClock", "check_stop", "pause", "stop_scope"]


@runtime_checkable
class Clock(Protocol):
    """``time()`` is wall-clock epoch seconds; ``monotonic()`` measures durations and deadlines;
    ``sleep()`` blocks the calling thread; ``wait()`` blocks until ``event`` is set (True) or the time is up."""

    def time(self) -> float: ...

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, event: threading.Event, seconds: float) -> bool: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(0.0, seconds))


class VirtualClock:
    """A clock that only moves when someone sleeps (or :meth:`advance` is called).

    ``sleep`` returns at once and moves time forward, so a test of a minute of pacing takes
    microseconds. ``slept`` records every sleep for assertions. ``wait`` returns at once when the
    event is already set, else sleeps the whole time (nothing else can set it in virtual time).
    """

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._start = start
        self._elapsed = 0.0  # kept apart from the epoch: small numbers add up exactly enough for deadlines
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._start + self._elapsed

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            if seconds > 0:
                self._elapsed += seconds

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.sleep(seconds)
        return event.is_set()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._elapsed += seconds


_stop: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("iac_stop", default=None)


@contextlib.contextmanager
def stop_scope(event: threading.Event) -> Iterator[None]:
    """Within this block, :func:`pause` and :func:`check_stop` raise SyncInterruptedError once ``event`` is set."""
    token = _stop.set(event)
    try:
        yield
    finally:
        _stop.reset(token)


def check_stop(what: str = "work") -> None:
    """Raise SyncInterruptedError when the enclosing :func:`stop_scope`'s event is set."""
    event = _stop.get()
    if event is not None and event.is_set():
        raise SyncInterruptedError(f"stopped before {what}")


def pause(clock: Clock, seconds: float, what: str = "waiting") -> None:
    """Sleep ``seconds`` on ``clock``; inside :func:`stop_scope`, wake and raise as soon as a stop is asked."""
    event = _stop.get()
    if event is None:
        clock.sleep(seconds)
    elif clock.wait(event, seconds):
        raise SyncInterruptedError(f"stopped while {what}")
