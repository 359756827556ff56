"""A stateful SAP Concur simulator: refresh-token OAuth, Identity v4.1 users, Spend roles, User Provisioning v4.

    sim = ConcurSim(seed=7, users=300)
    with serve(sim.app) as base_url:
        token = httpx.post(f"{base_url}/oauth2/v0/token", data={
            "grant_type": "refresh_token", "client_id": sim.client_id, "client_secret": sim.client_secret,
            "refresh_token": sim.refresh_token}).json()
        httpx.get(f"{token['geolocation']}/profile/identity/v4.1/Users",
                  headers={"Authorization": f"Bearer {token['access_token']}"})
    sim.dataset.role_assignments()   # the ground truth, with due provisioning requests applied

Fidelity notes (shared notes, "SAP Concur"):
- ``POST /oauth2/v0/token`` with ``grant_type=refresh_token`` (form: client_id, client_secret,
  refresh_token). Answer ``{expires_in: "3600" (a string), scope, token_type: "Bearer", access_token,
  refresh_token, refresh_expires_in (epoch), id_token, geolocation}``; ``geolocation`` is this server's
  own base URL. The refresh token rotates on every refresh (``rotate_refresh_tokens``) and the old one
  keeps working for ``refresh_grace_seconds`` [U: Concur's grace period]. Errors are
  ``{code, error, error_description, geolocation}``: 108 ``invalid_grant`` (bad or expired refresh
  token), 61 ``invalid_client`` (401) [U: status], 2 ``unsupported_grant_type`` [U: code].
- Identity v4.1 ``GET /profile/identity/v4.1/Users?count=&cursor=``: count default 100, 0..1000 (else
  400 ``invalidValue``); ``nextCursor`` only while more users follow; cursors are opaque and bound to
  the list (a foreign one is 400 ``invalidCursor``). ``attributes``/``excludedAttributes`` project
  top-level attributes, ``a.b`` sub-attributes and extension URNs (id is always returned). The
  enterprise extension is returned only to tokens with ``identity.user.enterprise.read``.
- Roles [U: the choice]: the base Concur products are the identity's ``entitlements`` (Expense, Travel, …),
  and Spend roles are the Spend v4.1 role extension, read at ``GET /profile/spend/v4.1/Users``
  (``startIndex``/``count`` 1..100) and ``…/Users/{id}``. Both are written through User Provisioning v4:
  ``POST /profile/v4/Bulk`` (a SCIM BulkRequest of PATCH/PUT/POST on ``/Users``, at most 100
  operations, 413 beyond) answers **202** and applies the operations ``provision_delay`` seconds later
  (simulator clock); ``GET /profile/v4/provisions/{id}/status[?attributes=operations]`` reports progress.
  Reads see the old state until then. SCIM group roles (``/scim/v4/Groups``) are not simulated: they
  are limited to SAP IPS clients and baton-concur's scopes do not include them.
- Scopes: Identity ``identity.user.core.read``; Spend ``spend.user.general.read``; Bulk
  ``user.provision.write`` plus, per operation, ``identity.user.coreenterprise.writeonly`` (core and
  enterprise attributes) or ``spend.user.general.writeonly`` (roles); status ``user.provision.read`` or
  ``…write`` [U: baton requests only the latter]. A missing scope is 403 (per operation: a failed op).
- Errors: Identity's ``ErrorResponse`` (``status`` a string, ``detail``, ``scimType``, and the Concur
  ``messages`` extension); Spend errors carry ``status`` as an integer. Every response has a
  ``concur-correlationid`` header.
- Rate limits are not published: a token bucket (200, refill 100/s) [U] answers 429 with
  ``Retry-After`` so clients can be tested for robustness, not for fidelity.
- Token expiry: access tokens live ``token_lifetime`` (1 h); `expire_tokens` or
  ``POST /__sim/tokens/expire`` ends them all at once; an expired one is 401.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from iac.sim._clock import Clock
from iac.sim._concur_data import (
    ENTERPRISE_SCHEMA,
    ConcurDataset,
    ExtensionResult,
    OperationOutcome,
    concur_timestamp,
    seeded_uuid,
)
from iac.sim._faults import FaultSettings
from iac.sim._http import Endpoint, Handler, SimError, SimRequest, SimResponse, SimulatorBase
from iac.sim._oauth import RefreshTokens, TokenIssuer, TokenState, hs256_jwt
from iac.sim._paging import CursorCodec, InvalidCursor
from iac.sim._ratelimit import BucketState, TokenBucketLimiter
from iac.sim._seeded import sub_random

__all__ = ["CONCUR_RATE_LIMITS", "CONCUR_SCOPES", "ConcurSim", "ProvisionRequest"]

# What baton-concur's app asks for (read and write), plus the provisioning read scope.
CONCUR_SCOPES = frozenset({
    "openid", "USER", "identity.user.ids.read", "identity.user.core.read", "identity.user.coresensitive.read",
    "identity.user.enterprise.read", "spend.user.general.read", "user.write", "user.provision.write",
    "user.provision.read", "identity.user.coreenterprise.writeonly", "identity.user.externalID.writeonly",
    "identity.user.emails.verified.writeonly", "identity.user.sap.writeonly", "spend.user.general.writeonly",
})
# (bucket size, refill per second) per family [U: Concur publishes no limits].
CONCUR_RATE_LIMITS: Mapping[str, tuple[int, float]] = {"api": (200, 100.0), "oauth": (20, 10.0)}

_TOKEN_PATH = "/oauth2/v0/token"
_IDENTITY = "/profile/identity/v4.1/Users"
_SPEND = "/profile/spend/v4.1/Users"
_LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
_CONCUR_ERROR = "urn:ietf:params:scim:api:messages:concur:2.0:Error"
_BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
_STATUS_SCHEMA = "urn:ietf:params:scim:schemas:extension:concur:2.0:Provision:Status"
_SCIM_TYPES = frozenset({"invalidValue", "invalidCursor", "invalidSyntax", "tooMany", "invalidFilter",
                         "uniqueness", "invalidPath", "noTarget"})
_MAX_OPERATIONS = 100


class _SpendError(SimError):
    """Spend's error schema types ``status`` as an integer, Identity's as a string."""


def _error(status: int, code: str, detail: str, headers: Sequence[tuple[str, str]] = ()) -> SimError:
    return SimError(status, code, detail, headers=headers)


@dataclass
class ProvisionRequest:
    """One accepted Bulk request: its operations, when they take effect, and what each did."""

    id: str
    correlation_id: str
    created: float
    due: float
    operations: list[dict[str, Any]]
    fail_on_errors: int
    scopes: frozenset[str]
    outcomes: list[OperationOutcome | None] = field(default_factory=list)

    @property
    def completed(self) -> bool:
        return bool(self.outcomes)

    def counts(self) -> dict[str, int]:
        """Operations by state; those skipped after ``failOnErrors`` count as failed [U]."""
        total = len(self.operations)
        if not self.completed:
            return {"total": total, "success": 0, "failed": 0, "pending": total}
        success = sum(1 for o in self.outcomes if o is not None and o.success)
        return {"total": total, "success": success, "failed": total - success, "pending": 0}


class ConcurSim(SimulatorBase):
    """A Concur company generated from a seed and served over HTTP (`app`), with ground truth (`dataset`)."""

    def __init__(self, *, seed: int = 0, users: int = 500, client_id: str | None = None,
                 client_secret: str | None = None, scopes: Iterable[str] | None = None,
                 token_lifetime: float = 3600.0, refresh_lifetime: float = 180 * 86_400.0,
                 rotate_refresh_tokens: bool = True, refresh_grace_seconds: float = 60.0,
                 provision_delay: float = 1.0, rate_scale: float = 1.0,
                 rate_limits: Mapping[str, tuple[int, float]] | None = None, clock: Clock | None = None,
                 faults: FaultSettings | None = None) -> None:
        limits = {**CONCUR_RATE_LIMITS, **(rate_limits or {})}
        super().__init__(seed=seed, clock=clock, faults=faults, rate_limiter=lambda c: TokenBucketLimiter(
            {f: size for f, (size, _) in limits.items()}, {f: rate for f, (_, rate) in limits.items()},
            clock=c, scale=rate_scale))
        self._dataset = ConcurDataset.generate(seed=seed, users=users)
        self.client_id = client_id or seeded_uuid(seed, "concur-client", 0)
        self.client_secret = client_secret or seeded_uuid(seed, "concur-client-secret", 0)
        self.scopes = frozenset(CONCUR_SCOPES if scopes is None else scopes)
        self.provision_delay = provision_delay
        self.tokens = TokenIssuer(seed, self.clock, lifetime=token_lifetime, purpose="concur-access-token")
        self.refresh_tokens = RefreshTokens(seed, self.clock, rotate=rotate_refresh_tokens,
                                            grace_seconds=refresh_grace_seconds, lifetime=refresh_lifetime)
        self.refresh_token = self.refresh_tokens.mint(self.client_id, self.scopes)  # what an admin hands out
        self._cursors = CursorCodec(sub_random(seed, "concur-cursor-secret").randbytes(16))
        self._id_token_key = sub_random(seed, "concur-id-token-key").randbytes(32)
        self._provisions: dict[str, ProvisionRequest] = {}
        self._pending: list[tuple[float, int, str]] = []  # (due, arrival, provision id), sorted
        self._arrivals = itertools.count()
        self._provision_lock = threading.Lock()

    # ---- ground truth and credentials ------------------------------------------------------------

    @property
    def dataset(self) -> ConcurDataset:
        """The company as of now: provisioning requests that are due are applied first."""
        self.settle()
        return self._dataset

    def provision(self, provision_id: str) -> ProvisionRequest:
        self.settle()
        return self._provisions[provision_id]

    def issue_token(self, scopes: Iterable[str] | None = None) -> str:
        """An access token minted without the HTTP refresh (tests); all the app's scopes by default."""
        return self.tokens.issue(self.client_id, self.scopes if scopes is None else scopes).value

    @property
    def auth_headers(self) -> dict[str, str]:
        """A freshly minted bearer token with every scope, for test clients (each call mints another)."""
        return {"Authorization": f"Bearer {self.issue_token()}"}

    def expire_tokens(self) -> int:
        return self.tokens.expire_all()

    def settle(self) -> int:
        """Apply every provisioning request whose time has come; returns how many were applied."""
        now = self.clock.time()
        applied = 0
        with self._provision_lock:
            while self._pending and self._pending[0][0] <= now:
                _, _, provision_id = self._pending.pop(0)
                self._apply(self._provisions[provision_id])
                applied += 1
        return applied

    def _apply(self, request: ProvisionRequest) -> None:
        errors = 0
        for op in request.operations:
            if request.fail_on_errors and errors >= request.fail_on_errors:
                request.outcomes.append(None)  # not processed: the request gave up after enough errors
                continue
            try:
                outcome = self._dataset.apply_operation(str(op.get("method", "")).upper(), str(op.get("path", "")),
                                                        op.get("data"), int(request.due), request.scopes)
            except Exception as exc:  # a simulator bug must not lose the rest of an accepted request
                outcome = OperationOutcome(False, None, [ExtensionResult(
                    "urn:ietf:params:scim:schemas:core:2.0:User", "error", "500", f"simulator bug: {exc!r}")])
            errors += 0 if outcome.success else 1
            request.outcomes.append(outcome)

    # ---- SimulatorBase hooks -------------------------------------------------------------------

    def _bearer(self, request: SimRequest) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def is_authorized(self, request: SimRequest) -> bool:
        if request.path == _TOKEN_PATH:
            return True
        value = self._bearer(request)
        state = self.tokens.check(value)[0] if value else TokenState.UNKNOWN
        if state is TokenState.EXPIRED:  # raised, not returned, so the client learns why
            raise _error(401, "TOKEN_EXPIRED", "The access token has expired",
                         [("WWW-Authenticate", 'Bearer error="invalid_token", error_description="expired"')])
        return state is TokenState.VALID

    def unauthorized_error(self) -> SimError:
        return _error(401, "INVALID_TOKEN", "The access token is missing or invalid",
                      [("WWW-Authenticate", 'Bearer error="invalid_token"')])

    def rate_limited_error(self, bucket: BucketState) -> SimError:
        return _error(429, "RATE_LIMITED", "Too many requests",
                      [("Retry-After", str(max(1, math.ceil(bucket.retry_after))))])

    def server_error(self) -> SimError:
        return _error(500, "INTERNAL_ERROR", "Internal server error")

    def unknown_route_error(self, method: str, path: str) -> SimError:
        return _error(404, "NOT_FOUND", f"No resource at {method} {path}")

    def error_payload(self, error: SimError, request_id: str) -> Any:
        body: dict[str, Any] = {"schemas": [_ERROR_SCHEMA, _CONCUR_ERROR],
                                "status": error.status if isinstance(error, _SpendError) else str(error.status),
                                "detail": error.summary}
        if error.code in _SCIM_TYPES:
            body["scimType"] = error.code
        body[_CONCUR_ERROR] = {"messages": [{"code": error.code, "message": message, "type": "error"}
                                            for message in (error.summary, *error.causes)]}
        return body

    def common_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("concur-correlationid", str(uuid.UUID(hex=(request_id * 2)[:32])))]

    def state_summary(self) -> dict[str, Any]:
        self.settle()
        with self._provision_lock:
            pending = len(self._pending)
        return {**self._dataset.counts(), "provisions": len(self._provisions), "provisions_pending": pending,
                "live_tokens": self.tokens.live_count()}

    def endpoints(self) -> Sequence[Endpoint]:
        e, g = Endpoint, self._guarded
        return [
            e("POST", _TOKEN_PATH, self._token, "oauth", records_writes=False),  # issues a token, changes nothing
            e("GET", _IDENTITY, g(self._list_identities, "identity.user.core.read"), "api", is_page=True),
            e("GET", _IDENTITY + "/{userId}", g(self._get_identity, "identity.user.core.read"), "api"),
            e("GET", _SPEND, g(self._list_spend, "spend.user.general.read"), "api", is_page=True),
            e("GET", _SPEND + "/{userId}", g(self._get_spend, "spend.user.general.read"), "api"),
            e("POST", "/profile/v4/Bulk", g(self._bulk, "user.provision.write"), "api"),
            e("GET", "/profile/v4/provisions/{provisionId}/status",
              g(self._provision_status, "user.provision.read", "user.provision.write"), "api"),
        ]

    # ---- the token endpoint ----------------------------------------------------------------------

    def _token(self, request: SimRequest) -> SimResponse:
        geolocation = request.base_url

        def oauth_error(status: int, code: int, error: str, description: str) -> SimResponse:
            return SimResponse(status, {"code": code, "error": error, "error_description": description,
                                        "geolocation": geolocation})

        form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return oauth_error(401, 61, "invalid_client", "Client not found or the secret does not match")
        if form.get("grant_type") != "refresh_token":
            return oauth_error(400, 2, "unsupported_grant_type",
                               f"grant_type {form.get('grant_type')!r} is not supported by this simulator")
        grant = self.refresh_tokens.redeem(form.get("refresh_token", ""), self.client_id)
        if grant is None:
            return oauth_error(400, 108, "invalid_grant", "Refresh token is invalid or expired")
        token = self.tokens.issue(self.client_id, grant.scopes)
        now = self.clock.time()
        id_token = hs256_jwt({"iss": geolocation, "sub": self._dataset.company_id, "aud": self.client_id,
                              "iat": int(now), "exp": int(token.expires_at or now)}, self._id_token_key)
        return SimResponse(200, {
            "expires_in": str(token.expires_in(now)),  # a string on the wire, as Concur sends it
            "scope": " ".join(sorted(grant.scopes)),
            "token_type": "Bearer",
            "access_token": token.value,
            "refresh_token": grant.refresh_token,
            "refresh_expires_in": int(grant.refresh_expires_at),
            "id_token": id_token,
            "geolocation": geolocation,
        })

    # ---- shared helpers --------------------------------------------------------------------------

    def _guarded(self, handler: Handler, *scopes: str) -> Handler:
        """Due provisioning first (reads see it), then require one of ``scopes``."""
        def run(request: SimRequest) -> SimResponse:
            self.settle()
            token = self.tokens.check(self._bearer(request) or "")[1]
            if token is None or not token.scopes & set(scopes):
                error = _SpendError if request.path.startswith(_SPEND) else SimError
                raise error(403, "INSUFFICIENT_SCOPE", f"The access token lacks the scope {' or '.join(scopes)}")
            return handler(request)
        return run

    def _token_scopes(self, request: SimRequest) -> frozenset[str]:
        token = self.tokens.check(self._bearer(request) or "")[1]
        return token.scopes if token else frozenset()

    @staticmethod
    def _int_param(request: SimRequest, name: str, default: int, low: int, high: int,
                   error: type[SimError] = SimError) -> int:
        raw = request.query.get(name) or ""
        try:
            value = int(raw) if raw else default
        except ValueError:
            raise error(400, "invalidValue", f"{name} must be an integer") from None
        if not low <= value <= high:
            raise error(400, "invalidValue", f"{name} must be between {low} and {high}")
        return value

    # ---- identity ---------------------------------------------------------------------------------

    def _projection(self, request: SimRequest) -> Callable[[dict[str, Any]], dict[str, Any]]:
        attributes = [a.strip() for a in request.query.get("attributes", "").split(",") if a.strip()]
        excluded = [a.strip() for a in request.query.get("excludedAttributes", "").split(",") if a.strip()]

        def split(name: str) -> tuple[str, str | None]:
            if name.startswith("urn:"):  # urn:…:User or urn:…:User:employeeNumber
                if name.startswith(ENTERPRISE_SCHEMA):
                    rest = name[len(ENTERPRISE_SCHEMA):].lstrip(":")
                    return ENTERPRISE_SCHEMA, rest or None
                return name, None
            top, _, sub = name.partition(".")
            return top, sub or None

        wanted = [split(name) for name in attributes]  # once per request, not once per record
        dropped = [split(name) for name in excluded]

        def project(record: dict[str, Any]) -> dict[str, Any]:
            if wanted:
                out: dict[str, Any] = {"id": record["id"], "schemas": record["schemas"]}
                for top, sub in wanted:
                    if top not in record:
                        continue
                    if sub is None or not isinstance(record[top], dict):
                        out[top] = record[top]
                    elif sub in record[top]:
                        out.setdefault(top, {})[sub] = record[top][sub]
                record = out
            for top, sub in dropped:
                if top == "id" or top not in record:
                    continue
                if sub is None:
                    record.pop(top)
                elif isinstance(record[top], dict):
                    record[top] = {k: v for k, v in record[top].items() if k != sub}
            return record
        return project

    def _list_identities(self, request: SimRequest) -> SimResponse:
        count = self._int_param(request, "count", 100, 0, 1000)
        cursor = request.query.get("cursor")
        try:
            start = 0 if not cursor else self._cursors.decode(_IDENTITY, cursor) + 1
        except InvalidCursor:
            raise _error(400, "invalidCursor", "The cursor is not valid for this query") from None
        ds, base = self._dataset, request.base_url
        enterprise = "identity.user.enterprise.read" in self._token_scopes(request)
        project = self._projection(request)
        with ds.lock:
            total = ds.user_count
            stop = min(total, start + count)
            resources = [project(ds.render_identity(i, base, enterprise=enterprise)) for i in range(start, stop)]
        body: dict[str, Any] = {"schemas": [_LIST_RESPONSE], "totalResults": total, "itemsPerPage": len(resources),
                                "Resources": resources}
        if stop < total and resources:
            body["nextCursor"] = self._cursors.encode(_IDENTITY, stop - 1)
        return SimResponse(200, body)

    def _user(self, request: SimRequest, error: type[SimError] = SimError) -> int:
        ident = request.path_params["userId"]
        index = self._dataset.user_index(ident)
        if index is None:
            raise error(404, "noTarget", f"User {ident} not found")
        return index

    def _get_identity(self, request: SimRequest) -> SimResponse:
        enterprise = "identity.user.enterprise.read" in self._token_scopes(request)
        record = self._dataset.render_identity(self._user(request), request.base_url, enterprise=enterprise)
        return SimResponse(200, self._projection(request)(record))

    # ---- spend --------------------------------------------------------------------------------------

    def _list_spend(self, request: SimRequest) -> SimResponse:
        ds, base = self._dataset, request.base_url
        start = self._int_param(request, "startIndex", 1, 1, 2**31, _SpendError)
        count = self._int_param(request, "count", 100, 1, 100, _SpendError)
        with ds.lock:
            total = ds.user_count
            resources = [ds.render_spend(i, base) for i in range(start - 1, min(total, start - 1 + count))]
        return SimResponse(200, {"schemas": [_LIST_RESPONSE], "totalResults": total, "Resources": resources,
                                 "startIndex": start, "itemsPerPage": len(resources)})

    def _get_spend(self, request: SimRequest) -> SimResponse:
        return SimResponse(200, self._dataset.render_spend(self._user(request, _SpendError), request.base_url))

    # ---- user provisioning --------------------------------------------------------------------------

    def _bulk(self, request: SimRequest) -> SimResponse:
        try:
            body = request.json()
        except ValueError:
            raise _error(400, "invalidSyntax", "The request body is not JSON") from None
        if not isinstance(body, dict) or _BULK_REQUEST not in (body.get("schemas") or []):
            raise _error(400, "invalidSyntax", f"A BulkRequest needs schemas [{_BULK_REQUEST!r}]")
        operations = body.get("Operations")
        if not isinstance(operations, list) or not operations:
            raise _error(400, "invalidSyntax", "Operations must be a non-empty list")
        if len(operations) > _MAX_OPERATIONS:
            raise _error(413, "tooMany", f"At most {_MAX_OPERATIONS} operations per request")
        for op in operations:
            if not isinstance(op, dict) or str(op.get("method", "")).upper() not in ("POST", "PUT", "PATCH") \
                    or not isinstance(op.get("path"), str):
                raise _error(400, "invalidSyntax", f"Invalid operation {op!r}: needs method POST|PUT|PATCH and path")
        fail_on_errors = body.get("failOnErrors") or 0
        if not isinstance(fail_on_errors, int) or fail_on_errors < 0:
            raise _error(400, "invalidValue", "failOnErrors must be a non-negative integer")
        now = self.clock.time()
        arrival = next(self._arrivals)
        provision = ProvisionRequest(seeded_uuid(self.seed, "concur-provision", arrival),
                                     seeded_uuid(self.seed, "concur-provision-correlation", arrival), now,
                                     now + self.provision_delay, operations, fail_on_errors,
                                     self._token_scopes(request))
        with self._provision_lock:
            self._provisions[provision.id] = provision
            bisect.insort(self._pending, (provision.due, arrival, provision.id))
        self.settle()  # a zero delay completes before the answer
        return SimResponse(202, self._render_status(provision, request.base_url, with_operations=False))

    def _provision_status(self, request: SimRequest) -> SimResponse:
        provision = self._provisions.get(request.path_params["provisionId"])
        if provision is None:
            raise _error(404, "noTarget", f"Provisioning request {request.path_params['provisionId']} not found")
        with_operations = request.query.get("attributes") == "operations"
        start = self._int_param(request, "startIndex", 1, 1, 2**31)
        count = self._int_param(request, "count", _MAX_OPERATIONS, 0, 2**31)
        state = request.query.get("state")
        if state not in (None, "success", "failed", "pending"):
            raise _error(400, "invalidValue", "state must be success, failed or pending")
        return SimResponse(200, self._render_status(provision, request.base_url, with_operations=with_operations,
                                                    start=start, count=count, state=state))

    def _render_status(self, provision: ProvisionRequest, base: str, *, with_operations: bool, start: int = 1,
                       count: int = _MAX_OPERATIONS, state: str | None = None) -> dict[str, Any]:
        location = f"{base}/profile/v4/provisions/{provision.id}/status"
        status: dict[str, Any] = {"completed": provision.completed}
        if provision.completed:  # the docs show `success: null` while pending; the schema wants a boolean
            status["success"] = all(o is not None and o.success for o in provision.outcomes)
        meta: dict[str, Any] = {"location": location, "created": concur_timestamp(provision.created),
                                "lastModified": concur_timestamp(provision.due if provision.completed
                                                                 else provision.created),
                                "provisionType": "Bulk", "resourceType": "ProvisionRequest",
                                "correlationId": provision.correlation_id}
        if provision.completed:
            meta["completed"] = concur_timestamp(provision.due)
        body: dict[str, Any] = {"schemas": [_STATUS_SCHEMA], "id": provision.id,
                                "operationsCount": provision.counts(), "status": status, "meta": meta}
        if with_operations:
            rows = [self._render_operation(provision, n) for n in range(len(provision.operations))]
            if state is not None:
                rows = [r for r in rows if r[0] == state]
            page = [r[1] for r in rows[start - 1: start - 1 + count]]
            body.update({"operations": page, "totalResults": len(rows), "startIndex": start,
                         "itemsPerPage": len(page)})
        return body

    @staticmethod
    def _render_operation(provision: ProvisionRequest, n: int) -> tuple[str, dict[str, Any]]:
        op = provision.operations[n]
        row: dict[str, Any] = {"id": str(n + 1), "bulkId": str(op.get("bulkId") or f"gen-temp-bulk-id-{n + 1}")}
        outcome = provision.outcomes[n] if provision.completed else None
        if outcome is None:
            row["status"] = {"completed": provision.completed, "success": False} if provision.completed \
                else {"completed": False}
            if provision.completed:
                row["extensions"] = [{"name": "urn:ietf:params:scim:schemas:core:2.0:User",
                                      "status": {"completed": True, "success": False, "result": "not-processed"}}]
            return ("failed" if provision.completed else "pending"), row
        row["status"] = {"completed": True, "success": outcome.success}
        if outcome.resource_id:
            row["resource"] = {"id": outcome.resource_id, "type": "User"}
        extensions = []
        for result in outcome.extensions:
            entry: dict[str, Any] = {"name": result.name, "status": {
                "completed": True, "success": result.result != "error", "code": result.code,
                "result": result.result}}
            if result.message:
                entry["messages"] = {"code": result.code, "message": result.message, "type": "error"}
            extensions.append(entry)
        row["extensions"] = extensions
        return ("success" if outcome.success else "failed"), row
