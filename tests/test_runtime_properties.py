"""Property-based tests of pacing (hypothesis) on virtual time: random response sequences against the pacer and
the HTTP client.

Invariants, for every generated case:

* **Cap.** No wait is longer than ``max_reset_wait`` (plus the 429 jitter of at most 0.25 s).
* **Expiry.** Whatever the pacer was told, once nothing is in flight and the cap has passed, a request goes out.
* **Progress.** While the vendor answers (a finite number of faults), every request completes.
* **Budget.** With honest headers (``Date`` present, no bogus reset), no vendor window sees more of our requests
  than ``share`` of its limit less the others' usage (at least the one probe per window).
* **Time.** With honest headers, the whole run takes at most the floor (the windows the budget needs) with
  each window stretched to the cap, plus one cap per injected fault, plus one window.

Derandomized and bounded (``max_examples``), so the file runs in a few seconds and the same in CI.
"""

from __future__ import annotations

import email.utils
import math
import random
from dataclasses import dataclass, field

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iac.runtime import HttpClient, Pacer, RateLimitInfo, RetryPolicy, VirtualClock
from iac.runtime.testing import SkewedClock, json_response

CAP = RetryPolicy().max_reset_wait
JITTER = 0.25
WINDOW = 60.0
SHARE = 0.5

PROPERTIES = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.too_slow])

# -- the pacer alone --------------------------------------------------------------------------------------

reset_values = st.one_of(st.floats(-4000, 4000, allow_nan=False), st.just(9_999_999_999.0), st.none())
operations = st.lists(st.one_of(
    st.tuples(st.just("reserve")),
    st.tuples(st.just("answer"), st.integers(0, 100), reset_values, st.booleans()),
    st.tuples(st.just("fail")),
    st.tuples(st.just("sleep"), st.floats(0, 200, allow_nan=False)),
    st.tuples(st.just("block"), st.floats(0, 1e7, allow_nan=False)),
), max_size=60)


@PROPERTIES
@given(ops=operations, limit=st.integers(1, 100))
def test_the_pacer_never_asks_for_a_wait_past_the_cap_and_every_estimate_expires(
        ops: list[tuple[object, ...]], limit: int) -> None:
    clock = VirtualClock()
    pacer = Pacer(share=SHARE, clock=clock)
    sent: list[float] = []
    for op in ops:
        if op[0] == "reserve":
            wait = pacer.reserve("b")
            assert 0.0 <= wait <= CAP
            if wait == 0.0:
                sent.append(clock.monotonic())
        elif op[0] in ("answer", "fail") and sent:
            sent_at = sent.pop(0)
            if op[0] == "answer":
                _, remaining, reset_in, _late = op
                pacer.release("b", RateLimitInfo(limit, min(int(remaining), limit), reset_in),  # type: ignore[arg-type]
                              sent=True, sent_at=sent_at)
            else:
                pacer.release("b", None, sent=False, sent_at=sent_at)
        elif op[0] == "sleep":
            clock.sleep(float(op[1]))  # type: ignore[arg-type]
        elif op[0] == "block":
            assert pacer.block("b", float(op[1])) <= CAP  # type: ignore[arg-type]
    for sent_at in sent:  # everything in flight fails: nobody ever tells the pacer about the new window
        pacer.release("b", None, sent=False, sent_at=sent_at)
    clock.sleep(CAP + 1.0)
    assert pacer.reserve("b") == 0.0


# -- the HTTP client against a vendor that misbehaves -------------------------------------------------------

FAULTS = ("429", "503", "connect", "stall", "late", "bogus_reset")


@dataclass
class Vendor:
    """A fixed-window vendor on ``clock`` that plays ``faults`` (one per request, in order) before behaving."""

    clock: VirtualClock
    limit: int
    others: int
    faults: list[str]
    send_date: bool
    windows: list[list[float]] = field(default_factory=list)  # our requests counted per vendor window
    window_start: float | None = None
    used: int = 0
    served: int = 0
    previous: dict[str, str] = field(default_factory=dict)

    def headers(self, now: float) -> dict[str, str]:
        assert self.window_start is not None
        out = {"x-rate-limit-limit": str(self.limit), "x-rate-limit-remaining": str(max(0, self.limit - self.used)),
               "x-rate-limit-reset": str(math.ceil(self.window_start + WINDOW))}
        if self.send_date:
            out["date"] = email.utils.formatdate(now, usegmt=True)
        return out

    def handle(self, request: httpx.Request) -> httpx.Response:
        fault = self.faults.pop(0) if self.faults else None
        if fault == "connect":
            raise httpx.ConnectError("refused", request=request)
        now = self.clock.time()
        if self.window_start is None or now >= self.window_start + WINDOW:
            self.previous = self.headers(now) if self.window_start is not None else {}
            self.window_start, self.used = now, self.others
            self.windows.append([])
        if fault == "429" or self.used >= self.limit:
            return json_response({"errorCode": "E0000047"}, 429, self.headers(now))
        self.used += 1
        self.windows[-1].append(now)
        headers = self.headers(now)
        if fault == "late" and self.previous:
            headers = {**self.previous, **({"date": headers["date"]} if self.send_date else {})}
        if fault == "bogus_reset":
            headers["x-rate-limit-reset"] = "9999999999"
        if fault == "stall":
            self.clock.sleep(20.0)  # the answer is held back
        if fault == "503":
            return json_response({"errorCode": "E0000009"}, 503, headers)
        self.served += 1
        return json_response([{"id": 1}], 200, headers)


@PROPERTIES
@given(limit=st.integers(2, 40), others_fraction=st.floats(0.0, 0.5), requests=st.integers(1, 40),
       faults=st.lists(st.sampled_from(FAULTS), max_size=8), send_date=st.booleans(),
       skew=st.sampled_from([0.0, 75.0, -75.0, 3600.0, -3600.0]))
def test_the_client_stays_capped_makes_progress_and_keeps_the_budget(
        limit: int, others_fraction: float, requests: int, faults: list[str], send_date: bool, skew: float) -> None:
    vendor_clock = VirtualClock()
    others = int(limit * (1 - SHARE) * others_fraction / 0.5)  # at most the other half of the bucket
    vendor = Vendor(vendor_clock, limit, others, list(faults), send_date)
    http = HttpClient("https://vendor.example", transport=httpx.MockTransport(vendor.handle),
                      clock=SkewedClock(vendor_clock, skew), share=SHARE, rng=random.Random(3),
                      retry=RetryPolicy(max_attempts=10, max_rate_limited=40))
    for _ in range(requests):
        http.request("GET", "/items")  # progress: never raises while the faults are finite

    assert vendor.served == requests
    assert max(vendor_clock.slept, default=0.0) <= CAP + JITTER + 20.0 * ("stall" in faults)
    assert max((s for s in vendor_clock.slept if s != 20.0), default=0.0) <= CAP + JITTER

    honest = (send_date or skew == 0.0) and "bogus_reset" not in faults and "late" not in faults
    if not honest:
        return
    budget = max(1, math.floor(limit * SHARE) - others)
    assert max(len(w) for w in vendor.windows) <= budget + faults.count("503") + faults.count("stall")
    windows_needed = math.ceil(requests / budget)
    bound = windows_needed * (CAP + 1) + len(faults) * (CAP + 1) + WINDOW
    assert vendor_clock.monotonic() <= bound, (vendor_clock.monotonic(), bound)
