"""Rate-limit buckets read through an injectable clock.

Two shapes cover the vendors: `FixedWindowLimiter` (Okta: N requests per family per minute,
reset at the window's end) and `TokenBucketLimiter` (Celigo's leaky bucket, Coupa's burst +
per-second rate). Both report a `BucketState`, from which a vendor renders its own headers.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from iac.sim._clock import Clock

__all__ = ["BucketState", "FixedWindowLimiter", "Limiter", "TokenBucketLimiter"]


@dataclass(frozen=True)
class BucketState:
    """What a response can report about its bucket."""

    family: str
    limit: int
    remaining: int
    reset_epoch: int      # whole seconds: when the window ends / the bucket is full again
    allowed: bool
    retry_after: float = 0.0  # seconds until a request would be allowed (0 when allowed)


class Limiter(Protocol):
    def take(self, family: str) -> BucketState:
        """Spend one request from ``family``'s bucket if it has room."""
        ...

    def peek(self, family: str) -> BucketState:
        """The bucket as it stands, without spending."""
        ...

    def time(self) -> float: ...

    def reset(self) -> None:
        """Forget all spending (a fresh run)."""
        ...

    @property
    def families(self) -> dict[str, int]:
        """Effective limit per family."""
        ...


def _scaled(limit: float, scale: float) -> int:
    if scale <= 0:
        raise ValueError("rate scale must be positive")
    return max(1, math.floor(limit * scale))


class _Window:
    __slots__ = ("started", "used")

    def __init__(self, started: float) -> None:
        self.started = started
        self.used = 0


class FixedWindowLimiter:
    """Counts requests per family in windows of ``window_seconds`` that start at a family's first request.

    ``scale`` multiplies every limit (at least 1 remains), so a test can exhaust a bucket in a
    handful of requests while keeping the vendor's relative limits.
    """

    def __init__(self, limits: Mapping[str, int], *, clock: Clock, scale: float = 1.0,
                 window_seconds: float = 60.0) -> None:
        self._limits = {family: _scaled(limit, scale) for family, limit in limits.items()}
        self.window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._lock = threading.Lock()

    @property
    def families(self) -> dict[str, int]:
        return dict(self._limits)

    def time(self) -> float:
        return self._clock.time()

    def _state(self, family: str, spend: bool) -> BucketState:
        limit = self._limits[family]
        with self._lock:
            now = self._clock.time()
            window = self._windows.get(family)
            if window is None or now >= window.started + self.window_seconds:
                window = self._windows[family] = _Window(now)
            allowed = window.used < limit
            if allowed and spend:
                window.used += 1
            ends = window.started + self.window_seconds
            return BucketState(family, limit, limit - window.used, math.ceil(ends), allowed,
                               0.0 if allowed else ends - now)

    def take(self, family: str) -> BucketState:
        return self._state(family, spend=True)

    def peek(self, family: str) -> BucketState:
        return self._state(family, spend=False)

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()


class TokenBucketLimiter:
    """A bucket of ``capacity`` requests per family that refills at ``refill_per_second``.

    ``scale`` multiplies capacity and refill rate alike.
    """

    def __init__(self, capacity: Mapping[str, int], refill_per_second: Mapping[str, float], *,
                 clock: Clock, scale: float = 1.0) -> None:
        self._capacity = {family: _scaled(c, scale) for family, c in capacity.items()}
        self._refill = {family: refill_per_second[family] * scale for family in capacity}
        self._clock = clock
        self._tokens: dict[str, tuple[float, float]] = {}  # family -> (tokens, at time)
        self._lock = threading.Lock()

    @property
    def families(self) -> dict[str, int]:
        return dict(self._capacity)

    def time(self) -> float:
        return self._clock.time()

    def _state(self, family: str, spend: bool) -> BucketState:
        capacity, refill = self._capacity[family], self._refill[family]
        with self._lock:
            now = self._clock.time()
            tokens, at = self._tokens.get(family, (float(capacity), now))
            tokens = min(float(capacity), tokens + (now - at) * refill)
            allowed = tokens >= 1.0
            if allowed and spend:
                tokens -= 1.0
            self._tokens[family] = (tokens, now)
            full_at = now + (capacity - tokens) / refill if refill > 0 else math.inf
            wait = 0.0 if allowed else (1.0 - tokens) / refill if refill > 0 else math.inf
            return BucketState(family, capacity, math.floor(tokens),
                               math.ceil(full_at) if math.isfinite(full_at) else 2**31 - 1, allowed, wait)

    def take(self, family: str) -> BucketState:
        return self._state(family, spend=True)

    def peek(self, family: str) -> BucketState:
        return self._state(family, spend=False)

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()
