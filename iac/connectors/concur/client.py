"""Typed calls to SAP Concur: Identity v4.1 users, Spend v4.1 user roles, User Provisioning v4. No retries
and no sleeping here: :class:`HttpClient` does that (and :func:`~iac.runtime.poll_until` the waiting).

Every call goes to the geolocation the current token names: :class:`ConcurClient` asks its session for
the HTTP client of that geolocation on each call (:mod:`.auth`).

* Identity: ``GET /profile/identity/v4.1/Users?count=1000&cursor=…&attributes=…`` — cursor paging,
  ``nextCursor`` only while more users follow; ``attributes`` trims each record.
* Spend: ``GET /profile/spend/v4.1/Users?startIndex=…&count=100`` — index paging with ``totalResults``,
  so every page after the first is known up front and can be fetched in parallel.
* Writes: ``POST /profile/v4/Bulk`` (SCIM PatchOp per user) answers 202 and applies the change later;
  ``GET /profile/v4/provisions/{id}/status`` reports when it is done and whether it worked.

Concur publishes no rate limits; its 429s carry ``Retry-After``, which the runtime honours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from iac.runtime import HttpClient, json_object_body
from iac.runtime.errors import ApiError

__all__ = [
    "ENTERPRISE_SCHEMA",
    "IDENTITY_PAGE_SIZE",
    "SPEND_PAGE_SIZE",
    "SPEND_ROLE_SCHEMA",
    "TOKEN_PATH",
    "ConcurClient",
    "CursorPage",
    "IndexPage",
    "concur_bucket",
    "concur_error_parser",
]

JSONObject = dict[str, Any]

TOKEN_PATH = "/oauth2/v0/token"
IDENTITY_USERS = "/profile/identity/v4.1/Users"
SPEND_USERS = "/profile/spend/v4.1/Users"
BULK = "/profile/v4/Bulk"
IDENTITY_PAGE_SIZE = 1000  # documented maximum
SPEND_PAGE_SIZE = 100  # documented maximum
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SPEND_ROLE_SCHEMA = "urn:ietf:params:scim:schemas:extension:spend:2.0:Role"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_USER_ATTRIBUTES = ",".join(("id", "userName", "active", "displayName", "name", "emails", ENTERPRISE_SCHEMA))


def concur_bucket(method: str, path: str) -> str:
    """The token endpoint is limited apart from the API."""
    return "oauth" if path.rstrip("/") == TOKEN_PATH else "api"


def concur_error_parser(response: httpx.Response) -> tuple[str | None, str | None]:
    """OAuth ``{code, error, error_description}``; SCIM ``{status, scimType, detail, …Error: {messages}}``."""
    body = json_object_body(response)
    if body is None:
        return None, None
    if isinstance(body.get("error"), str):
        description = body.get("error_description")
        return body["error"], None if description is None else str(description)[:300]
    code = body.get("scimType")
    for key, value in body.items():
        if key.endswith(":Error") and isinstance(value, dict) and isinstance(value.get("messages"), list):
            first = value["messages"][0] if value["messages"] else {}
            code = code or (first.get("code") if isinstance(first, dict) else None)
    detail = body.get("detail") or body.get("message")
    return (None if code is None else str(code)), (None if detail is None else str(detail)[:300])


@dataclass(frozen=True, slots=True)
class CursorPage:
    items: list[JSONObject]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class IndexPage:
    items: list[JSONObject]
    total: int


def _resources(data: Any, what: str) -> list[JSONObject]:
    items = data.get("Resources") if isinstance(data, dict) else None
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ApiError(f"unexpected response shape (expected a SCIM ListResponse of {what})")
    return items


class ConcurClient:
    """One method per endpoint the connector uses. ``http`` returns the client of the current geolocation."""

    def __init__(self, http: Callable[[], HttpClient]) -> None:
        self.http = http

    # -- reads ------------------------------------------------------------------------------------------

    def check(self) -> None:
        """One cheap authenticated call (refreshes a token; raises AuthError on bad credentials)."""
        self.http().get_json(IDENTITY_USERS, params={"count": 1, "attributes": "id"})

    def _identities(self, cursor: str | None, attributes: str) -> CursorPage:
        params: dict[str, str | int] = {"count": IDENTITY_PAGE_SIZE, "attributes": attributes}
        if cursor:
            params["cursor"] = cursor
        data, _ = self.http().get_json(IDENTITY_USERS, params=params)
        items = _resources(data, "users")
        nxt = data.get("nextCursor") if isinstance(data, dict) else None
        return CursorPage(items, nxt if isinstance(nxt, str) and nxt and items else None)

    def list_users(self, cursor: str | None) -> CursorPage:
        """Identity records trimmed to what the user resource needs."""
        return self._identities(cursor, _USER_ATTRIBUTES)

    def list_user_products(self, cursor: str | None) -> CursorPage:
        """Identity records trimmed to ``id`` and ``entitlements`` (the base Concur products)."""
        return self._identities(cursor, "id,entitlements")

    def list_spend_users(self, start_index: int) -> IndexPage:
        data, _ = self.http().get_json(SPEND_USERS, params={"startIndex": start_index, "count": SPEND_PAGE_SIZE})
        items = _resources(data, "Spend users")
        total = data.get("totalResults") if isinstance(data, dict) else None
        return IndexPage(items, total if isinstance(total, int) else start_index - 1 + len(items))

    def user_products(self, user_id: str) -> list[str]:
        data, _ = self.http().get_json(f"{IDENTITY_USERS}/{user_id}", params={"attributes": "id,entitlements"})
        products = data.get("entitlements") if isinstance(data, dict) else None
        return [p for p in products or [] if isinstance(p, str)]

    def spend_roles(self, user_id: str) -> dict[str, list[str]]:
        """The user's Spend roles: role code → role groups."""
        data, _ = self.http().get_json(f"{SPEND_USERS}/{user_id}")
        return spend_roles_of(data if isinstance(data, dict) else {})

    # -- writes -----------------------------------------------------------------------------------------

    def patch_user(self, user_id: str, operations: Sequence[Mapping[str, Any]]) -> str:
        """Queue one SCIM PatchOp for ``user_id`` through User Provisioning; returns the request id."""
        body = {"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": [
            {"method": "PATCH", "path": f"/Users/{user_id}", "bulkId": f"baton-iac-{user_id}",
             "data": {"schemas": [PATCH_OP], "Operations": [dict(op) for op in operations]}}]}
        data, _ = self.http().request_json("POST", BULK, json=body)
        provision_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(provision_id, str) or not provision_id:
            raise ApiError("User Provisioning answered without a request id", method="POST", path=BULK)
        return provision_id

    def provision_status(self, provision_id: str, *, operations: bool = False) -> JSONObject:
        params: dict[str, str | int] = {"attributes": "operations"} if operations else {}
        data, _ = self.http().get_json(f"/profile/v4/provisions/{provision_id}/status", params=params)
        if not isinstance(data, dict):
            raise ApiError("unexpected response shape (expected a provisioning status)", method="GET",
                           path=f"/profile/v4/provisions/{provision_id}/status")
        return data


def spend_roles_of(user: Mapping[str, Any]) -> dict[str, list[str]]:
    """Role code → role groups of a Spend user record (its role extension)."""
    extension = user.get(SPEND_ROLE_SCHEMA)
    roles = extension.get("roles") if isinstance(extension, dict) else None
    out: dict[str, list[str]] = {}
    for role in roles or []:
        if isinstance(role, dict) and isinstance(role.get("roleName"), str):
            groups = role.get("roleGroups")
            out[role["roleName"]] = [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []
    return out
