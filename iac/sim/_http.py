"""The request pipeline every simulator shares, as a Starlette (ASGI) application.

Per request, in this order: draw a fault (seeded) → connection reset or stall → latency →
authentication → rate-limit bucket (or an injected 429) → injected 5xx → the vendor handler →
a malformed page (for list endpoints) → headers → counters. A vendor subclass supplies the
endpoints, the auth rule and its error format; everything else is written once here.

Admin endpoints under ``/__sim`` bypass auth, faults, rate limits and counters:
``GET /__sim/stats`` (counts by endpoint and status, faults injected, effective limits),
``DELETE /__sim/stats`` (a fresh run: counters, fault history and buckets start over),
``GET/POST /__sim/faults`` (read or change knobs; JSON with `FaultSettings` names),
``GET /__sim/state`` (ground-truth counts), ``GET/DELETE /__sim/writes`` (every write request as sent,
whatever its outcome), ``GET /__sim/writes/effective`` (the writes the vendor carried out, in the order it
applied them, including a repeat that the state de-duplicates and one whose answer was lost),
``POST /__sim/tokens/expire`` (expire every access token issued so far, for simulators whose tokens expire).
They are unauthenticated: keep the server on loopback.
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from iac.sim._clock import Clock, SystemClock
from iac.sim._faults import Fault, FaultPlan, FaultSettings
from iac.sim._ratelimit import BucketState, Limiter
from iac.sim._stats import RequestStats, WriteLog

__all__ = [
    "ConnectionAbortedBySimulator",
    "Endpoint",
    "SimError",
    "SimRequest",
    "SimResponse",
    "SimulatorBase",
]

RESET_STATUS = 0  # how a cut connection is counted in the stats (it never got a status)
CLIENT_GONE_STATUS = 499  # the client disconnected before the answer (nginx's convention)


class SimError(Exception):
    """A vendor error response: status, vendor code, summary and optional causes."""

    def __init__(self, status: int, code: str, summary: str, causes: Sequence[str] = (),
                 headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(f"{status} {code}: {summary}")
        self.status = status
        self.code = code
        self.summary = summary
        self.causes = tuple(causes)
        self.headers = list(headers)


class ConnectionAbortedBySimulator(Exception):
    """Raised after a partial response so the server drops the connection (the reset fault)."""


@dataclass(frozen=True)
class SimRequest:
    method: str
    path: str
    path_params: Mapping[str, str]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    base_url: str  # scheme://host[:port], no trailing slash; links are built from it

    def json(self) -> Any:
        """The decoded body; ValueError when it is not JSON."""
        return json.loads(self.body or b"null")


@dataclass
class SimResponse:
    status: int = 200
    payload: Any = None  # JSON-able; None means an empty body
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[SimRequest], SimResponse]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str           # Starlette template, also the stats key: "/api/v1/groups/{groupId}/users"
    handler: Handler
    family: str         # the rate-limit bucket it spends from
    is_page: bool = False  # a list page: eligible for the malformed-page fault
    records_writes: bool | None = None
    """Log the request in `SimulatorBase.writes` (whatever the outcome). None: every method but GET; a
    vendor turns it off only for requests that change no vendor state (an OAuth token grant)."""

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_logged_write(self) -> bool:
        return self.method != "GET" if self.records_writes is None else self.records_writes


class _AbortResponse(Response):
    """Starts a response, sends a few bytes and then fails, which makes the server close the socket."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
        await send({"type": "http.response.body", "body": b"[{", "more_body": True})
        raise ConnectionAbortedBySimulator("connection reset injected by the simulator")


def _encode_json(payload: Any) -> bytes:
    # msgspec writes the same compact UTF-8 JSON ten times faster than json.dumps: at 100k users a simulator
    # shares the benchmark machine's cores with the sync it serves. json.dumps keeps what msgspec refuses.
    try:
        return msgspec.json.encode(payload)
    except (TypeError, OverflowError, msgspec.EncodeError):
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _decoded(body: bytes) -> Any:
    """A request body as the JSON it holds, else its text (a write log must keep whatever was sent)."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")


class SimulatorBase(abc.ABC):
    """Shared machinery: the ASGI app, auth gate, rate-limit buckets, faults and request counters."""

    content_type = "application/json"

    def __init__(self, *, seed: int, rate_limiter: Callable[[Clock], Limiter], clock: Clock | None = None,
                 faults: FaultSettings | None = None) -> None:
        """``rate_limiter`` builds the vendor's limiter on the simulator's clock."""
        self.seed = seed
        self.clock: Clock = clock or SystemClock()
        self.stats = RequestStats()
        self.writes = WriteLog()
        self.rate_limiter = rate_limiter(self.clock)
        self.fault_plan = FaultPlan(seed, faults)
        self._request_numbers = itertools.count()
        self._asgi_app: Starlette | None = None

    # ---- what a vendor supplies -------------------------------------------------------------

    @abc.abstractmethod
    def endpoints(self) -> Sequence[Endpoint]:
        """The vendor routes, in matching order."""

    @abc.abstractmethod
    def is_authorized(self, request: SimRequest) -> bool: ...

    @abc.abstractmethod
    def unauthorized_error(self) -> SimError: ...

    @abc.abstractmethod
    def rate_limited_error(self, bucket: BucketState) -> SimError:
        """The 429 (headers such as Retry-After go on the error, from ``bucket``)."""

    @abc.abstractmethod
    def server_error(self) -> SimError: ...

    @abc.abstractmethod
    def unknown_route_error(self, method: str, path: str) -> SimError: ...

    @abc.abstractmethod
    def error_payload(self, error: SimError, request_id: str) -> Any:
        """The JSON body of an error in the vendor's format."""

    def rate_limit_headers(self, bucket: BucketState) -> list[tuple[str, str]]:
        """Headers describing the bucket on every response (none by default)."""
        return []

    def common_headers(self, request_id: str) -> list[tuple[str, str]]:
        """Headers every vendor response carries (e.g. a request id)."""
        return []

    def state_summary(self) -> dict[str, Any]:
        """Counts of the ground-truth state for ``GET /__sim/state``."""
        return {}

    def expire_tokens(self) -> int:
        """Expire every access token issued so far (``POST /__sim/tokens/expire``); returns how many.

        Simulators whose credentials never expire (Okta's SSWS token) leave this unimplemented.
        """
        raise NotImplementedError(f"{type(self).__name__} issues no expiring tokens")

    # ---- knobs ------------------------------------------------------------------------------

    @property
    def faults(self) -> FaultSettings:
        return self.fault_plan.settings

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Change fault knobs at run time (same names as `FaultSettings`)."""
        self.fault_plan.settings = self.fault_plan.settings.updated(changes)
        return self.fault_plan.settings

    # ---- the ASGI application ---------------------------------------------------------------

    @property
    def app(self) -> Starlette:
        if self._asgi_app is None:
            self._asgi_app = self._build_app()
        return self._asgi_app

    def _build_app(self) -> Starlette:
        routes = [
            Route("/__sim/stats", self._admin_stats, methods=["GET", "DELETE"]),
            Route("/__sim/faults", self._admin_faults, methods=["GET", "POST"]),
            Route("/__sim/state", self._admin_state, methods=["GET"]),
            Route("/__sim/writes", self._admin_writes, methods=["GET", "DELETE"]),
            Route("/__sim/writes/effective", self._admin_effective_writes, methods=["GET"]),
            Route("/__sim/tokens/expire", self._admin_expire_tokens, methods=["POST"]),
        ]
        for endpoint in self.endpoints():
            routes.append(Route(endpoint.path, self._endpoint_runner(endpoint), methods=[endpoint.method]))
        routes.append(Route("/{path:path}", self._unknown_route,
                            methods=["GET", "POST", "PUT", "PATCH", "DELETE"]))
        return Starlette(routes=routes)

    def _endpoint_runner(self, endpoint: Endpoint) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            try:
                return await self._dispatch(endpoint, request)
            except ClientDisconnect:
                # The client went away mid-request (a killed sync, a timeout): nobody reads the answer.
                self.stats.record(endpoint.name, CLIENT_GONE_STATUS)
                return Response(status_code=CLIENT_GONE_STATUS)
        return run

    def _request_id(self) -> str:
        number = next(self._request_numbers)
        return hashlib.blake2b(f"{self.seed}:req:{number}".encode(), digest_size=12).hexdigest()

    async def _sim_request(self, request: Request) -> SimRequest:
        base_url = f"{request.url.scheme}://{request.url.netloc}"
        return SimRequest(method=request.method, path=request.url.path,
                          path_params={k: str(v) for k, v in request.path_params.items()},
                          query=dict(request.query_params), headers=request.headers,
                          body=await request.body(), base_url=base_url)

    async def _dispatch(self, endpoint: Endpoint, request: Request) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        written = None
        if endpoint.is_logged_write:
            written = self.writes.record(request.method, request.url.path, _decoded(await request.body()),
                                         self.clock.time())
        fault = self.fault_plan.draw(request.method, target, is_page=endpoint.is_page)
        if fault is Fault.RESET:
            self.stats.record(endpoint.name, RESET_STATUS)
            return _AbortResponse()
        if fault is Fault.STALL:
            await asyncio.sleep(self.faults.stall_seconds)
        if self.faults.latency_ms > 0:
            await asyncio.sleep(self.faults.latency_ms / 1000)

        sim_request = await self._sim_request(request)
        request_id = self._request_id()
        bucket: BucketState | None = None
        try:
            if not self.is_authorized(sim_request):
                raise self.unauthorized_error()
            bucket = self.rate_limiter.take(endpoint.family)
            if fault is Fault.RATE_LIMIT:
                bucket = self._injected_exhaustion(endpoint.family)
            if not bucket.allowed:
                raise self.rate_limited_error(bucket)
            if fault is Fault.SERVER_ERROR:
                raise self.server_error()
            result = endpoint.handler(sim_request)
            status, payload, headers = result.status, result.payload, result.headers
        except SimError as error:
            status, payload, headers = error.status, self.error_payload(error, request_id), error.headers

        body = b"" if payload is None else _encode_json(payload)
        if fault is Fault.MALFORMED_PAGE and status == 200 and body:
            body = body[: max(1, len(body) // 2)]  # valid prefix, invalid document
        all_headers = self.common_headers(request_id)
        if bucket is not None:
            all_headers += self.rate_limit_headers(bucket)
        all_headers += headers
        self.stats.record(endpoint.name, status)
        if written is not None:
            self.writes.answered(written, status)
        if fault is Fault.LOST_ANSWER and request.method != "GET":
            return _AbortResponse()  # done, but the client never learns it
        return self._response(status, body, all_headers)

    def _injected_exhaustion(self, family: str) -> BucketState:
        # An injected 429 looks like someone else drained the bucket; its reset is at most
        # ~1 s away so clients that honour X-Rate-Limit-Reset do not stall a test run.
        real = self.rate_limiter.peek(family)
        now = self.rate_limiter.time()
        soon = int(now) + 1
        reset = min(real.reset_epoch, soon)
        return BucketState(family, real.limit, 0, reset, allowed=False, retry_after=max(0.0, reset - now))

    def _response(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> Response:
        response = Response(content=body, status_code=status,
                            media_type=self.content_type if body else None)
        # Raw headers keep repeated names apart (Okta sends one `Link` line per relation).
        response.raw_headers.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers)
        return response

    async def _unknown_route(self, request: Request) -> Response:
        error = self.unknown_route_error(request.method, request.url.path)
        request_id = self._request_id()
        self.stats.record("unmatched", error.status)
        return self._response(error.status, _encode_json(self.error_payload(error, request_id)),
                              self.common_headers(request_id))

    # ---- admin ------------------------------------------------------------------------------

    async def _admin_stats(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.stats.clear()
            self.fault_plan.forget_history()
            self.rate_limiter.reset()
            return Response(status_code=204)
        body = {**self.stats.snapshot(), "faults_injected": dict(self.fault_plan.injected),
                "rate_limits": self.rate_limiter.families}
        return Response(_encode_json(body), media_type="application/json")

    async def _admin_faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                changes = json.loads(await request.body() or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("expected a JSON object of fault settings")
                self.set_faults(**changes)
            except (ValueError, TypeError) as exc:
                return Response(_encode_json({"error": str(exc)}), status_code=400,
                                media_type="application/json")
        return Response(_encode_json(self.faults.as_dict()), media_type="application/json")

    async def _admin_state(self, request: Request) -> Response:
        return Response(_encode_json(self.state_summary()), media_type="application/json")

    async def _admin_writes(self, request: Request) -> Response:
        if request.method == "DELETE":
            self.writes.clear()
            return Response(status_code=204)
        return Response(_encode_json([w.as_dict() for w in self.writes.entries()]), media_type="application/json")

    async def _admin_effective_writes(self, request: Request) -> Response:
        return Response(_encode_json([w.as_dict() for w in self.writes.effective()]), media_type="application/json")

    async def _admin_expire_tokens(self, request: Request) -> Response:
        try:
            expired = self.expire_tokens()
        except NotImplementedError as exc:
            return Response(_encode_json({"error": str(exc)}), status_code=404, media_type="application/json")
        return Response(_encode_json({"expired": expired}), media_type="application/json")
