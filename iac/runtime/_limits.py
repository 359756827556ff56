"""Documented rate limits that a vendor does not announce in response headers.

Coupa ("25 requests per second and a burst of 20") and Celigo (a leaky bucket of 1,000 refilling at
300/s) send no ``X-Rate-Limit-*`` headers, so the header-driven :class:`~iac.runtime.Pacer` alone would
only learn about the limit from 429s. :class:`LimitedPacer` adds a client-side token bucket per listed
bucket, sized at ``share`` of the documented limit (the rest belongs to the org's other integrations,
as with header-paced vendors). 429s are still honoured by the base pacer.

The pacer sees the HTTP client's bucket keys (``"<host>:<port> <bucket>"``); a limit applies to every
key whose bucket part is listed, each key with a bucket of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

from iac.runtime._clock import Clock
from iac.runtime._http import Pacer

__all__ = ["BucketLimit", "LimitedPacer"]


@dataclass(frozen=True, slots=True)
class BucketLimit:
    """``burst`` requests at once, refilled at ``per_second``."""

    burst: float
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_second <= 0:
            raise ValueError("a bucket limit needs burst >= 1 and per_second > 0")


@dataclass(slots=True)
class _Tokens:
    capacity: float
    rate: float
    level: float
    at: float


class LimitedPacer(Pacer):
    """A :class:`~iac.runtime.Pacer` that also keeps each listed bucket within ``share`` of its limit."""

    def __init__(self, limits: Mapping[str, BucketLimit], *, share: float = 0.5, clock: Clock | None = None,
                 safety: float = 0.1, probe_poll: float = 0.02) -> None:
        super().__init__(share=share, clock=clock, safety=safety, probe_poll=probe_poll)
        self.limits = dict(limits)
        self._token_buckets: dict[str, _Tokens] = {}
        self._tokens_lock = threading.Lock()

    def effective(self, bucket: str) -> tuple[float, float] | None:
        """(burst, per second) this pacer allows for ``bucket``, or None when it is not limited here."""
        limit = self.limits.get(bucket)
        if limit is None:
            return None
        return max(1.0, limit.burst * self.share), limit.per_second * self.share

    def reserve(self, key: str) -> float:
        bucket = key.split(" ", 1)[-1]
        allowed = self.effective(bucket)
        if allowed is None:
            return super().reserve(key)
        with self._tokens_lock:
            now = self.clock.time()
            tokens = self._token_buckets.get(key)
            if tokens is None:
                tokens = self._token_buckets[key] = _Tokens(allowed[0], allowed[1], allowed[0], now)
            tokens.level = min(tokens.capacity, tokens.level + max(0.0, now - tokens.at) * tokens.rate)
            tokens.at = now
            if tokens.level < 1.0:
                return max((1.0 - tokens.level) / tokens.rate, 1e-3)
            wait = super().reserve(key)  # 429 blocks and the first-request probe still apply
            if wait == 0.0:
                tokens.level -= 1.0
            return wait
