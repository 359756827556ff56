"""Pacing never stalls (issue #13): the reported stalls reproduced on a virtual clock, caps, expiry, deadlines.

Each stall test drives the HTTP client as a connector would. On the wall-clock pacer these tests hung (a 0.1 s
wait forever) or waited 3,660 s; ``Watchdog`` turns a hang into a failure after ``horizon`` virtual seconds.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import threading

import httpx
import pytest

from iac.runtime import HttpClient, Pacer, RateLimitInfo, RetryPolicy, VirtualClock, parse_rate_limit
from iac.runtime._clock import pause, stop_scope
from iac.runtime.errors import ConnectionFailedError, SyncInterruptedError
from iac.runtime.testing import MockVendor, SkewedClock, json_response

BASE = "https://acme.okta.example"
CAP = RetryPolicy().max_reset_wait


class Stalled(AssertionError):
    pass


class Watchdog(VirtualClock):
    """A virtual clock that fails the test once ``horizon`` seconds have passed (a stall, not a slow test)."""

    def __init__(self, horizon: float = 3_000.0) -> None:
        super().__init__()
        self.horizon = horizon

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        if self.monotonic() > self.horizon:
            raise Stalled(f"no progress after {self.monotonic():.0f} virtual seconds; last waits {self.slept[-3:]}")


def items_vendor(clock: VirtualClock, limit: int = 20, **kw: object) -> MockVendor:
    v = MockVendor(clock=clock, limits={"/items": limit}, **kw)  # type: ignore[arg-type]

    @v.route("GET", "/items")
    def items(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return json_response([{"id": 1}])

    return v


def client(clock: object, transport: httpx.BaseTransport, **kw: object) -> HttpClient:
    return HttpClient(BASE, transport=transport, clock=clock, share=0.5, bucket_of=lambda m, p: p,  # type: ignore[arg-type]
                      rng=random.Random(7), **kw)  # type: ignore[arg-type]


def headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset))}


def test_a_late_answer_from_the_old_window_then_a_connection_error_does_not_stall() -> None:
    """The window rolls over; the next answer still carries the old window (reset passed, nothing left), then
    the only request in flight fails to connect. The wall-clock pacer kept `remaining=0` with no reset and
    answered 0.1 s forever."""
    clock = Watchdog()
    t0 = clock.time()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return json_response([], 200, headers(10, 5, t0 + 60))  # the budget (half of 10) is spent
        if calls == 2:
            return json_response([], 200, headers(10, 0, t0 + 60))  # late: the old window, already reset
        if calls == 3:
            raise httpx.ConnectError("connection refused", request=request)
        return json_response([], 200, headers(10, 9, clock.time() + 60))

    http = client(clock, httpx.MockTransport(handler))
    for _ in range(4):
        http.request("GET", "/x")
    assert calls == 5
    assert clock.monotonic() < 70 and max(clock.slept) <= CAP


@pytest.mark.parametrize("send_date", [True, False])
def test_a_local_clock_a_minute_ahead_of_the_vendors_does_not_stall(send_date: bool) -> None:
    """Every reset looks already past. With ``Date`` the vendor's clock is known and the budget holds exactly;
    without it the client still makes progress (the vendor's 429s pace it) and never waits past the cap."""
    vendor_clock = Watchdog()
    vendor = items_vendor(vendor_clock, limit=20, send_date=send_date)
    http = client(SkewedClock(vendor_clock, +75.0), vendor.transport(),
                  retry=RetryPolicy(max_rate_limited=50))
    for _ in range(60):
        http.request("GET", "/items")
    assert sum(1 for e in vendor.log if e.status == 200) == 60
    assert max(vendor_clock.slept) <= CAP + 0.25
    if send_date:
        assert vendor.statuses() == {200: 60}  # the budget (10 a window) is kept: no 429
        assert vendor_clock.monotonic() < 6 * 60 + 5  # 60 requests at 10 a minute: the floor is 5 windows


@pytest.mark.parametrize("send_date", [True, False])
def test_a_local_clock_an_hour_behind_waits_at_most_the_cap(send_date: bool,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """The reset looks 3,660 s away. With ``Date`` it is read right; without it, every wait is capped and the
    implausible reset is logged once."""
    vendor_clock = Watchdog()
    vendor = items_vendor(vendor_clock, limit=20, send_date=send_date)
    http = client(SkewedClock(vendor_clock, -3600.0), vendor.transport())
    with caplog.at_level(logging.WARNING, logger="iac.runtime._http"):
        for _ in range(40):
            http.request("GET", "/items")
    assert vendor.statuses() == {200: 40}
    assert max(vendor_clock.slept) <= CAP
    capped = [r for r in caplog.records if "beyond the" in r.getMessage()]
    if send_date:
        assert not capped and vendor_clock.monotonic() < 4 * 60 + 5
    else:
        assert len(capped) == 1
        assert vendor_clock.monotonic() < 4 * (CAP + 1)


def test_a_bogus_reset_far_in_the_future_is_the_cap_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = Watchdog()
    remaining = iter(range(9, -1000, -1))

    def handler(request: httpx.Request) -> httpx.Response:
        return json_response([], 200, {"x-rate-limit-limit": "10", "x-rate-limit-remaining": str(max(0, next(remaining))),
                                       "x-rate-limit-reset": "9999999999"})

    http = client(clock, httpx.MockTransport(handler))
    with caplog.at_level(logging.WARNING, logger="iac.runtime._http"):
        for _ in range(12):
            http.request("GET", "/x")
    assert max(clock.slept) <= CAP + 0.2
    assert sum("beyond the" in r.getMessage() for r in caplog.records) == 1


def test_a_window_that_ended_with_nothing_in_flight_lets_a_probe_through() -> None:
    """Every estimate expires: once the window is over, one request goes out even if no answer ever told us
    the new window (all of the old window's requests failed)."""
    clock = VirtualClock()
    pacer = Pacer(share=0.5, clock=clock)
    assert pacer.reserve("b") == 0.0
    pacer.release("b", RateLimitInfo(10, 5, 30.0), sent=True, sent_at=0.0)
    wait = pacer.reserve("b")
    assert 30 <= wait <= 30.2
    clock.sleep(wait)
    assert pacer.reserve("b") == 0.0  # the probe of the new window
    assert pacer.reserve("b") == pacer.probe_poll  # the rest wait for its answer...
    pacer.release("b", None, sent=False, sent_at=clock.monotonic())  # ...which never comes
    assert pacer.reserve("b") == 0.0  # so another probe goes out


def test_answers_sent_before_the_rollover_are_ignored() -> None:
    clock = VirtualClock()
    pacer = Pacer(share=0.5, clock=clock)
    pacer.reserve("b")
    pacer.release("b", RateLimitInfo(10, 9, 10.0), sent=True, sent_at=0.0)
    assert pacer.reserve("b") == 0.0
    old_sent = clock.monotonic()
    clock.sleep(11)
    assert pacer.reserve("b") == 0.0  # rollover: the probe
    pacer.release("b", RateLimitInfo(10, 0, -1.0), sent=True, sent_at=old_sent)  # a straggler from before
    pacer.release("b", RateLimitInfo(10, 9, 60.0), sent=True, sent_at=clock.monotonic())  # the probe's answer
    assert [pacer.reserve("b") for _ in range(3)] == [0.0] * 3


def test_every_wait_is_capped_even_a_429_with_a_huge_retry_after() -> None:
    clock = Watchdog()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            return json_response({"errorCode": "E0000047"}, 429, {"retry-after": "86400"})
        return json_response([], 200)

    client(clock, httpx.MockTransport(handler)).request("GET", "/x")
    assert calls == 3 and max(clock.slept) <= CAP + 0.25


def test_a_request_gives_up_at_its_deadline() -> None:
    clock = Watchdog(horizon=10_000)

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    http = client(clock, httpx.MockTransport(handler),
                  retry=RetryPolicy(max_attempts=1000, backoff_cap=30.0, deadline=120.0))
    with pytest.raises(ConnectionFailedError, match="gave up after 120s"):
        http.request("GET", "/x")
    assert clock.monotonic() <= 120


def test_parse_rate_limit_reads_the_reset_on_the_vendors_clock_when_date_says_ours_is_off() -> None:
    vendor_now = 1_767_225_600.0
    date = email.utils.formatdate(vendor_now, usegmt=True)
    reset = str(int(vendor_now) + 30)
    ahead = parse_rate_limit({"date": date, "x-rate-limit-reset": reset}, vendor_now + 90)
    assert ahead.reset_in == pytest.approx(30)
    behind = parse_rate_limit({"date": date, "x-rate-limit-reset": reset}, vendor_now - 3600)
    assert behind.reset_in == pytest.approx(30)
    same = parse_rate_limit({"date": date, "x-rate-limit-reset": reset}, vendor_now + 0.6)
    assert same.reset_in == pytest.approx(29.4)  # within Date's resolution: our precise clock
    # a Date that disagrees with the reset (a simulator on a virtual clock behind a real server) is ignored
    virtual = parse_rate_limit({"date": date, "x-rate-limit-reset": "1700000030"}, 1_700_000_000.0)
    assert virtual.reset_in == pytest.approx(30)
    retry = parse_rate_limit({"date": date, "retry-after": email.utils.formatdate(vendor_now + 12, usegmt=True)},
                             vendor_now + 500)
    assert retry.retry_after == pytest.approx(12)


def test_pause_ends_at_once_when_a_stop_is_asked() -> None:
    clock = VirtualClock()
    stop = threading.Event()
    with stop_scope(stop):
        pause(clock, 5.0)
        stop.set()
        with pytest.raises(SyncInterruptedError):
            pause(clock, 60.0)
    assert clock.monotonic() == 5.0
