"""Typed calls to the Coupa Core API (JSON). No retries and no sleeping here: :class:`HttpClient` does that.

* Every call sends ``Accept: application/json`` (set on the client): without it Coupa answers XML.
* Lists page with ``offset``/``limit``: at most 50 records a call, ordered by id, no totals; a page
  shorter than 50 is the last. ``fields`` trims each record, so a page of users does not carry every
  embedded role, group and manager object.
* Access is written by replacing a user's whole list (``PUT /api/users/{id}``), so callers always send
  the complete desired list (:mod:`.provisioner`).
* :data:`COUPA_LIMITS`: "25 requests per second and a burst query limit of 20 calls", with no rate-limit
  headers, so the runtime paces from this table (:class:`~iac.runtime.LimitedPacer`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from iac.runtime import BucketLimit, HttpClient, json_object_body
from iac.runtime.errors import ApiError

__all__ = [
    "ACCESS_LISTS",
    "COUPA_LIMITS",
    "LICENSE_FLAGS",
    "PAGE_SIZE",
    "TOKEN_PATH",
    "CoupaClient",
    "OffsetPage",
    "coupa_bucket",
    "coupa_error_parser",
]

JSONObject = dict[str, Any]
FieldSpec = Sequence[str | Mapping[str, Sequence[str]]]

PAGE_SIZE = 50
TOKEN_PATH = "/oauth2/token"
COUPA_LIMITS: Mapping[str, BucketLimit] = {"api": BucketLimit(20, 25.0), "oauth": BucketLimit(20, 25.0)}

# The boolean license flags of a user record (dashed JSON keys). baton-coupa writes the last one as
# "treasury_user"; Coupa reads dashes and underscores alike in argument names.
LICENSE_FLAGS: tuple[str, ...] = (
    "aic-user", "analytics-user", "ccw-user", "contracts-user", "expense-user", "inventory-user",
    "purchasing-user", "risk-assess-user", "sourcing-user", "spend-guard-user", "supply-chain-user",
    "travel-user", "treasury-user",
)
ACCESS_LISTS: Mapping[str, str] = {
    "roles": "role", "user-groups": "group", "content-groups": "content-group", "account-groups": "account-group",
}
"""A user record's access lists → the resource type their entries are."""

_USER_FIELDS: FieldSpec = ("id", "login", "email", "firstname", "lastname", "fullname", "employee-number",
                           "active", "api-user", "authentication-method", "created-at", "updated-at")
_CATALOG_FIELDS: FieldSpec = ("id", "name", "description", "active")


def coupa_bucket(method: str, path: str) -> str:
    """The token endpoint is limited apart from the API."""
    return "oauth" if path.rstrip("/") == TOKEN_PATH else "api"


def coupa_error_parser(response: httpx.Response) -> tuple[str | None, str | None]:
    """``{"errors": {"user": ["message", …]}}`` → ("user", "message; …"); OAuth ``{"error", …}`` too."""
    body = json_object_body(response)
    if body is None:
        return None, None
    if isinstance(body.get("error"), str):
        description = body.get("error_description")
        return body["error"], str(description)[:300] if description is not None else None
    errors = body.get("errors")
    if isinstance(errors, dict) and errors:
        key, messages = next(iter(errors.items()))
        if isinstance(messages, list):
            return str(key), "; ".join(str(m) for m in messages)[:300]
        return str(key), str(messages)[:300]
    return None, None


def _fields(spec: FieldSpec) -> str:
    return json.dumps(list(spec), separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class OffsetPage:
    items: list[JSONObject]
    next_offset: int | None


def _objects(data: Any) -> list[JSONObject]:
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ApiError("unexpected response shape (expected a JSON list of records)")
    return data


def access_fields(*, account_groups: bool) -> FieldSpec:
    """What the access walk reads of each user: ids of its lists and the license flags."""
    lists = [key for key in ACCESS_LISTS if account_groups or key != "account-groups"]
    return ("id", *({key: ["id"]} for key in lists), *LICENSE_FLAGS)


class CoupaClient:
    """One method per endpoint the connector uses."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def _page(self, path: str, offset: int, fields: FieldSpec) -> OffsetPage:
        data, _ = self.http.get_json(path, params={"offset": offset, "limit": PAGE_SIZE, "fields": _fields(fields)})
        items = _objects(data)
        return OffsetPage(items, offset + len(items) if len(items) >= PAGE_SIZE else None)

    # -- reads ------------------------------------------------------------------------------------------

    def check(self) -> None:
        """One cheap authenticated call (fetches a token; raises AuthError on bad client credentials)."""
        self.http.get_json("/api/users", params={"limit": 1, "fields": _fields(("id",))})

    def list_users(self, offset: int) -> OffsetPage:
        return self._page("/api/users", offset, _USER_FIELDS)

    def list_user_access(self, offset: int, *, account_groups: bool) -> OffsetPage:
        return self._page("/api/users", offset, access_fields(account_groups=account_groups))

    def list_user_groups(self, offset: int) -> OffsetPage:
        return self._page("/api/user_groups", offset, _CATALOG_FIELDS)

    def list_roles(self, offset: int) -> OffsetPage:
        return self._page("/api/roles", offset, _CATALOG_FIELDS)

    def list_content_groups(self, offset: int) -> OffsetPage:
        return self._page("/api/business_groups", offset, _CATALOG_FIELDS)

    def list_account_groups(self, offset: int) -> OffsetPage:
        return self._page("/api/account_groups", offset, _CATALOG_FIELDS)

    def get_user(self, user_id: str, fields: FieldSpec) -> JSONObject:
        data, _ = self.http.get_json(f"/api/users/{user_id}", params={"fields": _fields(fields)})
        if not isinstance(data, dict):
            raise ApiError("unexpected response shape (expected a user record)", method="GET",
                           path=f"/api/users/{user_id}")
        return data

    # -- writes -----------------------------------------------------------------------------------------

    def update_user(self, user_id: str, body: Mapping[str, Any], fields: FieldSpec) -> JSONObject:
        """``PUT /api/users/{id}``: lists in ``body`` replace the user's lists; returns the record (trimmed)."""
        data, _ = self.http.request_json("PUT", f"/api/users/{user_id}", params={"fields": _fields(fields)},
                                         json=dict(body))
        if not isinstance(data, dict):
            raise ApiError("unexpected response shape (expected a user record)", method="PUT",
                           path=f"/api/users/{user_id}")
        return data
