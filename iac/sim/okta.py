"""A stateful Okta Management API simulator: the endpoints baton-okta syncs from and provisions through.

    sim = OktaSim(seed=7, users=300, groups=20, apps=5)
    with serve(sim.app) as base_url:
        httpx.get(f"{base_url}/api/v1/users", headers=sim.auth_headers)
    sim.dataset.memberships()   # the exact ground truth
    sim.stats.by_endpoint()     # what was asked, and what was answered

Fidelity notes (see shared notes, "Okta Management API"):
- Paging: ``Link`` header lines for ``self`` and ``next``; ``after`` is opaque and bound to its list.
  Page sizes: devices 200 (cap 200), users 200 (cap 200), groups 10000 (cap), group members 1000 (cap), apps -1 = all
  (cap 200), app users 50 (1..500), app groups 20 (20..200), ``/iam/assignees/users`` 100 (cap).
  The ``/iam`` lists take no ``limit``; they page by 20 and mirror ``next`` in ``_links`` too.
- ``/api/v1/users`` without ``search``/``filter`` leaves DEPROVISIONED users out, as Okta does.
- Rate limits: per-minute buckets per endpoint family (`OKTA_RATE_LIMITS`), ``X-Rate-Limit-*`` on
  every authenticated response, 429 ``E0000047`` without ``Retry-After``.
- Writes: member PUT/DELETE are 204 and idempotent; app-user DELETE of a non-assignee is 404;
  app-group PUT is an upsert (200); a role a principal already holds is 409 ``E0000090``.
- Choices where the notes are unsure: APP_GROUP/BUILT_IN membership edits get 403 ``E0000006``;
  sub-resources of ``/users/{id}``, ``/groups/{id}`` and ``/apps/{id}`` spend from the family of
  their parent list's "*" rule; ``/org`` and ``/devices`` spend from "other"; the group-members cap
  of 1000 and the /iam page size of 20;
  409 ``E0000090`` (the spec lists no 409). App users are the stored assignments: assigning a group
  to an app does not materialise its members as app users. Everyone holds every user.
- Where the spec and recorded traffic differ, the spec wins (Everyone's description is a string).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from iac.sim._clock import Clock
from iac.sim._faults import FaultSettings
from iac.sim._http import Endpoint, SimError, SimRequest, SimResponse, SimulatorBase
from iac.sim._okta_data import USER_STATUSES, OktaDataset
from iac.sim._paging import CursorCodec, InvalidCursor, PageSize, link_header, page_url
from iac.sim._ratelimit import BucketState, FixedWindowLimiter
from iac.sim._seeded import sub_random, token_from_seed
from iac.spec.integrations.okta import STANDARD_ROLES

__all__ = ["OKTA_PAGE_SIZES", "OKTA_RATE_LIMITS", "OktaSim"]

# Requests per minute by endpoint family: the Workforce-identity column of Okta's rl-global-mgmt table.
OKTA_RATE_LIMITS: Mapping[str, int] = {
    "users": 600,        # GET/POST /api/v1/users
    "user": 2000,        # GET /api/v1/users/{idOrLogin}
    "user-writes": 600,  # POST/PUT/DELETE /api/v1/users/{id}, and (assumed) its sub-resources
    "groups": 500,       # /api/v1/groups (not {id})
    "group": 1000,       # /api/v1/groups/{id} and (assumed) its sub-resources
    "apps": 100,         # /api/v1/apps*
    "app": 500,          # /api/v1/apps/{id}
    "other": 1200,       # every other /api/v1 endpoint (here: /iam/*)
}

OKTA_PAGE_SIZES: Mapping[str, PageSize] = {
    "users": PageSize(default=200, maximum=200),
    "groups": PageSize(default=10_000, maximum=10_000),
    "group-users": PageSize(default=1000, maximum=1000),
    "apps": PageSize(default=-1, maximum=200, unbounded=-1),
    "app-users": PageSize(default=50, maximum=500),
    "app-groups": PageSize(default=20, maximum=200, minimum=20),
    "assignees": PageSize(default=100, maximum=100),
    "iam": PageSize(default=20, maximum=20),
    "devices": PageSize(default=200, maximum=200),
}

_CONTENT_TYPE = "application/json;charset=UTF-8"
_CLAUSE = re.compile(r'\s*([\w.]+)\s+(eq|pr|sw)(?:\s+"([^"]*)")?\s*', re.IGNORECASE)


def _not_found(ident: str, kind: str) -> SimError:
    return SimError(404, "E0000007", f"Not found: Resource not found: {ident} ({kind})")


def _invalid(field: str, cause: str) -> SimError:
    return SimError(400, "E0000001", f"Api validation failed: {field}", [f"{field}: {cause}"])


_MALFORMED_BODY = SimError(400, "E0000003", "The request body was not well-formed.")
_FORBIDDEN = SimError(403, "E0000006", "You do not have permission to perform the requested action")


def _parse_expression(expression: str, fields: set[str]) -> list[list[tuple[str, str, str | None]]]:
    """A small SCIM-style filter: clauses ``field eq "v"``/``field pr``/``field sw "v"`` joined by
    ``and`` (binding tighter) and ``or``. Returns OR-groups of AND-clauses; raises SimError E0000031."""
    groups: list[list[tuple[str, str, str | None]]] = []
    for disjunct in re.split(r"\s+or\s+", expression.strip(), flags=re.IGNORECASE):
        clauses = []
        for conjunct in re.split(r"\s+and\s+", disjunct, flags=re.IGNORECASE):
            match = _CLAUSE.fullmatch(conjunct)
            if not match or match.group(1) not in fields or (match.group(2).lower() != "pr") == (
                    match.group(3) is None):
                raise SimError(400, "E0000031", "Invalid search criteria.", [expression])
            clauses.append((match.group(1), match.group(2).lower(), match.group(3)))
        groups.append(clauses)
    return groups


def _predicate(expression: list[list[tuple[str, str, str | None]]],
               value_of: Callable[[int, str], str | None]) -> Callable[[int], bool]:
    def matches(index: int) -> bool:
        for clauses in expression:
            ok = True
            for field, op, wanted in clauses:
                actual = value_of(index, field)
                if op == "pr":
                    ok = actual is not None
                elif op == "eq":
                    ok = actual is not None and actual.lower() == (wanted or "").lower()
                else:
                    ok = actual is not None and actual.lower().startswith((wanted or "").lower())
                if not ok:
                    break
            if ok:
                return True
        return False
    return matches


class OktaSim(SimulatorBase):
    """An Okta org generated from a seed and served over HTTP (`app`), with exact ground truth (`dataset`)."""

    content_type = _CONTENT_TYPE

    def __init__(self, *, seed: int = 0, users: int = 1000, groups: int = 50, apps: int = 20,
                 memberships: int | None = None, app_assignments: int | None = None,
                 devices: int | None = None, token: str | None = None, rate_scale: float = 1.0,
                 rate_limits: Mapping[str, int] | None = None, clock: Clock | None = None,
                 faults: FaultSettings | None = None) -> None:
        limits = {**OKTA_RATE_LIMITS, **(rate_limits or {})}
        super().__init__(seed=seed, clock=clock, faults=faults,
                         rate_limiter=lambda c: FixedWindowLimiter(limits, clock=c, scale=rate_scale))
        self.dataset = OktaDataset.generate(seed=seed, users=users, groups=groups, apps=apps,
                                            memberships=memberships, app_assignments=app_assignments,
                                            devices=devices)
        self.token = token or token_from_seed(seed)
        self._cursors = CursorCodec(sub_random(seed, "cursor-secret").randbytes(16))

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"SSWS {self.token}"}

    # ---- SimulatorBase hooks -----------------------------------------------------------------

    def is_authorized(self, request: SimRequest) -> bool:
        return request.headers.get("authorization") == f"SSWS {self.token}"

    def unauthorized_error(self) -> SimError:
        return SimError(401, "E0000011", "Invalid token provided")

    def rate_limited_error(self, bucket: BucketState) -> SimError:  # no Retry-After: Okta sends none
        return SimError(429, "E0000047", "API call exceeded rate limit due to too many requests.")

    def server_error(self) -> SimError:
        return SimError(500, "E0000009", "Internal Server Error")

    def unknown_route_error(self, method: str, path: str) -> SimError:
        return _not_found(path, "Resource")

    def error_payload(self, error: SimError, request_id: str) -> Any:
        return {"errorCode": error.code, "errorSummary": error.summary, "errorLink": error.code,
                "errorId": f"oae{request_id[:19]}",
                "errorCauses": [{"errorSummary": cause} for cause in error.causes]}

    def rate_limit_headers(self, bucket: BucketState) -> list[tuple[str, str]]:
        return [("X-Rate-Limit-Limit", str(bucket.limit)),
                ("X-Rate-Limit-Remaining", str(max(0, bucket.remaining))),
                ("X-Rate-Limit-Reset", str(bucket.reset_epoch))]

    def common_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("X-Okta-Request-Id", request_id)]

    def state_summary(self) -> dict[str, Any]:
        return self.dataset.counts()

    def endpoints(self) -> Sequence[Endpoint]:
        e = Endpoint
        return [
            # Validate() of baton-okta reads the org settings first; a 404 here aborts its sync.
            e("GET", "/api/v1/org", self._get_org, "other"),
            e("GET", "/api/v1/devices", self._list_devices, "other", is_page=True),
            e("GET", "/api/v1/users", self._list_users, "users", is_page=True),
            e("GET", "/api/v1/users/{userId}", self._get_user, "user"),
            e("GET", "/api/v1/users/{userId}/roles", self._list_user_roles, "user-writes"),
            e("POST", "/api/v1/users/{userId}/roles", self._assign_user_role, "user-writes"),
            e("GET", "/api/v1/users/{userId}/roles/{roleAssignmentId}", self._get_user_role, "user-writes"),
            e("DELETE", "/api/v1/users/{userId}/roles/{roleAssignmentId}", self._unassign_user_role,
              "user-writes"),
            e("GET", "/api/v1/groups", self._list_groups, "groups", is_page=True),
            e("GET", "/api/v1/groups/{groupId}/users", self._list_group_users, "group", is_page=True),
            e("PUT", "/api/v1/groups/{groupId}/users/{userId}", self._add_group_member, "group"),
            e("DELETE", "/api/v1/groups/{groupId}/users/{userId}", self._remove_group_member, "group"),
            e("GET", "/api/v1/groups/{groupId}/roles", self._list_group_roles, "group"),
            e("POST", "/api/v1/groups/{groupId}/roles", self._assign_group_role, "group"),
            e("DELETE", "/api/v1/groups/{groupId}/roles/{roleAssignmentId}", self._unassign_group_role,
              "group"),
            e("GET", "/api/v1/apps", self._list_apps, "apps", is_page=True),
            e("GET", "/api/v1/apps/{appId}", self._get_app, "app"),
            e("GET", "/api/v1/apps/{appId}/users", self._list_app_users, "apps", is_page=True),
            e("POST", "/api/v1/apps/{appId}/users", self._assign_app_user, "apps"),
            e("GET", "/api/v1/apps/{appId}/users/{userId}", self._get_app_user, "apps"),
            e("DELETE", "/api/v1/apps/{appId}/users/{userId}", self._unassign_app_user, "apps"),
            e("GET", "/api/v1/apps/{appId}/groups", self._list_app_groups, "apps", is_page=True),
            e("GET", "/api/v1/apps/{appId}/groups/{groupId}", self._get_app_group, "apps"),
            e("PUT", "/api/v1/apps/{appId}/groups/{groupId}", self._assign_app_group, "apps"),
            e("DELETE", "/api/v1/apps/{appId}/groups/{groupId}", self._unassign_app_group, "apps"),
            e("GET", "/api/v1/iam/assignees/users", self._list_role_assignees, "other", is_page=True),
            e("GET", "/api/v1/iam/roles", self._list_custom_roles, "other", is_page=True),
            e("GET", "/api/v1/iam/resource-sets", self._list_resource_sets, "other", is_page=True),
            e("GET", "/api/v1/iam/resource-sets/{resourceSetIdOrLabel}/bindings", self._list_bindings,
              "other", is_page=True),
            e("GET", "/api/v1/iam/resource-sets/{resourceSetIdOrLabel}/bindings/{roleIdOrLabel}/members",
              self._list_binding_members, "other", is_page=True),
            e("PATCH", "/api/v1/iam/resource-sets/{resourceSetIdOrLabel}/bindings/{roleIdOrLabel}/members",
              self._add_binding_members, "other"),
            e("DELETE",
              "/api/v1/iam/resource-sets/{resourceSetIdOrLabel}/bindings/{roleIdOrLabel}/members/{memberId}",
              self._remove_binding_member, "other"),
        ]

    # ---- shared helpers ----------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock.time())

    def _user(self, request: SimRequest, param: str = "userId") -> int:
        ident = request.path_params[param]
        index = self.dataset.user_index(ident)
        if index is None:
            raise _not_found(ident, "User")
        return index

    def _group(self, request: SimRequest) -> int:
        ident = request.path_params["groupId"]
        index = self.dataset.group_index(ident)
        if index is None:
            raise _not_found(ident, "UserGroup")
        return index

    def _app(self, request: SimRequest) -> int:
        ident = request.path_params["appId"]
        index = self.dataset.app_index(ident)
        if index is None:
            raise _not_found(ident, "App")
        return index

    def _json_object(self, request: SimRequest) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _MALFORMED_BODY from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise _MALFORMED_BODY
        return body

    def _page(self, request: SimRequest, keys: Sequence[int], size: PageSize,
              render: Callable[[int], Any], keep: Callable[[int], bool] | None = None,
              ) -> tuple[list[Any], list[tuple[str, str]], str | None]:
        """One page of ``keys`` (ascending) after the request's cursor: items, Link headers, next URL."""
        try:
            limit = size.resolve(request.query.get("limit"))
        except ValueError:
            raise _invalid("limit", "must be an integer") from None
        after = request.query.get("after")
        try:
            start = 0 if not after else bisect.bisect_right(keys, self._cursors.decode(request.path, after))
        except InvalidCursor:
            raise _invalid("after", "is not a cursor issued for this list") from None
        with self.dataset.lock:
            if keep is None:
                stop = len(keys) if limit is None else min(len(keys), start + limit)
                chosen = list(keys[start:stop])
                has_more = stop < len(keys)
            else:
                chosen, has_more = [], False
                for pos in range(start, len(keys)):
                    if keep(keys[pos]):
                        if limit is not None and len(chosen) == limit:
                            has_more = True
                            break
                        chosen.append(keys[pos])
            items = [render(k) for k in chosen]
        params = dict(request.query)
        links = [("Link", link_header(page_url(request.base_url, request.path, params), "self"))]
        next_url = None
        if has_more and chosen:
            params["after"] = self._cursors.encode(request.path, chosen[-1])
            next_url = page_url(request.base_url, request.path, params)
            links.append(("Link", link_header(next_url, "next")))
        return items, links, next_url

    def _list(self, request: SimRequest, keys: Sequence[int], size: PageSize, render: Callable[[int], Any],
              keep: Callable[[int], bool] | None = None) -> SimResponse:
        items, links, _ = self._page(request, keys, size, render, keep)
        return SimResponse(200, items, links)

    def _iam_list(self, request: SimRequest, key: str, keys: Sequence[int], render: Callable[[int], Any],
                  extra_links: Mapping[str, Any] | None = None,
                  size: PageSize = OKTA_PAGE_SIZES["iam"]) -> SimResponse:
        items, links, next_url = self._page(request, keys, size, render)
        body_links: dict[str, Any] = dict(extra_links or {})
        if next_url:
            body_links["next"] = {"href": next_url}
        return SimResponse(200, {key: items, "_links": body_links}, links)

    # ---- org and devices ---------------------------------------------------------------------

    def _get_org(self, request: SimRequest) -> SimResponse:
        ds, base = self.dataset, request.base_url
        host = request.headers.get("host", "").rsplit(":", 1)[0]
        # The org's subdomain is the first label of the name the client used (an address names none).
        subdomain = host.split(".", 1)[0] if "." in host and not host.replace(".", "").isdigit() else "acme"
        org_id = f"00o{ds.org_suffix}{ds.user_ids.encode(0)[3:14]}"
        links = {rel: {"href": f"{base}/api/v1/org/{path}"} for rel, path in (
            ("contacts", "contacts"), ("logo", "logo"), ("uploadLogo", "logo"), ("preferences", "preferences"),
            ("oktaCommunication", "privacy/oktaCommunication"), ("oktaSupport", "privacy/oktaSupport"))}
        return SimResponse(200, {
            "id": org_id, "companyName": f"{subdomain.capitalize()} Inc.", "subdomain": subdomain,
            "status": "ACTIVE", "website": "https://www.example.com", "phoneNumber": "+1-555-0100",
            "address1": "100 Main Street", "city": "San Francisco", "state": "CA", "postalCode": "94105",
            "country": "United States", "supportPhoneNumber": "+1-555-0101",
            "endUserSupportHelpURL": "https://support.example.com",
            "created": "2019-01-01T00:00:00.000Z", "lastUpdated": "2025-06-01T00:00:00.000Z",
            "_links": links})

    def _list_devices(self, request: SimRequest) -> SimResponse:
        ds, base = self.dataset, request.base_url
        expand = request.query.get("expand")
        if expand not in (None, "user", "userSummary"):
            raise _invalid("expand", "must be user or userSummary")
        keep: Callable[[int], bool] | None = None
        if expression := request.query.get("search"):
            parsed = _parse_expression(expression, {"status", "id", "profile.platform", "profile.displayName"})
            keep = _predicate(parsed, lambda d, field: {
                "status": ds.device_status_name, "id": ds.device_ids.encode,
                "profile.platform": ds.device_platform_name,
                "profile.displayName": ds.device_display_name}[field](d))
        return self._list(request, range(ds.device_count()), OKTA_PAGE_SIZES["devices"],
                          lambda d: ds.render_device(d, base, expand=expand), keep)

    # ---- users -------------------------------------------------------------------------------

    def _user_field(self, index: int, field: str) -> str | None:
        ds = self.dataset
        if field == "status":
            return ds.user_status(index)
        if field == "id":
            return ds.user_ids.encode(index)
        if field in ("profile.login", "profile.email"):
            return ds.login(index)
        return None

    def _list_users(self, request: SimRequest) -> SimResponse:
        ds = self.dataset
        expression = request.query.get("search") or request.query.get("filter")
        with_credentials = "omitcredentials" not in request.headers.get("okta-response", "").lower()
        base = request.base_url

        def render(i: int) -> dict[str, Any]:
            return ds.render_user(i, base, with_credentials=with_credentials)

        if q := request.query.get("q"):
            # `q` is a prefix search that does not paginate; its default limit is 10.
            prefix = q.lower()
            limit = PageSize(default=10, maximum=200).resolve(request.query.get("limit")) or 10
            found = [i for i in range(ds.user_count)
                     if any(part.lower().startswith(prefix) for part in (ds.login(i), *ds.names(i)))][:limit]
            return SimResponse(200, [render(i) for i in found])
        keep: Callable[[int], bool] | None
        if expression:
            parsed = _parse_expression(expression, {"status", "id", "profile.login", "profile.email"})
            keep = None if parsed == [[("status", "pr", None)]] else _predicate(parsed, self._user_field)
        else:
            deprovisioned = USER_STATUSES.index("DEPROVISIONED")
            status = ds.status

            def keep(i: int) -> bool:
                return status[i] != deprovisioned
        return self._list(request, range(ds.user_count), OKTA_PAGE_SIZES["users"], render, keep)

    def _get_user(self, request: SimRequest) -> SimResponse:
        index = self._user(request)
        with_credentials = "omitcredentials" not in request.headers.get("okta-response", "").lower()
        user = self.dataset.render_user(index, request.base_url, with_credentials=with_credentials)
        return SimResponse(200, user)

    # ---- groups ------------------------------------------------------------------------------

    def _group_field(self, index: int, field: str) -> str | None:
        ds = self.dataset
        return {"type": ds.group_type_name, "id": ds.group_ids.encode,
                "profile.name": ds.group_name}.get(field, lambda _: None)(index)

    def _list_groups(self, request: SimRequest) -> SimResponse:
        ds = self.dataset
        with_stats = "stats" in request.query.get("expand", "").split(",")
        base = request.base_url
        keep: Callable[[int], bool] | None = None
        if expression := (request.query.get("search") or request.query.get("filter")):
            parsed = _parse_expression(expression, {"type", "id", "profile.name"})
            keep = _predicate(parsed, self._group_field)
        if q := request.query.get("q"):
            prefix = q.lower()

            def keep(g: int) -> bool:
                return ds.group_name(g).lower().startswith(prefix)
        return self._list(request, range(ds.group_count), OKTA_PAGE_SIZES["groups"],
                          lambda g: ds.render_group(g, base, with_stats=with_stats), keep)

    def _list_group_users(self, request: SimRequest) -> SimResponse:
        g = self._group(request)
        ds, base = self.dataset, request.base_url
        return self._list(request, ds.members_of_group(g), OKTA_PAGE_SIZES["group-users"],
                          lambda u: ds.render_user(u, base))

    def _editable_group(self, request: SimRequest) -> tuple[int, int]:
        g = self._group(request)
        u = self._user(request)
        if self.dataset.group_type_name(g) != "OKTA_GROUP":
            raise SimError(_FORBIDDEN.status, _FORBIDDEN.code, _FORBIDDEN.summary,
                           [f"Membership of {self.dataset.group_type_name(g)} groups is managed by Okta "
                            "or the source app"])
        return g, u

    def _add_group_member(self, request: SimRequest) -> SimResponse:
        g, u = self._editable_group(request)
        self.dataset.add_group_member(g, u, self._now())  # adding a member twice is not an error
        return SimResponse(204)

    def _remove_group_member(self, request: SimRequest) -> SimResponse:
        g, u = self._editable_group(request)
        self.dataset.remove_group_member(g, u, self._now())  # nor is removing a non-member
        return SimResponse(204)

    # ---- roles -------------------------------------------------------------------------------

    def _role_list(self, request: SimRequest, principal_type: str, index: int) -> SimResponse:
        base = request.base_url
        return SimResponse(200, [self.dataset.render_role(a, base)
                                 for a in self.dataset.roles_of(principal_type, index)])

    def _assign_role(self, request: SimRequest, principal_type: str, index: int, status: int) -> SimResponse:
        body = self._json_object(request)
        role_type = body.get("type")
        if role_type != "CUSTOM" and role_type not in STANDARD_ROLES:
            raise _invalid("type", f"'{role_type}' is not a role type")
        role = resource_set = None
        if role_type == "CUSTOM":
            role = self.dataset.custom_role_index(str(body.get("role", "")))
            resource_set = self.dataset.resource_set_index(str(body.get("resource-set", "")))
            if role is None or resource_set is None:
                raise _invalid("role" if role is None else "resource-set", "does not exist")
        assignment = self.dataset.assign_role(principal_type, index, role_type, self._now(),
                                              role=role, resource_set=resource_set)
        if assignment is None:
            raise SimError(409, "E0000090", "Duplicate role assignment exception.")
        return SimResponse(status, self.dataset.render_role(assignment, request.base_url))

    def _find_role(self, principal_type: str, index: int, assignment_id: str) -> Any:
        for assignment in self.dataset.roles_of(principal_type, index):
            if assignment.id == assignment_id:
                return assignment
        raise _not_found(assignment_id, "RoleAssignment")

    def _list_user_roles(self, request: SimRequest) -> SimResponse:
        return self._role_list(request, "USER", self._user(request))

    def _assign_user_role(self, request: SimRequest) -> SimResponse:
        return self._assign_role(request, "USER", self._user(request), 201)

    def _get_user_role(self, request: SimRequest) -> SimResponse:
        assignment = self._find_role("USER", self._user(request), request.path_params["roleAssignmentId"])
        return SimResponse(200, self.dataset.render_role(assignment, request.base_url))

    def _unassign_user_role(self, request: SimRequest) -> SimResponse:
        ident = request.path_params["roleAssignmentId"]
        if not self.dataset.unassign_role("USER", self._user(request), ident):
            raise _not_found(ident, "RoleAssignment")
        return SimResponse(204)

    def _list_group_roles(self, request: SimRequest) -> SimResponse:
        return self._role_list(request, "GROUP", self._group(request))

    def _assign_group_role(self, request: SimRequest) -> SimResponse:
        return self._assign_role(request, "GROUP", self._group(request), 200)

    def _unassign_group_role(self, request: SimRequest) -> SimResponse:
        ident = request.path_params["roleAssignmentId"]
        if not self.dataset.unassign_role("GROUP", self._group(request), ident):
            raise _not_found(ident, "RoleAssignment")
        return SimResponse(204)

    # ---- apps --------------------------------------------------------------------------------

    def _list_apps(self, request: SimRequest) -> SimResponse:
        ds, base = self.dataset, request.base_url
        keep: Callable[[int], bool] | None = None
        if expression := request.query.get("filter"):
            parsed = _parse_expression(expression, {"status", "name"})
            keep = _predicate(parsed, lambda a, field: ds.app_status_name(a) if field == "status"
                              else ds.app_name(a))
        if q := request.query.get("q"):
            prefix = q.lower()

            def keep(a: int) -> bool:
                return ds.app_label(a).lower().startswith(prefix) or ds.app_name(a).startswith(prefix)
        return self._list(request, range(ds.app_count), OKTA_PAGE_SIZES["apps"],
                          lambda a: ds.render_app(a, base), keep)

    def _get_app(self, request: SimRequest) -> SimResponse:
        return SimResponse(200, self.dataset.render_app(self._app(request), request.base_url))

    def _list_app_users(self, request: SimRequest) -> SimResponse:
        a = self._app(request)
        ds, base = self.dataset, request.base_url
        return self._list(request, ds.app_users[a], OKTA_PAGE_SIZES["app-users"],
                          lambda u: ds.render_app_user(a, u, base))

    def _get_app_user(self, request: SimRequest) -> SimResponse:
        a, u = self._app(request), self._user(request)
        if not self.dataset.is_app_user(a, u):
            raise _not_found(request.path_params["userId"], "AppUser")
        return SimResponse(200, self.dataset.render_app_user(a, u, request.base_url))

    def _assign_app_user(self, request: SimRequest) -> SimResponse:
        a = self._app(request)
        body = self._json_object(request)
        ident = body.get("id")
        if not isinstance(ident, str) or not ident:
            raise _invalid("id", "is required")
        u = self.dataset.user_index(ident)
        if u is None:
            raise _not_found(ident, "User")
        if body.get("scope", "USER") not in ("USER", "GROUP"):
            raise _invalid("scope", "must be USER or GROUP")
        self.dataset.assign_app_user(a, u, self._now())  # re-assigning returns the existing app user
        return SimResponse(200, self.dataset.render_app_user(a, u, request.base_url))

    def _unassign_app_user(self, request: SimRequest) -> SimResponse:
        a, u = self._app(request), self._user(request)
        if not self.dataset.unassign_app_user(a, u):
            raise _not_found(request.path_params["userId"], "AppUser")
        return SimResponse(204)

    def _list_app_groups(self, request: SimRequest) -> SimResponse:
        a = self._app(request)
        ds, base = self.dataset, request.base_url
        return self._list(request, ds.app_groups[a], OKTA_PAGE_SIZES["app-groups"],
                          lambda g: ds.render_app_group(a, g, base))

    def _get_app_group(self, request: SimRequest) -> SimResponse:
        a, g = self._app(request), self._group(request)
        if not self.dataset.is_app_group(a, g):
            raise _not_found(request.path_params["groupId"], "ApplicationGroupAssignment")
        return SimResponse(200, self.dataset.render_app_group(a, g, request.base_url))

    def _assign_app_group(self, request: SimRequest) -> SimResponse:
        a, g = self._app(request), self._group(request)
        self._json_object(request)  # priority/profile are accepted and not modelled
        self.dataset.assign_app_group(a, g, self._now())
        return SimResponse(200, self.dataset.render_app_group(a, g, request.base_url))

    def _unassign_app_group(self, request: SimRequest) -> SimResponse:
        a, g = self._app(request), self._group(request)
        if not self.dataset.unassign_app_group(a, g):
            raise _not_found(request.path_params["groupId"], "ApplicationGroupAssignment")
        return SimResponse(204)

    # ---- /iam --------------------------------------------------------------------------------

    def _list_role_assignees(self, request: SimRequest) -> SimResponse:
        ds, base = self.dataset, request.base_url

        def render(u: int) -> dict[str, Any]:
            uid = ds.user_ids.encode(u)
            return {"id": uid, "orn": f"orn:okta:directory:{ds.org_suffix}:users:{uid}",
                    "_links": {"self": {"href": f"{base}/api/v1/users/{uid}"},
                               "roles": {"href": f"{base}/api/v1/users/{uid}/roles"}}}
        return self._iam_list(request, "value", ds.users_with_roles(), render,
                              size=OKTA_PAGE_SIZES["assignees"])

    def _list_custom_roles(self, request: SimRequest) -> SimResponse:
        ds, base = self.dataset, request.base_url
        return self._iam_list(request, "roles", range(len(ds.custom_roles)),
                              lambda r: ds.render_custom_role(r, base))

    def _list_resource_sets(self, request: SimRequest) -> SimResponse:
        ds, base = self.dataset, request.base_url
        return self._iam_list(request, "resource-sets", range(len(ds.resource_sets)),
                              lambda rs: ds.render_resource_set(rs, base))

    def _resource_set(self, request: SimRequest) -> int:
        ident = request.path_params["resourceSetIdOrLabel"]
        index = self.dataset.resource_set_index(ident)
        if index is None:
            raise _not_found(ident, "ResourceSet")
        return index

    def _binding(self, request: SimRequest) -> tuple[int, int]:
        rs = self._resource_set(request)
        ident = request.path_params["roleIdOrLabel"]
        role = self.dataset.custom_role_index(ident)
        if role is None or (rs, role) not in self.dataset.bindings:
            raise _not_found(ident, "ResourceSetBinding")
        return rs, role

    def _list_bindings(self, request: SimRequest) -> SimResponse:
        rs = self._resource_set(request)
        ds, base = self.dataset, request.base_url
        rs_href = f"{base}/api/v1/iam/resource-sets/{ds.resource_sets[rs].id}"

        def render(role: int) -> dict[str, Any]:
            role_id = ds.custom_roles[role].id
            return {"id": role_id, "_links": {"self": {"href": f"{base}/api/v1/iam/roles/{role_id}"},
                                              "members": {"href": f"{rs_href}/bindings/{role_id}/members"}}}
        roles = sorted(role for (r, role) in ds.bindings if r == rs)
        return self._iam_list(request, "roles", roles, render,
                              {"self": {"href": f"{rs_href}/bindings"}, "resource-set": {"href": rs_href}})

    def _list_binding_members(self, request: SimRequest) -> SimResponse:
        rs, role = self._binding(request)
        ds, base = self.dataset, request.base_url
        members = ds.bindings[(rs, role)]
        by_number = {ds.binding_member_ids.decode(m) or 0: m for m in members}
        binding_href = (f"{base}/api/v1/iam/resource-sets/{ds.resource_sets[rs].id}"
                        f"/bindings/{ds.custom_roles[role].id}")
        links = {"self": {"href": f"{binding_href}/members"}, "binding": {"href": binding_href}}
        return self._iam_list(request, "members", sorted(by_number),
                              lambda n: ds.render_binding_member(members[by_number[n]], base), links)

    def _add_binding_members(self, request: SimRequest) -> SimResponse:
        rs, role = self._binding(request)
        additions = self._json_object(request).get("additions")
        if not isinstance(additions, list) or not additions:
            raise _invalid("additions", "must be a non-empty list of user or group URLs")
        ds = self.dataset
        principals: list[tuple[str, int]] = []
        for href in additions:
            kind, _, ident = str(href).rstrip("/").rpartition("/")
            if kind.endswith("/users") and (u := ds.user_index(ident)) is not None:
                principals.append(("USER", u))
            elif kind.endswith("/groups") and (g := ds.group_index(ident)) is not None:
                principals.append(("GROUP", g))
            else:
                raise _invalid("additions", f"'{href}' is not a user or group in this org")
        now = self._now()
        for principal_type, index in principals:
            ds.assign_role(principal_type, index, "CUSTOM", now, role=role, resource_set=rs)
        href = (f"{request.base_url}/api/v1/iam/resource-sets/{ds.resource_sets[rs].id}"
                f"/bindings/{ds.custom_roles[role].id}")
        links = {"self": {"href": href}, "bindings": {"href": href.rsplit("/", 1)[0]}}
        return SimResponse(200, {"_links": links})

    def _remove_binding_member(self, request: SimRequest) -> SimResponse:
        rs, role = self._binding(request)
        ident = request.path_params["memberId"]
        with self.dataset.lock:
            if self.dataset.bindings[(rs, role)].pop(ident, None) is None:
                raise _not_found(ident, "ResourceSetBindingMember")
        return SimResponse(204)
