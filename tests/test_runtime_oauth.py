"""The runtime's OAuth token provider, the HTTP client's one renewal on a 401, documented-limit pacing and
polling — all in virtual time against MockTransport vendors."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from iac.runtime import (
    AccessToken,
    BucketLimit,
    CountingObserver,
    HttpClient,
    LimitedPacer,
    RetryPolicy,
    TokenProvider,
    VirtualClock,
    poll_until,
    redact,
    request_token,
)
from iac.runtime.errors import AuthError, BadRequestError, RetriableApiError
from iac.runtime.testing import json_response


class Tokens:
    """A fetch that hands out t1, t2, … with a fixed lifetime, counting calls."""

    def __init__(self, clock: VirtualClock, lifetime: float | None = 3600.0, delay: float = 0.0) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.delay = delay
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self) -> AccessToken:
        if self.delay:
            time.sleep(self.delay)  # real time: lets concurrent renewals pile up on the provider's lock
        with self.lock:
            self.calls += 1
            number = self.calls
        now = self.clock.time()
        return AccessToken(f"t{number}", now, None if self.lifetime is None else now + self.lifetime)


def test_a_token_is_reused_until_five_minutes_before_it_expires() -> None:
    clock = VirtualClock()
    fetch = Tokens(clock)
    provider = TokenProvider(fetch, clock=clock)
    assert provider.headers() == {"Authorization": "Bearer t1"}
    clock.advance(3600 - 300 - 1)
    assert provider.headers() == {"Authorization": "Bearer t1"} and fetch.calls == 1
    clock.advance(2)
    assert provider.headers() == {"Authorization": "Bearer t2"} and fetch.calls == 2


def test_short_lived_tokens_are_renewed_at_a_tenth_of_their_lifetime_and_no_expiry_means_no_renewal() -> None:
    clock = VirtualClock()
    provider = TokenProvider(Tokens(clock, lifetime=20.0), clock=clock)
    provider.current()
    clock.advance(17.9)
    assert provider.current().value == "t1"
    clock.advance(0.2)
    assert provider.current().value == "t2"
    forever = TokenProvider(Tokens(clock, lifetime=None), clock=clock)
    forever.current()
    clock.advance(10 * 86400)
    assert forever.current().value == "t1" and forever.fetches == 1


def vendor(accepted: set[str], log: list[str]) -> httpx.MockTransport:
    """An API that answers 200 to the bearer tokens in ``accepted`` and 401 to any other."""

    def handle(request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        log.append(token)
        if token in accepted:
            return json_response({"ok": True})
        return json_response({"error": "invalid_token"}, 401)

    return httpx.MockTransport(handle)


def test_a_401_renews_the_token_once_and_retries_the_request() -> None:
    clock = VirtualClock()
    fetch = Tokens(clock)
    seen: list[str] = []
    observer = CountingObserver()
    with HttpClient("https://api.example.com", transport=vendor({"t2"}, seen), clock=clock, observer=observer,
                    auth=TokenProvider(fetch, clock=clock)) as http:
        data, response = http.get_json("/things")
    assert data == {"ok": True} and response.status_code == 200
    assert seen == ["t1", "t2"] and fetch.calls == 2
    assert observer.retries == {"reauthenticated": 1}


def test_a_second_401_surfaces_as_an_auth_error_without_a_loop() -> None:
    clock = VirtualClock()
    fetch = Tokens(clock)
    seen: list[str] = []
    with HttpClient("https://api.example.com", transport=vendor(set(), seen), clock=clock,
                    auth=TokenProvider(fetch, clock=clock)) as http, pytest.raises(AuthError, match="invalid_token"):
        http.get_json("/things")
    assert seen == ["t1", "t2"] and fetch.calls == 2


def test_requests_refused_the_same_token_share_one_renewal() -> None:
    clock = VirtualClock()
    fetch = Tokens(clock, delay=0.05)
    provider = TokenProvider(fetch, clock=clock)
    refused = provider.headers()
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(provider.renew(refused))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 8
    assert fetch.calls == 2  # the first token and one renewal, not eight
    assert provider.headers() == {"Authorization": "Bearer t2"}
    assert provider.renew({}) is False  # nothing was sent: nothing to renew


def token_endpoint(answer: httpx.Response, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answer

    return httpx.MockTransport(handle)


def test_request_token_posts_a_form_with_basic_credentials_and_parses_a_string_lifetime() -> None:
    clock = VirtualClock()
    seen: list[httpx.Request] = []
    answer = json_response({"access_token": "sentinel-access-1", "expires_in": "3600", "scope": "a.read b.read",
                            "refresh_token": "sentinel-refresh-2", "geolocation": "https://us2.example.com"})
    with HttpClient("https://auth.example.com", transport=token_endpoint(answer, seen), clock=clock) as http:
        response = request_token(http, "/oauth2/token", {"grant_type": "client_credentials", "scope": "a.read"},
                                 basic=("client:id", "s3cret/+="))
    token = response.token
    assert (token.value, token.issued_at, token.expires_at) == ("sentinel-access-1", clock.time(), clock.time() + 3600)
    assert token.scopes == frozenset({"a.read", "b.read"})
    assert response.body["geolocation"] == "https://us2.example.com"
    [request] = seen
    assert request.url.query == b"" and request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"], "scope": ["a.read"]}
    user, _, password = base64.b64decode(request.headers["authorization"].removeprefix("Basic ")).decode().partition(":")
    assert (user, password) == ("client%3Aid", "s3cret%2F%2B%3D")  # RFC 6749 §2.3.1: form-encoded first
    # both tokens are now redacted from every log line, and repr() never shows them
    assert "sentinel" not in redact("got sentinel-access-1 and sentinel-refresh-2")
    assert "sentinel" not in repr(response) + repr(token)


@pytest.mark.parametrize(("status", "error", "expected"), [
    (400, "invalid_grant", AuthError), (401, "invalid_client", AuthError), (400, "invalid_scope", BadRequestError),
])
def test_token_endpoint_refusals_keep_their_code_and_never_quote_the_form(status: int, error: str,
                                                                          expected: type[Exception]) -> None:
    clock = VirtualClock()
    answer = json_response({"error": error, "error_description": "nope"}, status)
    with HttpClient("https://auth.example.com", transport=token_endpoint(answer, []), clock=clock) as http, \
            pytest.raises(expected) as info:
        request_token(http, "/oauth2/token", {"grant_type": "refresh_token", "refresh_token": "sentinel-rt-9",
                                              "client_secret": "sentinel-cs-9"})
    assert getattr(info.value, "code", None) == error
    assert "sentinel" not in str(info.value)


def test_a_token_response_without_access_token_is_an_error() -> None:
    clock = VirtualClock()
    answer = json_response({"token_type": "bearer"})
    with HttpClient("https://auth.example.com", transport=token_endpoint(answer, []), clock=clock) as http, \
            pytest.raises(Exception, match="without an access_token"):
        request_token(http, "/oauth2/token", {"grant_type": "client_credentials"})


def test_limited_pacer_keeps_each_listed_bucket_to_its_share_of_the_documented_limit() -> None:
    clock = VirtualClock()
    sent: list[tuple[float, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append((clock.time(), request.url.path))
        return json_response([])  # no rate-limit headers, like Coupa

    pacer = LimitedPacer({"api": BucketLimit(20, 25.0)}, share=0.5, clock=clock)
    assert pacer.effective("api") == (10.0, 12.5) and pacer.effective("other") is None
    bucket = {"/api/x": "api", "/free": "free"}
    with HttpClient("https://coupa.example.com", transport=httpx.MockTransport(handle), clock=clock, pacer=pacer,
                    bucket_of=lambda method, path: bucket[path]) as http:
        for _ in range(110):
            http.get_json("/api/x")
        started = clock.time()
        for _ in range(50):
            http.get_json("/free")
        assert clock.time() == started  # an unlisted bucket is not held back
    times = [t for t, path in sent if path == "/api/x"]
    took = times[-1] - times[0]
    assert 100 / 12.5 - 0.1 <= took <= 100 / 12.5 + 0.1  # a burst of 10, then 12.5/s
    for i, start in enumerate(times):  # never more than the burst plus one second's refill in any second
        assert sum(1 for t in times[i:] if t < start + 1.0) <= 10 + 12.5 + 1


def test_poll_until_waits_on_the_clock_with_growing_delays_and_gives_up() -> None:
    clock = VirtualClock()
    answers = iter([None, None, None, "done"])
    assert poll_until(lambda: next(answers), clock=clock, what="job 1") == "done"
    assert clock.slept == [0.25, 0.5, 1.0]
    clock.slept.clear()
    with pytest.raises(RetriableApiError, match="job 2 did not finish within 10s"):
        poll_until(lambda: None, clock=clock, what="job 2", timeout=10.0)
    assert sum(clock.slept) == pytest.approx(10.0) and max(clock.slept) <= 5.0


def test_credentials_from_auth_win_over_none_and_request_headers_win_over_auth() -> None:
    clock = VirtualClock()
    seen: list[dict[str, str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.headers))
        return httpx.Response(200, content=json.dumps({}).encode())

    with HttpClient("https://api.example.com", transport=httpx.MockTransport(handle), clock=clock,
                    headers={"Accept": "application/json"}, auth=TokenProvider(Tokens(clock), clock=clock)) as http:
        http.get_json("/a")
        http.get_json("/b", headers={"Authorization": "Basic override"})
    assert seen[0]["authorization"] == "Bearer t1" and seen[0]["accept"] == "application/json"
    assert seen[1]["authorization"] == "Basic override"


class ExpiringVendor:
    """An API that accepts every token not in ``expired``; a request to ``/held`` with ``held_token`` waits
    (after it was sent, before it is answered) until the test releases it, so a token can expire while a
    request's retry is in flight."""

    def __init__(self, held_token: str) -> None:
        self.expired: set[str] = set()
        self.seen: list[tuple[str, str]] = []
        self.held_token = held_token
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self.lock:
            self.seen.append((request.url.path, token))
        if request.url.path == "/held" and token == self.held_token:
            self.arrived.set()
            assert self.release.wait(10), "the test never released the held retry"
        with self.lock:
            refused = token in self.expired
        return json_response({"error": "invalid_token"}, 401) if refused else json_response({"ok": True})


def test_a_renewed_token_that_expires_before_the_retry_is_answered_is_renewed_again() -> None:
    """The token fetched for a request's retry works for another request and then expires while the retry
    is in flight: that second 401 is a second expiry, not a bad token, so the request renews again."""
    clock = VirtualClock()
    fetch = Tokens(clock)
    vendor = ExpiringVendor(held_token="t2")
    vendor.expired.add("t1")
    with HttpClient("https://api.example.com", transport=httpx.MockTransport(vendor), clock=clock,
                    auth=TokenProvider(fetch, clock=clock)) as http:
        outcome: list[object] = []
        held = threading.Thread(target=lambda: outcome.append(_outcome(lambda: http.get_json("/held"))))
        held.start()
        assert vendor.arrived.wait(10)  # t1 refused, t2 fetched, the retry with t2 is in flight
        assert http.get_json("/other")[0] == {"ok": True}  # t2 works...
        vendor.expired.add("t2")  # ...and expires before the held retry is answered
        vendor.release.set()
        held.join(10)
    assert outcome == [{"ok": True}]
    assert [token for path, token in vendor.seen if path == "/held"] == ["t1", "t2", "t3"]
    assert fetch.calls == 3


def test_a_retry_refused_a_token_another_request_already_replaced_retries_with_the_new_one() -> None:
    """The retry's token expires before it ever worked, and another request renews it meanwhile: the retry
    goes out again with that request's token; nobody fetches a fourth."""
    clock = VirtualClock()
    fetch = Tokens(clock)
    vendor = ExpiringVendor(held_token="t2")
    vendor.expired.add("t1")
    with HttpClient("https://api.example.com", transport=httpx.MockTransport(vendor), clock=clock,
                    auth=TokenProvider(fetch, clock=clock)) as http:
        outcome: list[object] = []
        held = threading.Thread(target=lambda: outcome.append(_outcome(lambda: http.get_json("/held"))))
        held.start()
        assert vendor.arrived.wait(10)
        vendor.expired.add("t2")
        assert http.get_json("/other")[0] == {"ok": True}  # refused t2, renewed to t3
        vendor.release.set()
        held.join(10)
    assert outcome == [{"ok": True}]
    assert [token for path, token in vendor.seen if path == "/held"] == ["t1", "t2", "t3"]
    assert fetch.calls == 3


def test_renewals_after_tokens_that_worked_elsewhere_are_bounded_per_request() -> None:
    """Every token works on /probe and is refused on /things: each 401 on /things follows a success with the
    same token, yet the request stops after ``max_renewals`` renewals."""
    clock = VirtualClock()
    fetch = Tokens(clock)
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/probe":
            return json_response({"ok": True})
        seen.append(request.headers["authorization"].removeprefix("Bearer "))
        assert http.get_json("/probe")[0] == {"ok": True}  # the token works elsewhere first
        return json_response({"error": "invalid_token"}, 401)

    with HttpClient("https://api.example.com", transport=httpx.MockTransport(handle), clock=clock,
                    auth=TokenProvider(fetch, clock=clock), retry=RetryPolicy(max_renewals=3)) as http, \
            pytest.raises(AuthError, match="invalid_token"):
        http.get_json("/things")
    assert seen == ["t1", "t2", "t3", "t4"] and fetch.calls == 4


def _outcome(call: Callable[[], tuple[object, httpx.Response]]) -> object:
    try:
        return call()[0]
    except Exception as exc:  # the test compares the outcome, whatever it is
        return exc
