"""What a response says about its rate-limit bucket, read once, when it arrives.

Vendors announce the reset as an epoch time on *their* clock (``X-Rate-Limit-Reset``) and ``Retry-After``
as seconds or an HTTP date. The pacer works on the monotonic clock, so both are turned into "seconds
from now" here, against the right clock:

* Normally against our wall clock (sub-second precision).
* When the response's ``Date`` differs from our clock by more than :data:`DATE_RESOLUTION` *and* agrees
  with the reset (the reset lies within ``DATE_HORIZON`` after it), the vendor's clock is ``Date``: a
  host clock minutes or hours off still reads the reset right. A ``Date`` that disagrees with the reset
  (a simulator on a virtual clock behind a real web server) is ignored.

Nothing here caps or trusts the result: :class:`~iac.runtime.Pacer` caps every wait.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

__all__ = ["DATE_HORIZON", "DATE_RESOLUTION", "RateLimitInfo", "next_link", "parse_rate_limit"]

DATE_RESOLUTION = 2.0
"""``Date`` has whole seconds; a difference below this is not a skewed clock."""
DATE_HORIZON = 3600.0
"""A reset further than this after ``Date`` does not belong to that clock."""


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What one response said about its bucket, in seconds from its arrival.

    ``reset_in`` is when the bucket's window resets (zero or negative: the window was already over when
    the answer arrived); ``retry_after`` is the server's ``Retry-After``.
    """

    limit: float | None = None
    remaining: float | None = None
    reset_in: float | None = None
    retry_after: float | None = None

    @property
    def paced(self) -> bool:
        return self.limit is not None and self.remaining is not None


def _num(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.strip())
    except ValueError:
        return None


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def _vendor_clock(date: float | None, now: float, *, agrees_with: float | None) -> float:
    """The vendor's "now": ``Date`` when our clock is off by more than its resolution and ``Date`` is
    consistent with the epoch value it is used for; else our own ``now``."""
    if date is None or abs(date - now) <= DATE_RESOLUTION:
        return now
    if agrees_with is not None and not date - DATE_RESOLUTION <= agrees_with <= date + DATE_HORIZON:
        return now
    return date


def parse_rate_limit(headers: httpx.Headers | Mapping[str, str], now: float) -> RateLimitInfo:
    """Read ``X-Rate-Limit-*``, ``Retry-After`` (seconds or an HTTP date) and ``Date``; ``now`` is our wall clock."""
    get = headers.get
    date = _http_date(get("date"))
    reset = _num(get("x-rate-limit-reset"))
    reset_in = None if reset is None else reset - _vendor_clock(date, now, agrees_with=reset)
    raw = get("retry-after")
    retry_after = _num(raw)
    if retry_after is None:
        when = _http_date(raw)
        if when is not None:
            retry_after = when - _vendor_clock(date, now, agrees_with=when)
    if retry_after is not None:
        retry_after = max(0.0, retry_after)
    return RateLimitInfo(limit=_num(get("x-rate-limit-limit")), remaining=_num(get("x-rate-limit-remaining")),
                         reset_in=reset_in, retry_after=retry_after)


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header (several header lines are fine)."""
    link = response.links.get("next")
    url = link.get("url") if link else None
    return url or None
