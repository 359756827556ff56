"""How often and how long the HTTP client retries: every loop and every wait is bounded."""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["DEFAULT_MAX_WAIT", "RetryPolicy", "backoff"]

DEFAULT_MAX_WAIT = 65.0
"""The longest any single wait may be: a rate-limit window (a minute at the vendors here) plus margin."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds on retrying. Attempts count the first try."""

    max_attempts: int = 6
    """For 5xx, transport errors and cut-short bodies."""
    max_rate_limited: int = 8
    """For 429s."""
    max_renewals: int = 3
    """Credential renewals after 401s within one request (only the first is unconditional)."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_reset_wait: float = DEFAULT_MAX_WAIT
    """Never wait longer than this for a reset or Retry-After (a skewed clock or a bogus header cannot stall a sync)."""
    deadline: float = 600.0
    """One request, with all its pacing waits and retries, gives up after this many seconds."""
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.max_rate_limited < 1 or self.max_renewals < 1:
            raise ValueError("attempt limits must be at least 1")
        if min(self.backoff_base, self.backoff_cap, self.max_reset_wait, self.deadline) <= 0:
            raise ValueError("backoff, waits and the deadline must be positive")


def backoff(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Exponential backoff with jitter for the ``attempt``-th failure: uniform in [ceiling/2, ceiling]."""
    ceiling = min(policy.backoff_cap, policy.backoff_base * (2 ** max(0, attempt - 1)))
    return rng.uniform(ceiling / 2, ceiling)
