"""The runtime's HTTP layer: pacing from rate-limit headers, the rate budget, bounded retries — in virtual time."""

from __future__ import annotations

import random
import re
from collections import Counter

import httpx
import pytest

from iac.runtime import (
    BucketBusy,
    CountingObserver,
    HttpClient,
    Pacer,
    RateLimitInfo,
    RetryPolicy,
    VirtualClock,
    deferring,
    next_link,
    parse_rate_limit,
)
from iac.runtime.errors import (
    ApiError,
    AuthError,
    ConnectionFailedError,
    NotFoundError,
    RateLimitedError,
    ServerError,
)
from iac.runtime.testing import MockVendor, json_response

BASE = "https://acme.okta.example"


def vendor(clock: VirtualClock, limit: int = 100, window: float = 60.0, **kw: object) -> MockVendor:
    v = MockVendor(clock=clock, limits={"/items": limit}, window=window, **kw)  # type: ignore[arg-type]

    @v.route("GET", "/items")
    def items(request: httpx.Request, match: re.Match[str]) -> httpx.Response:
        return json_response([{"id": 1}])

    return v


def client(clock: VirtualClock, transport: httpx.BaseTransport, share: float = 0.5,
           **kw: object) -> HttpClient:
    return HttpClient(BASE, headers={"Authorization": "SSWS s3cr3t-value"}, transport=transport, clock=clock,
                      share=share, bucket_of=lambda m, p: p, rng=random.Random(1), **kw)  # type: ignore[arg-type]


def per_window(log_times: list[float], start: float, window: float) -> Counter[int]:
    return Counter(int((t - start) // window) for t in log_times)


def test_sequential_requests_use_at_most_the_share_per_window_and_never_429() -> None:
    clock = VirtualClock()
    start = clock.time()
    v = vendor(clock, limit=100)
    http = client(clock, v.transport(), share=0.5)
    for _ in range(500):
        http.request("GET", "/items")
    assert v.statuses() == {200: 500}
    windows = per_window([e.time for e in v.log], start, 60.0)
    assert max(windows.values()) == 50  # 50% of 100 per window, used in full
    # 500 requests at 50 per minute: the last batch starts in the 10th window (floor: 9 full minutes)
    assert 9 * 60 <= clock.time() - start < 10 * 60 + 1


def test_share_one_uses_the_whole_bucket() -> None:
    clock = VirtualClock()
    start = clock.time()
    v = vendor(clock, limit=20)
    http = client(clock, v.transport(), share=1.0)
    for _ in range(60):
        http.request("GET", "/items")
    assert v.statuses() == {200: 60}
    assert max(per_window([e.time for e in v.log], start, 60.0).values()) == 20


def test_other_integrations_usage_lowers_our_take_and_keeps_remaining_above_the_rest() -> None:
    clock = VirtualClock()
    v = vendor(clock, limit=100, other_usage={"/items": 30})
    seen_remaining: list[int] = []
    inner = v.transport()

    def spy(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        seen_remaining.append(int(response.headers["x-rate-limit-remaining"]))
        return response

    http = client(clock, httpx.MockTransport(spy), share=0.5)
    for _ in range(100):
        http.request("GET", "/items")
    assert min(seen_remaining) >= 50  # never dips into the other half of the bucket
    assert v.statuses() == {200: 100}
    per = per_window([e.time for e in v.log], v.log[0].time, 60.0)
    assert max(per.values()) == 20  # 100 - 30 others - 50 reserved


def test_429_blocks_the_bucket_until_the_reset_and_retries() -> None:
    clock = VirtualClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return json_response({"errorCode": "E0000047", "errorSummary": "rate limited"}, 429, {
                "x-rate-limit-limit": "10", "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(clock.time()) + 7)})
        return json_response({"ok": True}, 200, {"x-rate-limit-limit": "10", "x-rate-limit-remaining": "9",
                                                 "x-rate-limit-reset": str(int(clock.time()) + 60)})

    observer = CountingObserver()
    http = client(clock, httpx.MockTransport(handler), observer=observer)
    t0 = clock.time()
    data, _ = http.get_json("/items")
    assert data == {"ok": True}
    assert calls == 2
    assert 7.0 <= clock.time() - t0 <= 7.5  # reset + safety + small jitter
    assert observer.retries == {"rate_limited": 1}
    assert observer.by_status == {429: 1, 200: 1}


def test_retry_after_wins_over_backoff() -> None:
    clock = VirtualClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            return json_response({"errors": [{"code": "rate_limited", "message": "slow"}]}, 429,
                                 {"retry-after": "3"})
        return json_response([], 200)

    http = client(clock, httpx.MockTransport(handler))
    t0 = clock.time()
    http.request("GET", "/x")
    assert 3.0 <= clock.time() - t0 <= 3.3


def test_rate_limit_retries_are_bounded() -> None:
    clock = VirtualClock()

    def handler(request: httpx.Request) -> httpx.Response:
        return json_response({"errorCode": "E0000047", "errorSummary": "API call exceeded rate limit"}, 429,
                             {"retry-after": "1"})

    http = client(clock, httpx.MockTransport(handler), retry=RetryPolicy(max_rate_limited=4))
    with pytest.raises(RateLimitedError) as info:
        http.request("GET", "/x")
    assert info.value.code == "E0000047" and info.value.status == 429 and info.value.retry_after == 1.0


def test_server_errors_back_off_exponentially_with_jitter_then_give_up() -> None:
    clock = VirtualClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return json_response({"errorCode": "E0000009", "errorSummary": "Internal Server Error"}, 503)

    observer = CountingObserver()
    http = client(clock, httpx.MockTransport(handler), observer=observer,
                  retry=RetryPolicy(max_attempts=5, backoff_base=1.0, backoff_cap=4.0))
    with pytest.raises(ServerError) as info:
        http.request("GET", "/x")
    assert calls == 5
    assert info.value.code == "E0000009"
    sleeps = [s for s in clock.slept if s > 0]
    assert len(sleeps) == 4
    for attempt, slept in enumerate(sleeps, start=1):
        ceiling = min(4.0, 1.0 * 2 ** (attempt - 1))
        assert ceiling / 2 <= slept <= ceiling
    assert observer.retries == {"server_error": 4}


def test_connection_errors_are_retried_then_succeed() -> None:
    clock = VirtualClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return json_response([1, 2], 200)

    http = client(clock, httpx.MockTransport(handler))
    data, _ = http.get_json("/x")
    assert data == [1, 2] and calls == 3


def test_connection_errors_exhaust_into_connection_failed() -> None:
    clock = VirtualClock()

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    http = client(clock, httpx.MockTransport(handler), retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ConnectionFailedError, match="ReadTimeout after 3 attempt"):
        http.request("GET", "/x")


def test_a_cut_short_json_body_is_retried() -> None:
    clock = VirtualClock()
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        body = b'[{"id": 1}, {"i' if calls == 1 else b'[{"id": 1}]'
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    observer = CountingObserver()
    http = client(clock, httpx.MockTransport(handler), observer=observer)
    data, _ = http.get_json("/x")
    assert data == [{"id": 1}] and observer.retries == {"malformed_body": 1}


def test_client_errors_map_to_the_error_tree_with_vendor_code_and_no_secret() -> None:
    clock = VirtualClock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/missing":
            return json_response({"errorCode": "E0000007", "errorSummary": "Not found: Resource not found"}, 404)
        return json_response({"errorCode": "E0000011", "errorSummary": "Invalid token provided"}, 401)

    http = client(clock, httpx.MockTransport(handler))
    with pytest.raises(NotFoundError) as nf:
        http.request("GET", "/missing")
    assert nf.value.code == "E0000007" and "GET /missing" in str(nf.value)
    with pytest.raises(AuthError) as auth:
        http.request("GET", "/api/v1/users", params={"limit": 1})
    assert "s3cr3t" not in str(auth.value) and auth.value.status == 401
    assert isinstance(auth.value, ApiError)


def test_foreign_origin_links_are_rebased_so_credentials_stay_with_the_base_url() -> None:
    clock = VirtualClock()
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        assert request.headers["authorization"] == "SSWS tok"
        return json_response([], 200)

    http = HttpClient("http://127.0.0.1:9999/prefix", headers={"Authorization": "SSWS tok"},
                      transport=httpx.MockTransport(handler), clock=clock)
    http.request("GET", "https://real-org.okta.com/api/v1/users?after=abc&limit=200")
    http.request("GET", "http://127.0.0.1:9999/prefix/api/v1/groups?after=x")
    assert str(seen[0]) == "http://127.0.0.1:9999/prefix/api/v1/users?after=abc&limit=200"
    assert str(seen[1]) == "http://127.0.0.1:9999/prefix/api/v1/groups?after=x"


def test_deferring_raises_bucket_busy_before_sending() -> None:
    clock = VirtualClock()
    v = vendor(clock, limit=4)
    http = client(clock, v.transport(), share=0.5)
    http.request("GET", "/items")
    http.request("GET", "/items")  # 2 of 4 used: the budget (50%) is spent
    with deferring(), pytest.raises(BucketBusy) as busy:
        http.request("GET", "/items")
    assert len(v.log) == 2  # nothing was sent
    assert busy.value.ready_at > clock.monotonic() + 50  # monotonic seconds
    http.request("GET", "/items")  # outside `deferring` the same call waits for the reset
    assert len(v.log) == 3 and v.statuses() == {200: 3}


def test_pacer_probes_an_unknown_bucket_with_one_request() -> None:
    clock = VirtualClock()
    pacer = Pacer(share=0.5, clock=clock)
    assert pacer.reserve("b") == 0.0
    assert pacer.reserve("b") > 0  # a second request waits for the probe's answer
    pacer.release("b", RateLimitInfo(limit=10, remaining=9, reset_in=60), sent=True)
    assert [pacer.reserve("b") for _ in range(4)] == [0.0] * 4  # remaining 9 → 5: floor is 5
    assert pacer.reserve("b") > 59


def test_unpaced_buckets_run_freely() -> None:
    clock = VirtualClock()
    pacer = Pacer(share=0.5, clock=clock)
    assert pacer.reserve("b") == 0.0
    pacer.release("b", RateLimitInfo(), sent=True)
    assert all(pacer.reserve("b") == 0.0 for _ in range(100))


def test_pacer_rejects_a_share_outside_0_1() -> None:
    with pytest.raises(ValueError):
        Pacer(share=0.0)
    with pytest.raises(ValueError):
        Pacer(share=1.5)


def test_parse_rate_limit_and_next_link() -> None:
    info = parse_rate_limit(httpx.Headers({"X-Rate-Limit-Limit": "600", "X-Rate-Limit-Remaining": "12",
                                           "X-Rate-Limit-Reset": "1700000060", "Retry-After": "2"}), 1700000000.5)
    assert info == RateLimitInfo(600, 12, 59.5, 2)
    dated = parse_rate_limit({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 1445412470.0)
    assert dated.retry_after == pytest.approx(10.0)
    response = httpx.Response(200, headers=[
        ("link", '<https://x/api/v1/users?limit=200>; rel="self"'),
        ("link", '<https://x/api/v1/users?after=00u1&limit=200>; rel="next"')])
    assert next_link(response) == "https://x/api/v1/users?after=00u1&limit=200"
    assert next_link(httpx.Response(200)) is None


def test_a_429_with_an_early_reset_does_not_stall_until_the_window_ends() -> None:
    """Someone else drained the bucket briefly (reset in 1 s): we wait ~1 s, not the rest of our window."""
    clock = VirtualClock()
    window_reset = clock.time() + 60
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 3:
            return json_response({"errorCode": "E0000047"}, 429, {
                "x-rate-limit-limit": "100", "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(clock.time()) + 1)})
        return json_response([], 200, {"x-rate-limit-limit": "100", "x-rate-limit-remaining": str(100 - calls),
                                       "x-rate-limit-reset": str(window_reset)})

    http = client(clock, httpx.MockTransport(handler))
    t0 = clock.time()
    for _ in range(5):
        http.request("GET", "/x")
    assert calls == 6 and clock.time() - t0 < 2.0
