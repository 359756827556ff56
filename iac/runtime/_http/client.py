"""The HTTP client: the one place that sends, paces, sleeps and retries.

One logical request (:meth:`HttpClient.request`) loops: ask the :class:`~iac.runtime.Pacer` for a slot
(or wait), send, read the rate-limit headers back into the pacer, and then

* 2xx (or an allowed status): return; a 2xx JSON body cut short is retried like a 5xx;
* a request that is not *replayable* (writes, by default) is never sent again once the vendor may have
  carried it out (a lost answer, a 5xx, a body cut short): that is
  :class:`~iac.runtime.errors.WriteOutcomeUnknownError`, and the caller re-reads state;
* 401 with an :class:`Authenticator`: renew the credentials and retry. The first 401 always renews; a later
  one only when the refused credentials had worked here (they expired again while the retry was in
  flight) or another request has already replaced them, up to ``max_renewals``: fresh credentials refused
  before they ever worked mean the new ones fail too;
* 429: hold the bucket until ``Retry-After`` or the reset (capped, plus jitter) and retry;
* 5xx and transport errors: back off exponentially with jitter and retry;
* anything else: raise the matching :mod:`iac.runtime.errors` class.

Every loop is bounded (:class:`~iac.runtime.RetryPolicy`): attempts, each wait (``max_reset_wait``), and
the request as a whole (``deadline``; each send's timeouts shrink to what is left of it). Every wait goes
through :func:`~iac.runtime._clock.pause`, so inside the sync engine a stop request ends it at once.

Inside :func:`deferring` (the sync engine's workers), a request whose bucket is not ready raises
:class:`~iac.runtime.BucketBusy` *before* sending instead of waiting, so the worker can serve another bucket.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from iac.runtime._clock import Clock, SystemClock, check_stop, pause
from iac.runtime._http.errors import ErrorParser, api_error, default_error_parser
from iac.runtime._http.headers import RateLimitInfo, parse_rate_limit
from iac.runtime._http.pacing import BucketBusy, Pacer
from iac.runtime._http.retry import RetryPolicy, backoff
from iac.runtime.errors import (
    ApiError,
    ConnectionFailedError,
    RateLimitedError,
    RetriableApiError,
    ServerError,
    WriteOutcomeUnknownError,
)

__all__ = [
    "Authenticator",
    "Bucketer",
    "CountingObserver",
    "HttpClient",
    "HttpObserver",
    "RequestTrail",
    "deferring",
    "tracing_requests",
]

log = logging.getLogger("iac.runtime._http")

_REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before any byte of the request left: re-sending cannot apply anything twice."""

Bucketer = Callable[[str, str], str]
"""``(method, path) -> bucket name``; the connector knows its vendor's rate-limit classes."""

_deferring: contextvars.ContextVar[bool] = contextvars.ContextVar("iac_http_deferring", default=False)


@contextlib.contextmanager
def deferring() -> Iterator[None]:
    """Within this block, a request whose bucket must wait raises :class:`BucketBusy` instead."""
    token = _deferring.set(True)
    try:
        yield
    finally:
        _deferring.reset(token)


@dataclass(slots=True)
class RequestTrail:
    """The last request made inside :func:`tracing_requests` (``"GET /api/v1/users"``), to name it in errors."""

    last: str | None = None


_trail: contextvars.ContextVar[RequestTrail | None] = contextvars.ContextVar("iac_http_trail", default=None)


@contextlib.contextmanager
def tracing_requests() -> Iterator[RequestTrail]:
    """Record the method and path (never the query) of each request made within this block."""
    trail = RequestTrail()
    token = _trail.set(trail)
    try:
        yield trail
    finally:
        _trail.reset(token)


class Authenticator(Protocol):
    """Credentials that change over time (OAuth access tokens). Must be thread-safe."""

    def headers(self) -> Mapping[str, str]:
        """The headers to send now (may fetch or renew a token first)."""
        ...

    def renew(self, rejected: Mapping[str, str]) -> bool:
        """The server answered 401 to ``rejected`` (what :meth:`headers` returned): get fresh credentials.
        False when there is nothing new to try (the 401 then surfaces as an AuthError)."""
        ...


class HttpObserver(Protocol):
    """Receives one call per response and per retry (metrics, stats). Must be cheap and thread-safe."""

    def on_response(self, bucket: str, method: str, status: int, elapsed: float) -> None: ...

    def on_retry(self, bucket: str, reason: str, delay: float) -> None: ...


class _NullObserver:
    def on_response(self, bucket: str, method: str, status: int, elapsed: float) -> None:
        return None

    def on_retry(self, bucket: str, reason: str, delay: float) -> None:
        return None


@dataclass
class CountingObserver:
    """An :class:`HttpObserver` that counts requests, statuses and retries (tests, bench, stats)."""

    requests: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    by_bucket: dict[str, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def on_response(self, bucket: str, method: str, status: int, elapsed: float) -> None:
        with self._lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            self.by_bucket[bucket] = self.by_bucket.get(bucket, 0) + 1

    def on_retry(self, bucket: str, reason: str, delay: float) -> None:
        with self._lock:
            self.retries[reason] = self.retries.get(reason, 0) + 1


@dataclass(slots=True)
class _Attempts:
    """One logical request's progress through its retry budget."""

    method: str
    path: str
    deadline: float
    replayable: bool
    failures: int = 0
    limited: int = 0
    refused: list[Mapping[str, str]] = field(default_factory=list)
    """Credentials the server answered 401 to, in order (one renewal each at most)."""
    first: bool = True
    last_problem: str = "waiting for the rate-limit budget"
    last_error: type[RetriableApiError] = RateLimitedError


class HttpClient:
    """A paced, retrying JSON client for one vendor API.

    ``headers`` (static) and ``auth`` (renewable, e.g. OAuth tokens) carry the credentials and are only
    ever sent to ``base_url``'s origin: absolute URLs (``Link`` next pages) from another origin are
    re-based onto ``base_url`` (proxies, simulators).
    """

    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None, clock: Clock | None = None,
                 share: float = 0.5, bucket_of: Bucketer | None = None, retry: RetryPolicy | None = None,
                 timeout: float = 60.0, error_parser: ErrorParser | None = None,
                 observer: HttpObserver | None = None, rng: random.Random | None = None,
                 max_connections: int = 32, pacer: Pacer | None = None,
                 auth: Authenticator | None = None) -> None:
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")
        self.auth = auth
        self.clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.pacer = pacer or Pacer(share=share, clock=self.clock, max_wait=self.retry.max_reset_wait)
        self.bucket_of: Bucketer = bucket_of or (lambda method, path: f"{method} {path}")
        self.error_parser = error_parser or default_error_parser
        self.observer: HttpObserver = observer or _NullObserver()
        self.timeout = timeout
        self._rng = rng or random.Random()
        self._worked: collections.deque[Mapping[str, str]] = collections.deque(maxlen=4)
        """The last credentials the server accepted (tells a second expiry from a bad new token)."""
        self._worked_lock = threading.Lock()
        self._client = httpx.Client(
            base_url=self.base_url, headers=dict(headers or {}), transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)), follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- url handling ---------------------------------------------------------------------------------

    def _url(self, url: str) -> httpx.URL:
        """Resolve ``url`` against the base URL; foreign origins keep only path and query."""
        if "://" not in url:
            return httpx.URL(str(self.base_url).rstrip("/") + "/" + url.lstrip("/"))
        parsed = httpx.URL(url)
        if (parsed.scheme, parsed.host, parsed.port) == (self.base_url.scheme, self.base_url.host,
                                                          self.base_url.port):
            return parsed
        split = urlsplit(url)
        rest = split.path + (f"?{split.query}" if split.query else "")
        return httpx.URL(str(self.base_url).rstrip("/") + rest)

    def _bucket_key(self, method: str, url: httpx.URL) -> str:
        base_path = self.base_url.path.rstrip("/")
        path = url.path
        if base_path and path.startswith(base_path):
            path = path[len(base_path):] or "/"
        return f"{url.host}:{url.port or ''} {self.bucket_of(method, path)}"

    # -- public calls ---------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, params: Mapping[str, str | int] | None = None,
                json: Any = None, headers: Mapping[str, str] | None = None,
                content: bytes | Iterable[bytes] | None = None,
                allow_status: frozenset[int] = frozenset(), replayable: bool | None = None) -> httpx.Response:
        """Send with pacing and retries; return a 2xx response (or one whose status is in ``allow_status``).

        Raises a :class:`~iac.runtime.errors.ApiError` subclass for anything else. A streamed ``content``
        must be re-iterable (each retry iterates it again). ``replayable``: whether sending the request a
        second time is harmless (default: only GET, HEAD and OPTIONS). A request that is not is never
        re-sent once the vendor may have carried it out (its answer was lost, a 5xx, a body cut short):
        that raises :class:`~iac.runtime.errors.WriteOutcomeUnknownError`, and the caller re-reads state.
        """
        return self._request(method, url, params=params, json=json, headers=headers, content=content,
                             allow_status=allow_status, decode=False, replayable=replayable)[0]

    def request_json(self, method: str, url: str, *, params: Mapping[str, str | int] | None = None,
                     json: Any = None, headers: Mapping[str, str] | None = None,
                     allow_status: frozenset[int] = frozenset(),
                     replayable: bool | None = None) -> tuple[Any, httpx.Response]:
        """Like :meth:`request`, and decode the body; a 2xx body that is not JSON (cut short) is retried."""
        response, data = self._request(method, url, params=params, json=json, headers=headers, content=None,
                                       allow_status=allow_status, decode=True, replayable=replayable)
        return data, response

    def get_json(self, url: str, *, params: Mapping[str, str | int] | None = None,
                 headers: Mapping[str, str] | None = None) -> tuple[Any, httpx.Response]:
        return self.request_json("GET", url, params=params, headers=headers)

    # -- the request loop -----------------------------------------------------------------------------

    def _wait(self, attempts: _Attempts, seconds: float, what: str) -> None:
        """Wait ``seconds`` unless that would pass the request's deadline (then give up now)."""
        if self.clock.monotonic() + seconds > attempts.deadline:
            raise attempts.last_error(
                f"gave up after {self.retry.deadline:.0f}s (the request's deadline) {attempts.last_problem}",
                method=attempts.method, path=attempts.path)
        pause(self.clock, seconds, what)

    def _timeout(self, left: float) -> httpx.Timeout:
        each = max(0.001, min(self.timeout, left))
        return httpx.Timeout(each, connect=min(each, 15.0))

    def _request(self, method: str, url: str, *, params: Mapping[str, str | int] | None, json: Any,
                 headers: Mapping[str, str] | None, content: bytes | Iterable[bytes] | None,
                 allow_status: frozenset[int], decode: bool,
                 replayable: bool | None = None) -> tuple[httpx.Response, Any]:
        target = self._url(url)
        if params:
            target = target.copy_merge_params({k: str(v) for k, v in params.items()})
        key = self._bucket_key(method, target)
        trail = _trail.get()
        if trail is not None:
            trail.last = f"{method} {target.path}"
        attempts = _Attempts(method, target.path, self.clock.monotonic() + self.retry.deadline,
                             method.upper() in _REPLAYABLE_METHODS if replayable is None else replayable)
        credentials: Mapping[str, str] = {}
        while True:
            check_stop(f"{method} {target.path}")
            if self.auth is not None:  # before reserving a slot: fetching a token may raise or take a while
                credentials = self.auth.headers()
            wait = self.pacer.reserve(key)
            if wait > 0:
                if attempts.first and _deferring.get():
                    raise BucketBusy(key, self.clock.monotonic() + wait)
                self._wait(attempts, wait, "waiting for the rate-limit budget")
                continue
            attempts.first = False
            sent_at = self.clock.monotonic()
            left = attempts.deadline - sent_at
            try:
                if left <= 0:
                    raise attempts.last_error(f"gave up after {self.retry.deadline:.0f}s (the request's deadline) "
                                              f"{attempts.last_problem}", method=method, path=target.path)
                sent = {**credentials, **(headers or {})} if credentials else headers
                request = self._client.build_request(method, target, json=json, headers=sent, content=content,
                                                     timeout=self._timeout(left))
                response = self._client.send(request)
            except httpx.TransportError as exc:
                self.pacer.release(key, None, sent=False, sent_at=sent_at)
                self.observer.on_response(key, method, 0, self.clock.monotonic() - sent_at)
                attempts.failures += 1
                attempts.last_problem, attempts.last_error = f"after {type(exc).__name__}", ConnectionFailedError
                if not attempts.replayable and not isinstance(exc, _NOT_SENT):
                    raise WriteOutcomeUnknownError(f"{type(exc).__name__} after the request was sent",
                                                   method=method, path=target.path) from None
                if attempts.failures >= self.retry.max_attempts:
                    raise ConnectionFailedError(f"{type(exc).__name__} after {attempts.failures} attempt(s)",
                                                method=method, path=target.path) from None
                delay = backoff(self.retry, attempts.failures, self._rng)
                self.observer.on_retry(key, "connection", delay)
                log.debug("retrying %s %s after %s in %.2fs", method, target.path, type(exc).__name__, delay)
                self._wait(attempts, delay, "backing off after a connection error")
                continue
            except BaseException:
                self.pacer.release(key, None, sent=False, sent_at=sent_at)
                raise
            done = self._handle(attempts, key, response, sent_at, credentials, allow_status, decode)
            if done is not None:
                return done

    def _handle(self, attempts: _Attempts, key: str, response: httpx.Response, sent_at: float,
                credentials: Mapping[str, str], allow_status: frozenset[int],
                decode: bool) -> tuple[httpx.Response, Any] | None:
        """Act on one answer: the result, None to try again (after waiting), or an exception."""
        method, path = attempts.method, attempts.path
        info = parse_rate_limit(response.headers, self.clock.time())
        self.pacer.release(key, info, sent=True, sent_at=sent_at)
        status = response.status_code
        self.observer.on_response(key, method, status, self.clock.monotonic() - sent_at)
        if status < 400 or status in allow_status:
            if credentials:
                self._note_worked(credentials)
            if not decode or not response.content:
                return response, None
            try:
                return response, response.json()
            except ValueError:
                attempts.failures += 1
                attempts.last_problem, attempts.last_error = "after bodies that were not JSON", ServerError
                if not attempts.replayable:
                    raise WriteOutcomeUnknownError(f"HTTP {status}: the answer is not valid JSON",
                                                   method=method, path=path, status=status) from None
                if attempts.failures >= self.retry.max_attempts:
                    raise ApiError(f"HTTP {status}: the body is not valid JSON after {attempts.failures} "
                                   "attempt(s)", method=method, path=path, status=status) from None
                delay = backoff(self.retry, attempts.failures, self._rng)
                self.observer.on_retry(key, "malformed_body", delay)
                self._wait(attempts, delay, "backing off after a malformed body")
                return None
        if status == 401 and self.auth is not None and self._may_renew(attempts, credentials):
            attempts.refused.append(credentials)
            if self.auth.renew(credentials):
                self.observer.on_retry(key, "reauthenticated", 0.0)
                log.debug("401 on %s %s; credentials renewed, retrying", method, path)
                return None
        if status == 429:
            attempts.limited += 1
            attempts.last_problem, attempts.last_error = "after HTTP 429", RateLimitedError
            if attempts.limited >= self.retry.max_rate_limited:
                raise self._error(response, attempts, RateLimitedError, info)
            hold = self.pacer.block(key, self._rate_limit_delay(info, attempts.limited))
            self.observer.on_retry(key, "rate_limited", hold)
            log.debug("429 on %s %s; bucket held %.2fs", method, path, hold)
            return None
        if status in self.retry.retry_statuses:
            attempts.failures += 1
            attempts.last_problem, attempts.last_error = f"after HTTP {status}", ServerError
            if not attempts.replayable:  # a 5xx does not say whether the vendor applied the write
                raise self._error(response, attempts, WriteOutcomeUnknownError, info)
            if attempts.failures >= self.retry.max_attempts:
                raise self._error(response, attempts, ServerError, info)
            delay = backoff(self.retry, attempts.failures, self._rng)
            if info.retry_after is not None:
                delay = max(delay, min(info.retry_after, self.retry.max_reset_wait))
            self.observer.on_retry(key, "server_error", delay)
            log.debug("retrying %s %s after HTTP %d in %.2fs", method, path, status, delay)
            self._wait(attempts, delay, f"backing off after HTTP {status}")
            return None
        raise self._error(response, attempts, None, info)

    def _note_worked(self, credentials: Mapping[str, str]) -> None:
        with self._worked_lock:
            if credentials not in self._worked:
                self._worked.append(credentials)

    def _may_renew(self, attempts: _Attempts, credentials: Mapping[str, str]) -> bool:
        """Whether a 401 to ``credentials`` is worth a renewal and another try.

        The first 401 of a request is. A later one (the retry with renewed credentials was refused too) is
        only when those credentials worked here for some request — they expired or were revoked while this
        retry was in flight — or another request has already replaced them; never twice for the same
        credentials and at most ``max_renewals`` times. Renewed credentials refused before they ever
        worked mean the new ones fail too: that 401 surfaces.
        """
        assert self.auth is not None
        if not attempts.refused:
            return True
        if len(attempts.refused) >= self.retry.max_renewals or credentials in attempts.refused:
            return False
        with self._worked_lock:
            worked = credentials in self._worked
        return worked or self.auth.headers() != credentials

    def _rate_limit_delay(self, info: RateLimitInfo, limited: int) -> float:
        """Seconds to hold a bucket after a 429: Retry-After, else the reset, else backoff; capped, plus jitter."""
        jitter = self._rng.uniform(0.0, 0.25)
        if info.retry_after is not None:
            base = info.retry_after
        elif info.reset_in is not None and info.reset_in > 0:
            base = info.reset_in + self.pacer.safety
        else:
            return backoff(self.retry, limited, self._rng)
        return min(base, self.retry.max_reset_wait) + jitter

    def _error(self, response: httpx.Response, attempts: _Attempts, cls: type[ApiError] | None,
               info: RateLimitInfo) -> ApiError:
        reset_at = None if info.reset_in is None else self.clock.time() + info.reset_in
        return api_error(response, self.error_parser, method=attempts.method, path=attempts.path, cls=cls,
                         retry_after=info.retry_after, reset_at=reset_at)
