"""Waiting for an asynchronous vendor job (Concur's User Provisioning requests) without the connector
sleeping itself: connectors hand a check to :func:`poll_until`, which waits on the injected clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from iac.runtime._clock import Clock, pause
from iac.runtime.errors import RetriableApiError

__all__ = ["poll_until"]

T = TypeVar("T")


def poll_until(check: Callable[[], T | None], *, clock: Clock, what: str, timeout: float = 120.0,
               first_delay: float = 0.25, max_delay: float = 5.0) -> T:
    """Call ``check`` until it returns something other than None, waiting ``first_delay`` seconds after
    the first miss and doubling up to ``max_delay``. Raises
    :class:`~iac.runtime.errors.RetriableApiError` when ``timeout`` seconds pass first."""
    if timeout <= 0 or first_delay <= 0 or max_delay < first_delay:
        raise ValueError("need timeout > 0 and 0 < first_delay <= max_delay")
    deadline = clock.monotonic() + timeout
    delay = first_delay
    while True:
        result = check()
        if result is not None:
            return result
        left = deadline - clock.monotonic()
        if left <= 0:
            raise RetriableApiError(f"{what} did not finish within {timeout:.0f}s")
        pause(clock, min(delay, left), f"waiting for {what}")
        delay = min(max_delay, delay * 2)
