"""The one place that talks HTTP, paces, sleeps and retries.

Pacing is per host and per *bucket* (a vendor's rate-limit class such as Okta's ``/api/v1/users``),
learned from ``X-Rate-Limit-Limit`` / ``-Remaining`` / ``-Reset`` and ``Retry-After``:

* A bucket never seen before gets one probe request; the response tells whether it is paced at all.
* With ``share`` (BATON_RATE_LIMIT_SHARE, default 0.5) the client only sends while the bucket's
  remaining count, minus what this process has in flight, stays at or above ``limit * (1 - share)``;
  the rest of the bucket belongs to the org's other integrations. When the budget for the window is
  used, the bucket waits for ``X-Rate-Limit-Reset``.
* A 429 blocks the bucket until ``Retry-After`` or the reset (plus jitter); 5xx and transport errors
  back off exponentially with full jitter. Every loop is bounded (:class:`RetryPolicy`).
* With an :class:`Authenticator` (OAuth access tokens), credentials are asked for per request, and a 401
  is retried once after the authenticator renewed them.

Inside :func:`deferring` (the sync engine's workers), a request whose bucket is not ready raises
:class:`BucketBusy` *before* sending instead of sleeping, so the worker can do work for another bucket.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import logging
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from iac.runtime._clock import Clock, SystemClock
from iac.runtime.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConflictError,
    ConnectionFailedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    WriteOutcomeUnknownError,
)

__all__ = [
    "Authenticator",
    "BucketBusy",
    "BucketView",
    "CountingObserver",
    "HttpClient",
    "HttpObserver",
    "Pacer",
    "RateLimitInfo",
    "RetryPolicy",
    "deferring",
    "next_link",
    "parse_rate_limit",
]

log = logging.getLogger(__name__)

_REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Transport errors raised before any byte of the request left: re-sending cannot apply anything twice."""

Bucketer = Callable[[str, str], str]
"""``(method, path) -> bucket name``; the connector knows its vendor's rate-limit classes."""

ErrorParser = Callable[[httpx.Response], tuple[str | None, str | None]]
"""``response -> (vendor error code, summary)``."""

_deferring: contextvars.ContextVar[bool] = contextvars.ContextVar("iac_http_deferring", default=False)


@contextlib.contextmanager
def deferring() -> Iterator[None]:
    """Within this block, a request whose bucket must wait raises :class:`BucketBusy` instead."""
    token = _deferring.set(True)
    try:
        yield
    finally:
        _deferring.reset(token)


class Authenticator(Protocol):
    """Credentials that change over time (OAuth access tokens). Must be thread-safe."""

    def headers(self) -> Mapping[str, str]:
        """The headers to send now (may fetch or renew a token first)."""
        ...

    def renew(self, rejected: Mapping[str, str]) -> bool:
        """The server answered 401 to ``rejected`` (what :meth:`headers` returned): get fresh credentials.
        False when there is nothing new to try (the 401 then surfaces as an AuthError)."""
        ...


class BucketBusy(Exception):
    """The request's bucket is not ready until ``ready_at`` (epoch seconds). Nothing was sent."""

    def __init__(self, bucket: str, ready_at: float) -> None:
        super().__init__(f"bucket {bucket} busy until {ready_at:.3f}")
        self.bucket = bucket
        self.ready_at = ready_at


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What one response said about its bucket. ``reset_at`` is epoch seconds."""

    limit: float | None = None
    remaining: float | None = None
    reset_at: float | None = None
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


def parse_rate_limit(headers: httpx.Headers | Mapping[str, str], now: float) -> RateLimitInfo:
    """Read X-Rate-Limit-* and Retry-After (delta seconds or an HTTP date)."""
    get = headers.get
    retry_after = _num(get("retry-after"))
    raw = get("retry-after")
    if retry_after is None and raw:
        try:
            retry_after = max(0.0, email.utils.parsedate_to_datetime(raw).timestamp() - now)
        except (TypeError, ValueError):
            retry_after = None
    return RateLimitInfo(limit=_num(get("x-rate-limit-limit")), remaining=_num(get("x-rate-limit-remaining")),
                         reset_at=_num(get("x-rate-limit-reset")), retry_after=retry_after)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounds on retrying. Attempts count the first try."""

    max_attempts: int = 6
    """For 5xx and transport errors."""
    max_rate_limited: int = 8
    """For 429s."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_reset_wait: float = 65.0
    """Never wait longer than this for a reset or Retry-After (a skewed clock cannot stall a sync)."""
    retry_statuses: frozenset[int] = frozenset({500, 502, 503, 504})


@dataclass(slots=True)
class BucketView:
    """A read-only copy of one bucket's state (for metrics and tests)."""

    key: str
    paced: bool | None
    limit: float | None
    remaining: float | None
    reset_at: float | None
    inflight: int
    blocked_until: float


@dataclass(slots=True)
class _Bucket:
    paced: bool | None = None  # None: nothing heard yet (probe one request); False: vendor sends no limits
    limit: float | None = None
    remaining: float | None = None  # estimate for the current window, net of our in-flight requests
    reset_at: float | None = None
    inflight: int = 0
    blocked_until: float = 0.0


class Pacer:
    """Per-bucket admission control. Thread-safe; never sleeps itself."""

    def __init__(self, *, share: float = 0.5, clock: Clock | None = None, safety: float = 0.1,
                 probe_poll: float = 0.02) -> None:
        if not 0.0 < share <= 1.0:
            raise ValueError("share must be in (0, 1]")
        self.share = share
        self.clock = clock or SystemClock()
        self.safety = safety
        self.probe_poll = probe_poll
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def reserve(self, key: str) -> float:
        """Take a slot and return 0.0, or return how long to wait before asking again."""
        now = self.clock.time()
        with self._lock:
            b = self._buckets.setdefault(key, _Bucket())
            if b.blocked_until > now:
                return b.blocked_until - now
            if b.paced is None:
                if b.inflight == 0:
                    b.inflight += 1
                    return 0.0
                return self.probe_poll
            if b.paced is False:
                b.inflight += 1
                return 0.0
            assert b.limit is not None and b.remaining is not None
            if b.reset_at is not None and now >= b.reset_at + self.safety:
                b.remaining = b.limit  # a new window began; the first responses correct the estimate
                b.reset_at = None
            floor = b.limit * (1.0 - self.share)
            if b.remaining - 1.0 >= floor - 1e-9:
                b.remaining -= 1.0
                b.inflight += 1
                return 0.0
            if b.reset_at is None:  # the budget is gone and we do not know when it comes back
                return self.probe_poll if b.inflight else self.safety
            return max(b.reset_at + self.safety - now, 1e-3)

    def release(self, key: str, info: RateLimitInfo | None, *, sent: bool) -> None:
        """Return a slot; ``info`` is what the response said (``None`` when nothing came back)."""
        now = self.clock.time()
        with self._lock:
            b = self._buckets.setdefault(key, _Bucket())
            b.inflight = max(0, b.inflight - 1)
            if info is None or not info.paced:
                if sent and info is not None and b.paced is None:
                    b.paced = False
                return
            assert info.limit is not None and info.remaining is not None
            estimate = info.remaining - b.inflight  # the others in flight may not be counted yet
            reset_at = info.reset_at if info.reset_at is not None else now + 60.0
            if b.paced is not True or b.reset_at is None or reset_at > b.reset_at + 0.5:
                if b.reset_at is None and b.paced is True and reset_at <= now and b.remaining is not None:
                    # a straggler from the window we already rolled past
                    b.remaining = min(b.remaining, max(estimate, 0.0))
                    return
                b.paced = True
                b.limit = info.limit
                b.remaining = estimate
                b.reset_at = reset_at
            elif reset_at >= b.reset_at - 0.5:
                b.limit = info.limit
                b.remaining = min(b.remaining if b.remaining is not None else estimate, estimate)

    def block(self, key: str, until: float) -> None:
        """Hold the bucket until ``until`` (epoch seconds): after a 429."""
        with self._lock:
            b = self._buckets.setdefault(key, _Bucket())
            b.blocked_until = max(b.blocked_until, until)

    def view(self) -> list[BucketView]:
        with self._lock:
            return [BucketView(k, b.paced, b.limit, b.remaining, b.reset_at, b.inflight, b.blocked_until)
                    for k, b in sorted(self._buckets.items())]


class HttpObserver(Protocol):
    """Receives one call per response and per retry (metrics, stats). Must be cheap and thread-safe."""

    def on_response(self, bucket: str, method: str, status: int, elapsed: float) -> None: ...

    def on_retry(self, bucket: str, reason: str, delay: float) -> None: ...


class _NullObserver:
    def on_response(self, bucket: str, method: str, status: int, elapsed: float) -> None:
        return None

    def on_retry(self, bucket: str, reason: str, delay: float) -> None:
        return None


def default_error_parser(response: httpx.Response) -> tuple[str | None, str | None]:
    """Okta's ``errorCode``/``errorSummary``, ``{"errors":[{code,message}]}``, or ``error``/``message``."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    if "errorCode" in body or "errorSummary" in body:
        return _str(body.get("errorCode")), _str(body.get("errorSummary"))
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return _str(errors[0].get("code")), _str(errors[0].get("message"))
    return (_str(body.get("error") or body.get("code")),
            _str(body.get("message") or body.get("error_description")))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)[:300]


def next_link(response: httpx.Response) -> str | None:
    """The ``rel="next"`` URL of an RFC 8288 ``Link`` header (several header lines are fine)."""
    link = response.links.get("next")
    url = link.get("url") if link else None
    return url or None


_STATUS_ERRORS: dict[int, type[ApiError]] = {
    401: AuthError, 403: PermissionDeniedError, 404: NotFoundError, 409: ConflictError,
}


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
        self.pacer = pacer or Pacer(share=share, clock=self.clock)
        self.retry = retry or RetryPolicy()
        self.bucket_of: Bucketer = bucket_of or (lambda method, path: f"{method} {path}")
        self.error_parser = error_parser or default_error_parser
        self.observer: HttpObserver = observer or _NullObserver()
        self._rng = rng or random.Random()
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

    # -- the request loop -----------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.retry.backoff_cap, self.retry.backoff_base * (2 ** max(0, attempt - 1)))
        return self._rng.uniform(ceiling / 2, ceiling)

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

    def _request(self, method: str, url: str, *, params: Mapping[str, str | int] | None, json: Any,
                 headers: Mapping[str, str] | None, content: bytes | Iterable[bytes] | None,
                 allow_status: frozenset[int], decode: bool,
                 replayable: bool | None = None) -> tuple[httpx.Response, Any]:
        target = self._url(url)
        if replayable is None:
            replayable = method.upper() in _REPLAYABLE_METHODS
        if params:
            target = target.copy_merge_params({k: str(v) for k, v in params.items()})
        key = self._bucket_key(method, target)
        failures = 0
        limited = 0
        first = True
        renewed = False
        credentials: Mapping[str, str] = {}
        while True:
            if self.auth is not None:  # before reserving a slot: fetching a token may raise or take a while
                credentials = self.auth.headers()
            wait = self.pacer.reserve(key)
            if wait > 0:
                if first and _deferring.get():
                    raise BucketBusy(key, self.clock.time() + wait)
                self.clock.sleep(wait)
                continue
            first = False
            started = self.clock.monotonic()
            try:
                sent = {**credentials, **(headers or {})} if credentials else headers
                request = self._client.build_request(method, target, json=json, headers=sent, content=content)
                response = self._client.send(request)
            except httpx.TransportError as exc:
                self.pacer.release(key, None, sent=False)
                failures += 1
                self.observer.on_response(key, method, 0, self.clock.monotonic() - started)
                if not replayable and not isinstance(exc, _NOT_SENT):
                    raise WriteOutcomeUnknownError(f"{type(exc).__name__} after the request was sent",
                                                   method=method, path=target.path) from None
                if failures >= self.retry.max_attempts:
                    raise ConnectionFailedError(f"{type(exc).__name__} after {failures} attempt(s)",
                                                method=method, path=target.path) from None
                delay = self._backoff(failures)
                self.observer.on_retry(key, "connection", delay)
                log.debug("retrying %s %s after %s in %.2fs", method, target.path, type(exc).__name__, delay)
                self.clock.sleep(delay)
                continue
            now = self.clock.time()
            info = parse_rate_limit(response.headers, now)
            self.pacer.release(key, info, sent=True)
            status = response.status_code
            self.observer.on_response(key, method, status, self.clock.monotonic() - started)
            if status < 400 or status in allow_status:
                if not decode or not response.content:
                    return response, None
                try:
                    return response, response.json()
                except ValueError:
                    failures += 1
                    if not replayable:
                        raise WriteOutcomeUnknownError(f"HTTP {status}: the answer is not valid JSON",
                                                       method=method, path=target.path, status=status) from None
                    if failures >= self.retry.max_attempts:
                        raise ApiError(f"HTTP {status}: the body is not valid JSON after {failures} "
                                       "attempt(s)", method=method, path=target.path, status=status) from None
                    delay = self._backoff(failures)
                    self.observer.on_retry(key, "malformed_body", delay)
                    self.clock.sleep(delay)
                    continue
            if status == 401 and self.auth is not None and not renewed:
                renewed = True  # once per request: a second 401 means the new credentials fail too
                if self.auth.renew(credentials):
                    self.observer.on_retry(key, "reauthenticated", 0.0)
                    log.debug("401 on %s %s; credentials renewed, retrying once", method, target.path)
                    continue
            if status == 429:
                limited += 1
                if limited >= self.retry.max_rate_limited:
                    raise self._error(response, method, target, RateLimitedError, info)
                delay = self._rate_limit_delay(info, now, limited)
                self.pacer.block(key, now + delay)
                self.observer.on_retry(key, "rate_limited", delay)
                log.debug("429 on %s %s; bucket blocked %.2fs", method, target.path, delay)
                continue
            if status in self.retry.retry_statuses:
                failures += 1
                if not replayable:  # a 5xx does not say whether the vendor applied the write
                    raise self._error(response, method, target, WriteOutcomeUnknownError, info)
                if failures >= self.retry.max_attempts:
                    raise self._error(response, method, target, ServerError, info)
                delay = self._backoff(failures)
                if info.retry_after is not None:
                    delay = max(delay, min(info.retry_after, self.retry.max_reset_wait))
                self.observer.on_retry(key, "server_error", delay)
                log.debug("retrying %s %s after HTTP %d in %.2fs", method, target.path, status, delay)
                self.clock.sleep(delay)
                continue
            raise self._error(response, method, target, _STATUS_ERRORS.get(status, BadRequestError), info)

    def _rate_limit_delay(self, info: RateLimitInfo, now: float, limited: int) -> float:
        jitter = self._rng.uniform(0.0, 0.25)
        if info.retry_after is not None:
            base = info.retry_after
        elif info.reset_at is not None and info.reset_at > now:
            base = info.reset_at - now + self.pacer.safety
        else:
            return self._backoff(limited)
        return min(base, self.retry.max_reset_wait) + jitter

    def _error(self, response: httpx.Response, method: str, target: httpx.URL, cls: type[ApiError],
               info: RateLimitInfo) -> ApiError:
        code, summary = self.error_parser(response)
        message = f"HTTP {response.status_code}" + (f": {summary}" if summary else "")
        if cls is RateLimitedError:
            return RateLimitedError(message, retry_after=info.retry_after, reset_at=info.reset_at,
                                    method=method, path=target.path, status=response.status_code, code=code,
                                    summary=summary)
        return cls(message, method=method, path=target.path, status=response.status_code, code=code,
                   summary=summary)

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
