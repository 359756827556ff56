"""A stateful Coupa Core API simulator: OAuth client credentials, users and their access, complete-list PUTs.

    sim = CoupaSim(seed=7, users=300)
    with serve(sim.app) as base_url:
        token = httpx.post(f"{base_url}/oauth2/token", auth=(sim.client_id, sim.client_secret),
                           data={"grant_type": "client_credentials", "scope": "core.user.read"}).json()
        httpx.get(f"{base_url}/api/users", headers={"Authorization": f"Bearer {token['access_token']}",
                                                    "Accept": "application/json"})
    sim.dataset.role_assignments()     # the exact ground truth
    sim.writes.entries("PUT")          # every PUT body as sent, e.g. to prove no empty intermediate list

Fidelity notes (shared notes, "Coupa Core API"):
- ``POST /oauth2/token``: ``grant_type=client_credentials`` with the client id/secret in the form body
  *or* HTTP Basic (one method per request, RFC 6749 §2.3); ``scope`` is space-separated and must be a
  subset of the client's scopes (omitted: all of them [U]). Answer ``{access_token, token_type: "bearer",
  expires_in, scope, created_at}`` (``created_at`` as Doorkeeper adds it [U]); lifetime 24 h by default
  [U], set with ``token_lifetime``. No refresh token.
  Token errors use the RFC 6749 shape ``{"error", "error_description"}`` [U: Coupa runs Doorkeeper].
- Every ``/api`` call needs ``Authorization: Bearer`` and ``Accept: application/json``. Another Accept
  gets **406** with a JSON error: this simulator renders no XML (real Coupa would answer XML).
- Scopes: ``core.user.read`` for ``/api/users`` and ``/api/roles`` [U: roles have no documented scope];
  ``core.user_group.read`` for ``/api/user_groups``; ``core.common.read`` for ``/api/business_groups`` [U];
  ``core.accounting.read`` for ``/api/account_groups``; ``core.user.write`` for ``PUT /api/users/{id}``;
  ``core.user_group.write`` for ``PUT /api/user_groups/{id}``. A missing scope is 403.
- Lists: ``offset``/``limit`` (default and cap 50; a larger limit is clamped [U]), ordered by id,
  ``[]`` past the end, no Link header and no totals. Filters ``attr=value`` and ``attr[op]=value``
  (ops ``gt gt_or_eq lt lt_or_eq not_eq contains starts_with blank in`` [U beyond the verified ones]),
  nested ``roles[id]=5``; dashes and underscores are interchangeable. An unknown filter is a 400 [U]:
  failing loudly beats silently returning everything. ``fields=["id",{"roles":["id","name"]}]`` trims.
- ``POST /api/graphql``: the GraphQL read API baton-coupa uses (``users``, ``userGroups``, ``roles`` with a
  REST query string as ``query:``), over the same dataset and filters; see ``_coupa_graphql``.
- ``/api/roles`` is a REST index here [U: Coupa documents roles only as embedded in users].
- ``PUT /api/users/{id}``: ``roles``, ``user-groups``, ``content-groups``, ``account-groups`` *replace*
  the current list (``[]`` removes all; entries by ``id`` or ``name``); licence flags, ``active``,
  ``firstname``, ``lastname``, ``email`` are set; other keys are ignored [U]; ``treasury_user`` style
  underscore keys are read as dashed [U]. 200 with the record. Every body is logged in `writes`.
- Errors: ``{"errors": {"<resource>": ["message", …]}}``; validation errors are 400 [U: maybe 422].
- Rate limit: a token bucket of 20 (burst) refilling at 25/s for the API, a separate one for
  ``/oauth2/token`` [U]; 429 without ``Retry-After`` by default (undocumented [U]); ``retry_after=True``
  adds one.
- Token expiry: `expire_tokens` (or ``POST /__sim/tokens/expire``) ends every issued token; an expired
  token gets 401 with ``WWW-Authenticate: Bearer error="invalid_token"`` [U: body shape].
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs

from iac.sim._clock import Clock
from iac.sim._coupa_data import LICENSE_FLAGS, CoupaDataset, NamedRecord, coupa_timestamp
from iac.sim._faults import FaultSettings
from iac.sim._http import Endpoint, Handler, SimError, SimRequest, SimResponse, SimulatorBase
from iac.sim._oauth import TokenIssuer, TokenState
from iac.sim._paging import PageSize
from iac.sim._ratelimit import BucketState, TokenBucketLimiter
from iac.sim._seeded import short_code, token_from_seed

if TYPE_CHECKING:
    from iac.sim._coupa_graphql import CoupaGraphQL

__all__ = ["COUPA_PAGE_SIZE", "COUPA_RATE_LIMIT", "COUPA_SCOPES", "CoupaSim"]

COUPA_SCOPES = frozenset({
    "core.user.read", "core.user.write", "core.user_group.read", "core.user_group.write", "core.common.read",
    "core.common.write", "core.business_entity.read", "core.business_entity.write", "core.accounting.read",
    "openid", "email", "login", "profile",
})
# "25 requests per second and a burst query limit of 20 calls": (bucket size, refill per second).
COUPA_RATE_LIMIT = (20, 25.0)
COUPA_PAGE_SIZE = PageSize(default=50, maximum=50)

_TOKEN_PATH = "/oauth2/token"
_CONTENT_TYPE = "application/json; charset=utf-8"
_ESCAPED_QUERY = re.compile(r"(?<=\d)\?.*\Z", re.DOTALL)
_FILTER_KEY = re.compile(r"([a-z_]+)((?:\[[a-z_]+\])*)")
_RESERVED_PARAMS = frozenset({"offset", "limit", "fields", "return_object"})
_OPS = frozenset({"eq", "not_eq", "gt", "gt_or_eq", "lt", "lt_or_eq", "contains", "starts_with", "blank", "in"})
_LIST_KEYS = ("roles", "user-groups", "content-groups", "account-groups")
_TEXT_KEYS = ("firstname", "lastname", "email")

FieldValue = int | str | bool | None | list[int] | list[str]
_Ordered = TypeVar("_Ordered", int, str)
Accessor = Callable[[int], FieldValue]


def _error(key: str, message: str, status: int = 400, headers: Sequence[tuple[str, str]] = ()) -> SimError:
    return SimError(status, key, message, headers=headers)


def _compare(left: _Ordered, right: _Ordered, op: str) -> bool:
    if op == "eq":
        return left == right
    if op == "not_eq":
        return left != right
    if op == "contains":
        return str(right) in str(left)
    if op == "starts_with":
        return str(left).startswith(str(right))
    if op == "gt":
        return left > right
    if op == "gt_or_eq":
        return left >= right
    if op == "lt":
        return left < right
    return left <= right  # lt_or_eq


def _matches(actual: FieldValue, op: str, wanted: str) -> bool:
    """One Coupa search criterion against one value (a list matches when any element does).
    Raises ValueError when ``wanted`` cannot be compared with the field (``id[gt]=abc``)."""
    if isinstance(actual, list):
        return any(_matches(item, op, wanted) for item in actual)
    if op == "blank":
        blank = actual is None or actual == ""
        return blank == (wanted.lower() == "true")
    if op == "in":
        return any(_matches(actual, "eq", item) for item in wanted.split(","))
    if actual is None:
        return op == "not_eq"
    if isinstance(actual, bool):
        if wanted.lower() not in ("true", "false"):
            raise ValueError(f"expected true or false, got {wanted!r}")
        return (actual == (wanted.lower() == "true")) == (op != "not_eq")
    if isinstance(actual, int):
        return _compare(actual, int(wanted), op)
    return _compare(actual.lower(), wanted.lower(), op)  # Coupa matches text case-insensitively [U]


def _project(value: Any, spec: Sequence[Any]) -> Any:
    """Apply a ``fields`` specification (``["id", {"roles": ["id", "name"]}]``) to a rendered record."""
    if isinstance(value, list):
        return [_project(item, spec) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for item in spec:
        if isinstance(item, str):
            if item in value:
                out[item] = value[item]
        else:
            for key, sub in item.items():
                if key in value:
                    out[key] = _project(value[key], sub)
    return out


def _parse_fields(raw: str | None) -> list[Any] | None:
    if raw is None:
        return None
    try:
        spec = json.loads(raw)
    except ValueError:
        raise _error("request", f"fields is not a JSON list: {raw}") from None

    def valid(items: Any) -> bool:
        return isinstance(items, list) and all(
            isinstance(i, str) or (isinstance(i, dict) and all(isinstance(k, str) and valid(v) for k, v in i.items()))
            for i in items)
    if not valid(spec):
        raise _error("request", f"fields must be a list of names and {{name: [...]}} objects: {raw}")
    return list(spec)


class CoupaSim(SimulatorBase):
    """A Coupa instance generated from a seed and served over HTTP (`app`), with ground truth (`dataset`)."""

    content_type = _CONTENT_TYPE

    def __init__(self, *, seed: int = 0, users: int = 500, user_groups: int = 20, content_groups: int = 8,
                 account_groups: int = 6, client_id: str | None = None, client_secret: str | None = None,
                 client_scopes: Iterable[str] | None = None, token_lifetime: float = 86_400.0,
                 rate_scale: float = 1.0, retry_after: bool = False, clock: Clock | None = None,
                 faults: FaultSettings | None = None) -> None:
        burst, per_second = COUPA_RATE_LIMIT
        super().__init__(seed=seed, clock=clock, faults=faults, rate_limiter=lambda c: TokenBucketLimiter(
            {"api": burst, "oauth": burst}, {"api": per_second, "oauth": per_second}, clock=c, scale=rate_scale))
        self.dataset = CoupaDataset.generate(seed=seed, users=users, user_groups=user_groups,
                                             content_groups=content_groups, account_groups=account_groups)
        self.client_id = client_id or f"sim-coupa-{short_code(seed, 'coupa-client', 12)}"
        self.client_secret = client_secret or token_from_seed(seed ^ 0xC0FA, 40)
        self.client_scopes = frozenset(COUPA_SCOPES if client_scopes is None else client_scopes)
        self.retry_after = retry_after
        self.tokens = TokenIssuer(seed, self.clock, lifetime=token_lifetime, purpose="coupa-access-token")
        self._default_token: str | None = None
        self._filter_cache: dict[tuple[str, tuple[tuple[str, str, str], ...]], tuple[int, list[int]]] = {}
        self._graphql_api: CoupaGraphQL | None = None  # built on first use (graphql-core is not a runtime need)

    # ---- credentials ---------------------------------------------------------------------------

    def issue_token(self, scopes: Iterable[str] | None = None) -> str:
        """A bearer token minted without the HTTP token call (tests); all the client's scopes by default."""
        return self.tokens.issue(self.client_id, self.client_scopes if scopes is None else scopes).value

    @property
    def auth_headers(self) -> dict[str, str]:
        """Headers for a test client: a bearer token with every scope (re-minted once expired) and JSON."""
        if self._default_token is None or self.tokens.check(self._default_token)[0] is not TokenState.VALID:
            self._default_token = self.issue_token()
        return {"Authorization": f"Bearer {self._default_token}", "Accept": "application/json"}

    def expire_tokens(self) -> int:
        return self.tokens.expire_all()

    # ---- SimulatorBase hooks -------------------------------------------------------------------

    def _bearer(self, request: SimRequest) -> str | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else None

    def is_authorized(self, request: SimRequest) -> bool:
        if request.path == _TOKEN_PATH:
            return True  # the token endpoint authenticates the client itself
        value = self._bearer(request)
        state = self.tokens.check(value)[0] if value else TokenState.UNKNOWN
        if state is TokenState.EXPIRED:
            # Raised here (not returned) so the client learns *why*; the base formats it like any error.
            raise _error("authorization", "The access token expired", 401,
                         [("WWW-Authenticate", 'Bearer error="invalid_token", '
                                               'error_description="The access token expired"')])
        return state is TokenState.VALID

    def unauthorized_error(self) -> SimError:
        return _error("authorization", "The access token is invalid", 401,
                      [("WWW-Authenticate", 'Bearer error="invalid_token", '
                                            'error_description="The access token is invalid"')])

    def rate_limited_error(self, bucket: BucketState) -> SimError:
        headers = [("Retry-After", str(max(1, math.ceil(bucket.retry_after))))] if self.retry_after else []
        return _error("request", "Too many requests: the limit is 25 per second with bursts of 20", 429, headers)

    def server_error(self) -> SimError:
        return _error("base", "Internal server error", 500)

    def unknown_route_error(self, method: str, path: str) -> SimError:
        return _error("request", f"No route matches {method} {path}", 404)

    def error_payload(self, error: SimError, request_id: str) -> Any:
        return {"errors": {error.code: [error.summary, *error.causes]}}

    def common_headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("X-Request-Id", request_id)]

    def state_summary(self) -> dict[str, Any]:
        return {**self.dataset.counts(), "live_tokens": self.tokens.live_count()}

    def endpoints(self) -> Sequence[Endpoint]:
        e, g = Endpoint, self._guarded
        return [
            e("POST", _TOKEN_PATH, self._token, "oauth", records_writes=False),  # issues a token, changes nothing
            e("GET", "/api/users", g(self._list_users, "core.user.read"), "api", is_page=True),
            e("GET", "/api/users/{userId}", g(self._get_user, "core.user.read"), "api"),
            e("PUT", "/api/users/{userId}", g(self._put_user, "core.user.write"), "api"),
            e("GET", "/api/user_groups", g(self._list_user_groups, "core.user_group.read"), "api", is_page=True),
            e("GET", "/api/user_groups/{groupId}", g(self._get_user_group, "core.user_group.read"), "api"),
            e("PUT", "/api/user_groups/{groupId}", g(self._put_user_group, "core.user_group.write"), "api"),
            e("GET", "/api/roles", g(self._list_roles, "core.user.read"), "api", is_page=True),
            e("GET", "/api/business_groups", g(self._list_business_groups, "core.common.read"), "api",
              is_page=True),
            e("GET", "/api/account_groups", g(self._list_account_groups, "core.accounting.read"), "api",
              is_page=True),
            # GraphQL reads (what baton-coupa uses); each root field checks its own scope.
            e("POST", "/api/graphql", self._graphql, "api"),
        ]

    # ---- the token endpoint ----------------------------------------------------------------------

    def _token(self, request: SimRequest) -> SimResponse:
        def oauth_error(status: int, error: str, description: str) -> SimResponse:
            headers = [("Cache-Control", "no-store")]
            if status == 401:
                headers.append(("WWW-Authenticate", 'Basic realm="Coupa"'))
            return SimResponse(status, {"error": error, "error_description": description}, headers)

        form = {k: v[-1] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        basic: tuple[str, str] | None = None
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return oauth_error(401, "invalid_client", "The Basic credentials are not base64 'id:secret'")
            if not sep:
                return oauth_error(401, "invalid_client", "The Basic credentials are not base64 'id:secret'")
            basic = (user, password)
        in_body = ("client_id" in form or "client_secret" in form)
        if basic and in_body and (form.get("client_id"), form.get("client_secret")) != basic:
            return oauth_error(400, "invalid_request", "Use one client authentication method, not two")
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client_id != self.client_id or secret != self.client_secret:
            return oauth_error(401, "invalid_client", "Client authentication failed due to unknown client, "
                                                      "no client authentication included, or unsupported "
                                                      "authentication method.")
        if form.get("grant_type") != "client_credentials":
            return oauth_error(400, "unsupported_grant_type",
                               "The authorization grant type is not supported by the authorization server.")
        requested = set(form.get("scope", "").split()) or set(self.client_scopes)
        if not requested <= self.client_scopes:
            return oauth_error(400, "invalid_scope", "The requested scope is invalid, unknown, or malformed: "
                                                     + " ".join(sorted(requested - self.client_scopes)))
        token = self.tokens.issue(client_id, requested)
        body = {"access_token": token.value, "token_type": "bearer",
                "expires_in": token.expires_in(self.clock.time()), "scope": " ".join(sorted(requested)),
                "created_at": int(token.issued_at)}
        return SimResponse(200, body, [("Cache-Control", "no-store")])

    # ---- shared helpers --------------------------------------------------------------------------

    def _guarded(self, handler: Handler, scope: str) -> Handler:
        """JSON only, and only for a token holding ``scope``."""
        def run(request: SimRequest) -> SimResponse:
            accept = request.headers.get("accept", "")
            if not any(part.split(";")[0].strip() == "application/json" for part in accept.split(",")):
                raise _error("request", "Send 'Accept: application/json': this simulator renders no XML", 406)
            token = self.tokens.check(self._bearer(request) or "")[1]
            if token is None or scope not in token.scopes:
                raise _error("authorization", f"The access token lacks the scope {scope}", 403,
                             [("WWW-Authenticate", f'Bearer error="insufficient_scope", scope="{scope}"')])
            return handler(request)
        return run

    def _now(self) -> int:
        return int(self.clock.time())

    def _list(self, request: SimRequest, count: int, render: Callable[[int], Any],
              fields: Mapping[str, Accessor]) -> SimResponse:
        """One offset/limit page of records ``0..count-1`` (id order) that pass the query's filters."""
        spec = _parse_fields(request.query.get("fields"))
        with self.dataset.lock:
            items = [render(i) for i in self.select(request.path, count, fields, request.query)]
        return SimResponse(200, items if spec is None else _project(items, spec))

    def select(self, path: str, count: int, fields: Mapping[str, Accessor], query: Mapping[str, str]) -> list[int]:
        """The indexes of one offset/limit page of ``query``'s matches among records ``0..count-1`` (REST and
        GraphQL alike); SimError 400 for a bad page or filter."""
        try:
            offset = int(query.get("offset") or 0)
            limit = COUPA_PAGE_SIZE.resolve(query.get("limit")) or COUPA_PAGE_SIZE.default
        except ValueError:
            raise _error("request", "offset and limit must be integers") from None
        if offset < 0:
            raise _error("request", "offset must not be negative")
        criteria = self._criteria(query, fields)
        with self.dataset.lock:
            if not criteria:
                return list(range(offset, min(count, offset + limit)))
            return self._matching(path, count, fields, criteria)[offset: offset + limit]

    def _matching(self, path: str, count: int, fields: Mapping[str, Accessor],
                  criteria: list[tuple[str, str, str]]) -> list[int]:
        """Indexes passing ``criteria``, cached until the next write: paging a filtered list of 100k users
        page by page must not rescan them all for every page."""
        key = (path, tuple(sorted(criteria)))
        cached = self._filter_cache.get(key)
        if cached is not None and cached[0] == self.dataset.version:
            return cached[1]
        try:
            found = [i for i in range(count)
                     if all(_matches(fields[name](i), op, wanted) for name, op, wanted in criteria)]
        except ValueError as exc:
            raise _error("request", f"Invalid search value: {exc}") from None
        if len(self._filter_cache) >= 64:
            self._filter_cache.clear()
        self._filter_cache[key] = (self.dataset.version, found)
        return found

    def _criteria(self, query: Mapping[str, str], fields: Mapping[str, Accessor]) -> list[tuple[str, str, str]]:
        criteria = []
        for key, wanted in query.items():
            if key in _RESERVED_PARAMS:
                continue
            match = _FILTER_KEY.fullmatch(key.replace("-", "_"))
            if match is None:
                raise _error("request", f"Unsupported search criteria: {key}")
            name, rest = match.group(1), match.group(2)
            brackets = re.findall(r"\[([a-z_]+)\]", rest)
            if brackets and f"{name}[{brackets[0]}]" in fields:  # nested: roles[id]=5, roles[id][in]=1,2
                name, brackets = f"{name}[{brackets[0]}]", brackets[1:]
            op = brackets[0] if brackets else "eq"
            if name not in fields or op not in _OPS or len(brackets) > 1:
                raise _error("request", f"Unsupported search criteria: {key}")
            criteria.append((name, op, wanted))
        return criteria

    def _respond(self, request: SimRequest, record: dict[str, Any]) -> SimResponse:
        spec = _parse_fields(request.query.get("fields"))
        return SimResponse(200, record if spec is None else _project(record, spec))

    # ---- users -----------------------------------------------------------------------------------

    def user_fields(self) -> dict[str, Accessor]:
        ds = self.dataset
        users = ds.users

        def ids(records: Sequence[NamedRecord], attr: str) -> Accessor:
            return lambda i: [records[x].id for x in getattr(users[i], attr)]

        def names(records: Sequence[NamedRecord], attr: str) -> Accessor:
            return lambda i: [records[x].name for x in getattr(users[i], attr)]

        def license_of(flag: str) -> Accessor:
            return lambda i: users[i].has_license(flag)
        fields: dict[str, Accessor] = {
            "id": lambda i: users[i].id,
            "login": lambda i: users[i].login,
            "email": lambda i: users[i].email,
            "firstname": lambda i: users[i].firstname,
            "lastname": lambda i: users[i].lastname,
            "employee_number": lambda i: users[i].employee_number,
            "type": lambda i: None,  # baton-coupa lists users with type[blank]=true [U: what sets a type]
            "active": lambda i: users[i].active,
            "api_user": lambda i: users[i].api_user,
            "created_at": lambda i: coupa_timestamp(users[i].created),
            "updated_at": lambda i: coupa_timestamp(users[i].updated),
        }
        for attr, records in (("roles", ds.roles), ("user_groups", ds.user_groups),
                              ("content_groups", ds.content_groups), ("account_groups", ds.account_groups)):
            fields[f"{attr}[id]"] = ids(records, attr)
            fields[f"{attr}[name]"] = names(records, attr)
        for flag in LICENSE_FLAGS:
            fields[flag.replace("-", "_")] = license_of(flag)
        return fields

    def _user(self, request: SimRequest) -> int:
        # baton-coupa builds `/api/users/7?fields=[...]` with url.JoinPath, which sends the `?` escaped as part
        # of the path. Rails casts such an id to its leading integer [U]; the escaped query is then no query.
        raw = request.path_params["userId"]
        index = self.dataset.user_index(_ESCAPED_QUERY.sub("", raw))
        if index is None:
            raise _error("user", f"No user with id {request.path_params['userId']}", 404)
        return index

    def _list_users(self, request: SimRequest) -> SimResponse:
        return self._list(request, self.dataset.user_count, self.dataset.render_user, self.user_fields())

    def _get_user(self, request: SimRequest) -> SimResponse:
        return self._respond(request, self.dataset.render_user(self._user(request)))

    def _json_object(self, request: SimRequest, resource: str) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise _error(resource, "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _error(resource, "The request body must be a JSON object")
        # Coupa treats dashes and underscores alike in argument names; bodies are assumed to as well [U].
        return {key.replace("_", "-"): value for key, value in body.items()}

    def _references(self, value: Any, records: Sequence[NamedRecord], key: str, problems: list[str]) -> list[int]:
        if not isinstance(value, list):
            problems.append(f"{key} must be a list of {{id}} or {{name}} objects")
            return []
        found = []
        for ref in value:
            index = CoupaDataset.find(records, ref) if isinstance(ref, dict) else None
            if index is None:
                problems.append(f"{key}: no match for {json.dumps(ref)}")
            else:
                found.append(index)
        return found

    def _put_user(self, request: SimRequest) -> SimResponse:
        index = self._user(request)
        body = self._json_object(request, "user")
        ds = self.dataset
        problems: list[str] = []
        catalogues = {"roles": ds.roles, "user-groups": ds.user_groups, "content-groups": ds.content_groups,
                      "account-groups": ds.account_groups}
        lists = {key: self._references(body[key], catalogues[key], key, problems)
                 for key in _LIST_KEYS if key in body}
        licenses: dict[str, bool] = {}
        for flag in LICENSE_FLAGS:
            if flag in body:
                if isinstance(body[flag], bool):
                    licenses[flag] = body[flag]
                else:
                    problems.append(f"{flag} must be true or false")
        active = body.get("active")
        if "active" in body and not isinstance(active, bool):
            problems.append("active must be true or false")
        texts = {}
        for key in _TEXT_KEYS:
            if key in body:
                if isinstance(body[key], str) and body[key].strip():
                    texts[key] = body[key]
                else:
                    problems.append(f"{key} can't be blank")
        if problems:
            raise SimError(400, "user", problems[0], problems[1:])
        ds.update_user(index, self._now(), active=active if isinstance(active, bool) else None,
                       roles=lists.get("roles"), user_groups=lists.get("user-groups"),
                       content_groups=lists.get("content-groups"), account_groups=lists.get("account-groups"),
                       licenses=licenses, fields=texts)
        return self._respond(request, ds.render_user(index))

    # ---- GraphQL ---------------------------------------------------------------------------------

    def _graphql(self, request: SimRequest) -> SimResponse:
        accept = request.headers.get("accept", "application/json")
        if not any(part.split(";")[0].strip() in ("application/json", "*/*") for part in accept.split(",")):
            raise _error("request", "Send 'Accept: application/json'", 406)
        token = self.tokens.check(self._bearer(request) or "")[1]
        try:
            body = request.json()
        except ValueError:
            raise _error("request", "The request body is not valid JSON") from None
        if self._graphql_api is None:
            from iac.sim._coupa_graphql import CoupaGraphQL

            self._graphql_api = CoupaGraphQL(self)
        return SimResponse(200, self._graphql_api.execute(body, frozenset(token.scopes) if token else frozenset()))

    # ---- groups and catalogues -------------------------------------------------------------------

    @staticmethod
    def catalogue_fields(records: Sequence[NamedRecord]) -> dict[str, Accessor]:
        return {"id": lambda i: records[i].id, "name": lambda i: records[i].name,
                "active": lambda i: records[i].active}

    def _group(self, request: SimRequest) -> int:
        raw = request.path_params["groupId"]
        index = CoupaDataset.find(self.dataset.user_groups, {"id": raw})
        if index is None:
            raise _error("user_group", f"No user group with id {raw}", 404)
        return index

    def user_group_fields(self) -> dict[str, Accessor]:
        ds = self.dataset
        fields = self.catalogue_fields(ds.user_groups)
        fields["users[id]"] = lambda g: sorted(ds.users[u].id for u in ds.group_members[g])
        return fields

    def _list_user_groups(self, request: SimRequest) -> SimResponse:
        ds = self.dataset
        return self._list(request, len(ds.user_groups), ds.render_user_group, self.user_group_fields())

    def _get_user_group(self, request: SimRequest) -> SimResponse:
        return self._respond(request, self.dataset.render_user_group(self._group(request)))

    def _put_user_group(self, request: SimRequest) -> SimResponse:
        g = self._group(request)
        body = self._json_object(request, "user_group")
        if "users" in body:
            if not isinstance(body["users"], list):
                raise _error("user_group", "users must be a list of {id} or {login} objects")
            members = []
            for ref in body["users"]:
                index = None
                if isinstance(ref, dict) and "id" in ref:
                    index = self.dataset.user_index(str(ref["id"]))
                elif isinstance(ref, dict) and "login" in ref:
                    index = next((i for i, u in enumerate(self.dataset.users) if u.login == ref["login"]), None)
                if index is None:
                    raise _error("user_group", f"users: no match for {json.dumps(ref)}")
                members.append(index)
            self.dataset.set_group_members(g, members, self._now())
        return self._respond(request, self.dataset.render_user_group(g))

    def _list_roles(self, request: SimRequest) -> SimResponse:
        ds = self.dataset
        return self._list(request, len(ds.roles), ds.render_role, self.catalogue_fields(ds.roles))

    def _list_business_groups(self, request: SimRequest) -> SimResponse:
        ds = self.dataset
        return self._list(request, len(ds.content_groups),
                          lambda c: ds.render_named(ds.content_groups[c], kind="content-group"),
                          self.catalogue_fields(ds.content_groups))

    def _list_account_groups(self, request: SimRequest) -> SimResponse:
        ds = self.dataset
        return self._list(request, len(ds.account_groups),
                          lambda a: ds.render_named(ds.account_groups[a], kind="account-group"),
                          self.catalogue_fields(ds.account_groups))
