"""Per-bucket admission control on the monotonic clock: who may send now, and how long the others wait.

A *bucket* is a vendor's rate-limit class (Okta's ``/api/v1/users``) on one host. For each, the pacer
keeps an estimate of the current window — the count left and when it ends — and these rules:

* **Probe.** A bucket never heard of, or whose window has ended, lets one request through and holds the
  rest (``probe_poll``) until that answer tells the new window's count and reset. Answers to requests
  sent before the window began (late answers from the old window) are ignored: they describe a
  window that is over.
* **Budget.** While the window is known, requests go out only while the count left, net of our own
  requests in flight, stays at or above ``limit * (1 - share)``; the rest of the bucket belongs to the
  org's other integrations. Then the bucket waits for the window's end.
* **Caps and expiry.** A reset turns into a monotonic deadline when its answer arrives, never more than
  ``max_wait`` ahead; a reset beyond that (a clock far off, a bogus header) is treated as ``max_wait`` and
  logged once per bucket. A reset that had already passed on arrival (a skewed clock without ``Date``)
  keeps the count for ``stale_hint`` seconds only. Every estimate therefore ends within ``max_wait``,
  and a bucket whose window ended with nothing in flight always lets a probe through.
* **429.** :meth:`Pacer.block` holds a bucket until a deadline, capped the same way.

:class:`LimitedPacer` adds documented limits for vendors that announce none in headers.
The pacer never sleeps; :class:`~iac.runtime.HttpClient` does, on the same clock.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from iac.runtime._clock import Clock, SystemClock
from iac.runtime._http.headers import RateLimitInfo
from iac.runtime._http.retry import DEFAULT_MAX_WAIT

__all__ = ["BucketBusy", "BucketLimit", "BucketView", "LimitedPacer", "Pacer"]

log = logging.getLogger("iac.runtime._http")

_SAME_WINDOW = 1.0
"""Two resets closer than this (Date's resolution) are the same window."""
_NO_RESET_WINDOW = 60.0
"""A paced answer without a reset header: assume a minute (the usual window), capped like any other."""


class BucketBusy(Exception):
    """The request's bucket is not ready until ``ready_at`` (the clock's *monotonic* seconds). Nothing was sent."""

    def __init__(self, bucket: str, ready_at: float) -> None:
        super().__init__(f"bucket {bucket} busy until {ready_at:.3f}")
        self.bucket = bucket
        self.ready_at = ready_at


@dataclass(slots=True)
class BucketView:
    """A read-only copy of one bucket's state (for metrics and tests); times are monotonic."""

    key: str
    paced: bool | None
    limit: float | None
    remaining: float | None
    window_end: float | None
    inflight: int
    blocked_until: float


@dataclass(slots=True)
class _Bucket:
    paced: bool | None = None  # None: nothing heard yet; False: the vendor sends no limits
    limit: float | None = None
    remaining: float | None = None  # the current window's count net of ours in flight; None: unknown (probe)
    window_end: float | None = None
    window_start: float = -math.inf  # answers to requests sent before this are from an older window
    probing: bool = False
    inflight: int = 0
    blocked_until: float = -math.inf
    warned: bool = False


class Pacer:
    """Per-bucket admission control. Thread-safe; never sleeps itself."""

    def __init__(self, *, share: float = 0.5, clock: Clock | None = None, safety: float = 0.1,
                 probe_poll: float = 0.02, max_wait: float = DEFAULT_MAX_WAIT, stale_hint: float = 1.0) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError("share must be in (0, 1]")
        if max_wait <= 0:
            raise ValueError("max_wait must be positive")
        self.share = share
        self.clock = clock or SystemClock()
        self.safety = safety
        self.probe_poll = probe_poll
        self.max_wait = max_wait
        self.stale_hint = stale_hint
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, key: str) -> float:
        """Take a slot and return 0.0, or return how long to wait (at most ``max_wait`` seconds) before asking again."""
        now = self.clock.monotonic()
        with self._lock:
            b = self._buckets.setdefault(key, _Bucket())
            if b.blocked_until > now:
                return min(max(b.blocked_until - now, 1e-3), self.max_wait)
            if b.paced is False:
                b.inflight += 1
                return 0.0
            if b.window_end is not None and now >= b.window_end + self.safety:
                b.remaining = b.window_end = None  # the window is over: its estimate with it
                b.window_start = now
                b.probing = False
            if b.remaining is None or b.limit is None:
                if b.probing:
                    return self.probe_poll
                b.probing = True
                b.inflight += 1
                return 0.0
            if b.remaining - 1.0 >= b.limit * (1.0 - self.share) - 1e-9:
                b.remaining -= 1.0
                b.inflight += 1
                return 0.0
            assert b.window_end is not None  # a known count always comes with a deadline
            return min(max(b.window_end + self.safety - now, 1e-3), self.max_wait)

    def release(self, key: str, info: RateLimitInfo | None, *, sent: bool, sent_at: float | None = None) -> None:
        """Return a slot. ``info`` is what the response said (``None``: nothing came back); ``sent_at`` is the
        monotonic time the request went out (``None``: treat it as sent in the current window)."""
        now = self.clock.monotonic()
        with self._lock:
            b = self._buckets.setdefault(key, _Bucket())
            b.inflight = max(0, b.inflight - 1)
            current = sent_at is None or sent_at >= b.window_start
            if current:
                b.probing = False  # while probing, the probe is the window's only request
            if info is None or not info.paced:
                if sent and info is not None and b.paced is None:
                    b.paced = False
                return
            assert info.limit is not None and info.remaining is not None
            b.paced = True
            b.limit = info.limit
            if not current:
                return  # a late answer from a window we already left
            estimate = max(0.0, info.remaining - b.inflight)  # ours still in flight may not be counted yet
            if info.reset_in is None:
                ends = now + min(_NO_RESET_WINDOW, self.max_wait)
            elif info.reset_in <= 0:
                ends = now + self.stale_hint  # the vendor's window was over when it answered: a short-lived hint
            else:
                ends = now + self._capped(key, b, info.reset_in)
            if b.remaining is None or b.window_end is None or ends > b.window_end + _SAME_WINDOW:
                b.remaining = estimate  # the first answer of a window, or the vendor moved to a new one
                b.window_end = ends
            elif ends >= b.window_end - _SAME_WINDOW:
                b.remaining = min(b.remaining, estimate)

    def _capped(self, key: str, b: _Bucket, seconds: float) -> float:
        if seconds <= self.max_wait:
            return seconds
        if not b.warned:
            b.warned = True
            log.warning("%s: the rate-limit reset is %.0fs away, beyond the %.0fs cap (a clock far off or a bogus "
                        "header); waiting at most %.0fs per window", key, seconds, self.max_wait, self.max_wait)
        return self.max_wait

    def block(self, key: str, seconds: float) -> float:
        """Hold the bucket for ``seconds`` from now (after a 429), capped at ``max_wait``; returns the hold."""
        hold = min(max(0.0, seconds), self.max_wait)
        until = self.clock.monotonic() + hold
        with self._lock:
            b = self._buckets.setdefault(key, _Bucket())
            b.blocked_until = max(b.blocked_until, until)
        return hold

    def view(self) -> list[BucketView]:
        with self._lock:
            return [BucketView(k, b.paced, b.limit, b.remaining, b.window_end, b.inflight, b.blocked_until)
                    for k, b in sorted(self._buckets.items())]


@dataclass(frozen=True, slots=True)
class BucketLimit:
    """A documented limit no header announces: ``burst`` requests at once, refilled at ``per_second``."""

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
    """A :class:`Pacer` that also keeps each listed bucket within ``share`` of its documented limit.

    Coupa ("25 requests per second and a burst of 20") and Celigo (a leaky bucket of 1,000 refilling at
    300/s) send no ``X-Rate-Limit-*`` headers, so headers alone would only learn of the limit from 429s.
    Each listed bucket gets a client-side token bucket sized at ``share`` of the documented limit; 429s
    are still honoured. Limits are listed by bucket name and apply to every key (``"<host>:<port>
    <bucket>"``) of that name, each with a bucket of its own.
    """

    def __init__(self, limits: Mapping[str, BucketLimit], *, share: float = 0.5, clock: Clock | None = None,
                 safety: float = 0.1, probe_poll: float = 0.02, max_wait: float = DEFAULT_MAX_WAIT) -> None:
        super().__init__(share=share, clock=clock, safety=safety, probe_poll=probe_poll, max_wait=max_wait)
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
            now = self.clock.monotonic()
            tokens = self._token_buckets.get(key)
            if tokens is None:
                tokens = self._token_buckets[key] = _Tokens(allowed[0], allowed[1], allowed[0], now)
            tokens.level = min(tokens.capacity, tokens.level + max(0.0, now - tokens.at) * tokens.rate)
            tokens.at = now
            if tokens.level < 1.0:
                return min(max((1.0 - tokens.level) / tokens.rate, 1e-3), self.max_wait)
            wait = super().reserve(key)  # 429 blocks and the first-request probe still apply
            if wait == 0.0:
                tokens.level -= 1.0
            return wait
