"""A stateful Celigo integrator.io simulator: account users ("ashares"), integrations, invites.

    sim = CeligoSim(seed=7, users=300, page_size=50)
    with serve(sim.app) as base_url:
        page = httpx.get(f"{base_url}/v1/ashares", headers=sim.auth_headers)
        page.links["next"]["url"]          # RFC 8288 Link header while more records follow
    sim.dataset.access_levels()            # the exact ground truth
    sim.writes.entries("PUT")              # every PUT body as sent

Fidelity notes (shared notes, "Celigo integrator.io API"):
- Auth: ``Authorization: Bearer <API token>``. `token` is derived from the seed; tokens never expire
  unless ``token_lifetime`` is set (Celigo's optional auto-purge [U]). `expire_tokens` (or
  ``POST /__sim/tokens/expire``) ends every token; `issue_token` mints another. A token issued with
  ``admin=False`` reads integrations but gets 403 on ``/v1/ashares`` and ``/v1/invite``.
- ``GET /v1/ashares`` lists the account's users without the owner; ``GET /v1/integrations`` and
  ``GET /v1/integrations/{id}/ashares`` (users who can see that integration; their ``accessLevel`` is
  rendered as the effective level on it [U: baton-celigo reads it that way]). Paging is ``skip``/``limit``
  with a ``Link: <…?skip=N&limit=M>; rel="next"`` header (and ``rel="prev"``) while more records follow.
  ``limit`` defaults to ``page_size`` (100 here; the docs say 100 or 1000 [U]), capped at 1000. An
  empty list is ``200 []`` [U: maybe 204]. ``include``/``exclude`` project top-level fields (``_id`` stays);
  both at once is 400 ``invalid_query_params``.
- ``PUT /v1/ashares/{id}`` → 204, a full replace: ``accessLevel``, ``integrationAccessLevel`` and the
  boolean settings (including ``disabled`` [U]) are cleared when left out, except ``accountSSORequired``
  which is kept [U]. Read-only fields such as ``_id`` and ``sharedWithUser`` are ignored; ``userType`` is
  400 [U]; an unknown level or integration is 422; a body granting no access at all is 422 [U].
  ``PUT /v1/ashares/{id}/disable`` toggles ``disabled`` (204). ``DELETE /v1/ashares/{id}`` → 204.
  ``POST /v1/invite`` → 201 with the new (``accepted: false``) record [U: body]; a taken email (the owner's
  too) is 409; a missing or malformed email or a bad level is 422. Every write body is logged in `writes`.
- Errors: ``{"errors": [{"code": "<snake_case>", "message": "…"}]}``; unknown ids are 404
  ``not_found`` [U: code].
- Rate limit: a leaky bucket of 1000 refilling at 300/s; 429 with ``Retry-After: <seconds>`` and
  ``rate_limited`` "Too many requests. Retry after N seconds.".
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from iac.sim._celigo_data import (
    ACCESS_LEVELS,
    BOOLEAN_SETTINGS,
    INTEGRATION_ACCESS_LEVELS,
    Ashare,
    CeligoDataset,
)
from iac.sim._clock import Clock
from iac.sim._faults import FaultSettings
from iac.sim._http import Endpoint, Handler, SimError, SimRequest, SimResponse, SimulatorBase
from iac.sim._oauth import TokenIssuer, TokenState
from iac.sim._paging import PageSize, link_header, page_url
from iac.sim._ratelimit import BucketState, TokenBucketLimiter

__all__ = ["CELIGO_MAX_PAGE_SIZE", "CELIGO_RATE_LIMIT", "CeligoSim"]

# "a leaky bucket of 1,000 requests, refilling at 300 requests/s": (bucket size, refill per second).
CELIGO_RATE_LIMIT = (1000, 300.0)
CELIGO_MAX_PAGE_SIZE = 1000

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ADMIN = "admin"
_READ = "read"


def _error(status: int, code: str, message: str, headers: Sequence[tuple[str, str]] = ()) -> SimError:
    return SimError(status, code, message, headers=headers)


class CeligoSim(SimulatorBase):
    """A Celigo account generated from a seed and served over HTTP (`app`), with ground truth (`dataset`)."""

    def __init__(self, *, seed: int = 0, users: int = 200, integrations: int = 8, page_size: int = 100,
                 token_lifetime: float | None = None, rate_scale: float = 1.0, clock: Clock | None = None,
                 faults: FaultSettings | None = None) -> None:
        size, per_second = CELIGO_RATE_LIMIT
        super().__init__(seed=seed, clock=clock, faults=faults, rate_limiter=lambda c: TokenBucketLimiter(
            {"api": size}, {"api": per_second}, clock=c, scale=rate_scale))
        if not 1 <= page_size <= CELIGO_MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {CELIGO_MAX_PAGE_SIZE}")
        self.dataset = CeligoDataset.generate(seed=seed, users=users, integrations=integrations)
        self.page_size = PageSize(default=page_size, maximum=CELIGO_MAX_PAGE_SIZE)
        self.tokens = TokenIssuer(seed, self.clock, lifetime=token_lifetime, purpose="celigo-api-token", hex_size=16)
        self.token = self.issue_token()

    # ---- credentials ---------------------------------------------------------------------------

    def issue_token(self, *, admin: bool = True) -> str:
        """A new API token (32 hex characters, like Celigo's); ``admin=False`` for a read-only one."""
        return self.tokens.issue("owner", {_ADMIN, _READ} if admin else {_READ}).value

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def expire_tokens(self) -> int:
        return self.tokens.expire_all()

    # ---- SimulatorBase hooks -------------------------------------------------------------------

    def _bearer(self, request: SimRequest) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def is_authorized(self, request: SimRequest) -> bool:
        value = self._bearer(request)
        state = self.tokens.check(value)[0] if value else TokenState.UNKNOWN
        if state is TokenState.EXPIRED:  # raised, not returned, so the client learns why
            raise _error(401, "unauthorized", "The API token has expired or was revoked.")
        return state is TokenState.VALID

    def unauthorized_error(self) -> SimError:
        return _error(401, "unauthorized", "Unauthorized: send a valid API token as 'Authorization: Bearer'.")

    def rate_limited_error(self, bucket: BucketState) -> SimError:
        seconds = max(1, math.ceil(bucket.retry_after))
        return _error(429, "rate_limited", f"Too many requests. Retry after {seconds} seconds.",
                      [("Retry-After", str(seconds))])

    def server_error(self) -> SimError:
        return _error(500, "internal_error", "An internal error occurred. Please retry.")

    def unknown_route_error(self, method: str, path: str) -> SimError:
        return _error(404, "not_found", f"Cannot {method} {path}")

    def error_payload(self, error: SimError, request_id: str) -> Any:
        return {"errors": [{"code": error.code, "message": error.summary},
                           *({"code": error.code, "message": cause} for cause in error.causes)]}

    def common_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("X-Request-Id", request_id)]

    def state_summary(self) -> dict[str, Any]:
        return {**self.dataset.counts(), "live_tokens": self.tokens.live_count()}

    def endpoints(self) -> Sequence[Endpoint]:
        e, admin = Endpoint, self._admin_only
        return [
            e("GET", "/v1/ashares", admin(self._list_ashares), "api", is_page=True),
            e("GET", "/v1/ashares/{ashareId}", admin(self._get_ashare), "api"),
            e("PUT", "/v1/ashares/{ashareId}", admin(self._put_ashare), "api"),
            e("DELETE", "/v1/ashares/{ashareId}", admin(self._delete_ashare), "api"),
            e("PUT", "/v1/ashares/{ashareId}/disable", admin(self._toggle_disabled), "api"),
            e("POST", "/v1/invite", admin(self._invite), "api"),
            e("GET", "/v1/integrations", self._list_integrations, "api", is_page=True),
            e("GET", "/v1/integrations/{integrationId}", self._get_integration, "api"),
            e("GET", "/v1/integrations/{integrationId}/ashares", admin(self._list_integration_ashares), "api",
              is_page=True),
        ]

    # ---- shared helpers --------------------------------------------------------------------------

    def _admin_only(self, handler: Handler) -> Handler:
        def run(request: SimRequest) -> SimResponse:
            token = self.tokens.check(self._bearer(request) or "")[1]
            if token is None or _ADMIN not in token.scopes:
                raise _error(403, "forbidden", "You do not have permission to manage users in this account.")
            return handler(request)
        return run

    def _now(self) -> int:
        return int(self.clock.time())

    def _page(self, request: SimRequest, records: Sequence[Any], render: Callable[[Any], dict[str, Any]]
              ) -> SimResponse:
        include = [f for f in request.query.get("include", "").split(",") if f]
        exclude = [f for f in request.query.get("exclude", "").split(",") if f]
        if include and exclude:
            raise _error(400, "invalid_query_params", "include and exclude cannot be used together.")
        try:
            skip = int(request.query.get("skip") or 0)
            limit = self.page_size.resolve(request.query.get("limit")) or self.page_size.default
        except ValueError:
            raise _error(400, "invalid_query_params", "skip and limit must be integers.") from None
        if skip < 0:
            raise _error(400, "invalid_query_params", "skip must not be negative.")
        with self.dataset.lock:
            chosen = list(records[skip: skip + limit])
            more = skip + limit < len(records)
            items = [render(r) for r in chosen]
        if include:
            items = [{k: v for k, v in item.items() if k in include or k == "_id"} for item in items]
        elif exclude:
            items = [{k: v for k, v in item.items() if k not in exclude or k == "_id"} for item in items]
        links = []
        params = dict(request.query)
        if more:
            links.append(("Link", link_header(page_url(request.base_url, request.path,
                                                       {**params, "skip": str(skip + limit), "limit": str(limit)}),
                                              "next")))
        if skip > 0:
            links.append(("Link", link_header(page_url(request.base_url, request.path,
                                                       {**params, "skip": str(max(0, skip - limit)),
                                                        "limit": str(limit)}), "prev")))
        # One header value with both relations, as the developer docs show it.
        headers = [("Link", ", ".join(value for _, value in links))] if links else []
        return SimResponse(200, items, headers)

    def _ashare(self, request: SimRequest) -> Ashare:
        share = self.dataset.ashare(request.path_params["ashareId"])
        if share is None:
            raise _error(404, "not_found", f"No user with id {request.path_params['ashareId']} in this account.")
        return share

    def _json_object(self, request: SimRequest) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _error(400, "invalid_json", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _error(400, "invalid_json", "The request body must be a JSON object.")
        return body

    def _validated_access(self, body: dict[str, Any], *, require_access: bool) -> dict[str, Any]:
        """The writable part of an ashare body, checked; raises 4xx errors Celigo-style."""
        if "userType" in body:
            raise _error(400, "invalid_field", "userType is read-only.")
        problems = []
        level = body.get("accessLevel")
        if level is not None and level not in ACCESS_LEVELS:
            problems.append(f"accessLevel must be one of {', '.join(ACCESS_LEVELS)}.")
        grants = body.get("integrationAccessLevel")
        if grants is None:
            grants = []
        if not isinstance(grants, list):
            problems.append("integrationAccessLevel must be a list.")
            grants = []
        for grant in grants:
            if not isinstance(grant, dict) or self.dataset.integration(str(grant.get("_integrationId"))) is None:
                problems.append(f"integrationAccessLevel: unknown integration in {grant!r}.")
            elif grant.get("accessLevel") not in INTEGRATION_ACCESS_LEVELS:
                problems.append(f"integrationAccessLevel: accessLevel must be manage or monitor in {grant!r}.")
        for key in (*BOOLEAN_SETTINGS, "accountSSORequired"):
            if key in body and not isinstance(body[key], bool):
                problems.append(f"{key} must be true or false.")
        if not problems and require_access and level is None and not grants:
            problems.append("Grant accessLevel or at least one integrationAccessLevel entry.")
        if problems:
            raise SimError(422, "invalid_value", problems[0], problems[1:])
        return {**{k: body[k] for k in (*BOOLEAN_SETTINGS, "accountSSORequired") if k in body},
                "accessLevel": level, "integrationAccessLevel": grants}

    # ---- ashares ---------------------------------------------------------------------------------

    def _list_ashares(self, request: SimRequest) -> SimResponse:
        return self._page(request, self.dataset.ashares, self.dataset.render_ashare)

    def _get_ashare(self, request: SimRequest) -> SimResponse:
        return SimResponse(200, self.dataset.render_ashare(self._ashare(request)))

    def _put_ashare(self, request: SimRequest) -> SimResponse:
        share = self._ashare(request)
        access = self._validated_access(self._json_object(request), require_access=True)
        self.dataset.replace_access(share, access, self._now())
        return SimResponse(204)

    def _toggle_disabled(self, request: SimRequest) -> SimResponse:
        self.dataset.toggle_disabled(self._ashare(request), self._now())
        return SimResponse(204)

    def _delete_ashare(self, request: SimRequest) -> SimResponse:
        self.dataset.remove(self._ashare(request))
        return SimResponse(204)

    def _invite(self, request: SimRequest) -> SimResponse:
        body = self._json_object(request)
        email = body.get("email")
        if not isinstance(email, str) or not _EMAIL.fullmatch(email):
            raise _error(422, "invalid_value", "email is required and must be an email address.")
        access = self._validated_access(body, require_access=False)
        if self.dataset.has_email(email):
            raise _error(409, "conflict", f"{email} already has access to this account.")
        share = self.dataset.invite(email, access, self._now())
        return SimResponse(201, self.dataset.render_ashare(share))

    # ---- integrations ----------------------------------------------------------------------------

    def _integration(self, request: SimRequest) -> str:
        ident = request.path_params["integrationId"]
        if self.dataset.integration(ident) is None:
            raise _error(404, "not_found", f"No integration with id {ident}.")
        return ident

    def _list_integrations(self, request: SimRequest) -> SimResponse:
        return self._page(request, self.dataset.integrations, self.dataset.render_integration)

    def _get_integration(self, request: SimRequest) -> SimResponse:
        integration = self.dataset.integration(self._integration(request))
        assert integration is not None
        return SimResponse(200, self.dataset.render_integration(integration))

    def _list_integration_ashares(self, request: SimRequest) -> SimResponse:
        ident = self._integration(request)
        return self._page(request, self.dataset.shares_of_integration(ident),
                          lambda share: self.dataset.render_ashare(share, level_for=ident))
