"""Typed calls to the Okta Management API. No retries and no sleeping here: :class:`HttpClient` does that.

Every list method takes the ``next`` URL of the previous page (``None`` for the first) and returns a
:class:`Listing`; page sizes are the documented maxima per endpoint. Okta's ``Link`` headers are
followed as given (the runtime re-bases foreign origins onto the configured base URL).

:func:`okta_bucket` maps a request to Okta's rate-limit class so the runtime paces each separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from iac.runtime import HttpClient, next_link
from iac.runtime.errors import ApiError, ConflictError, NotFoundError, PagingError

__all__ = ["PAGE_SIZES", "Listing", "OktaClient", "okta_bucket"]

JSONObject = dict[str, Any]

# Documented maxima: users 200, groups 10000, group members 1000, apps 200, app users 500,
# app groups 200, role assignees 100; the /iam lists take no limit.
PAGE_SIZES: Mapping[str, int] = {
    "users": 200, "groups": 10_000, "group_users": 1000, "apps": 200, "app_users": 500, "app_groups": 200,
    "assignees": 100,
}

_OMIT = {"okta-response": "omitCredentials,omitCredentialsLinks,omitTransitioningToStatus"}


def okta_bucket(method: str, path: str) -> str:
    """Okta's per-endpoint rate-limit classes (Workforce identity table)."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] != ["api", "v1"] or len(parts) < 3:
        return "other"
    family, rest = parts[2], parts[3:]
    if family == "users":
        if not rest:
            return "users"
        if len(rest) == 1 and method == "GET":
            return "user"
        return "user-writes"
    if family == "groups":
        return "groups" if not rest else "group"
    if family == "apps":
        return "app" if len(rest) == 1 else "apps"
    return "other"


@dataclass(frozen=True, slots=True)
class Listing:
    items: list[JSONObject]
    next: str | None


def _objects(data: Any, key: str | None = None) -> list[JSONObject]:
    if key is not None:
        data = data.get(key) if isinstance(data, dict) else None
    if data is None:
        return []
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ApiError(f"unexpected response shape (expected a list{f' under {key!r}' if key else ''})")
    return data


class OktaClient:
    """One method per endpoint the connector uses."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def _list(self, first: str, params: Mapping[str, str | int], next_url: str | None, *,
              key: str | None = None, headers: Mapping[str, str] | None = None) -> Listing:
        if next_url:
            data, response = self.http.get_json(next_url, headers=headers)
        else:
            data, response = self.http.get_json(first, params=params, headers=headers)
        nxt = next_link(response)
        if nxt is None and isinstance(data, dict):
            body_next = (data.get("_links") or {}).get("next")
            nxt = body_next.get("href") if isinstance(body_next, dict) else None
        return Listing(_objects(data, key), nxt)

    # -- reads ------------------------------------------------------------------------------------------

    def check_token(self) -> None:
        """One cheap authenticated call (raises AuthError on a bad token)."""
        self.http.get_json("/api/v1/users", params={"limit": 1}, headers=_OMIT)

    def list_users(self, next_url: str | None) -> Listing:
        """All users, DEPROVISIONED included (``search=status pr``), without credentials."""
        return self._list("/api/v1/users", {"search": "status pr", "limit": PAGE_SIZES["users"]}, next_url,
                          headers=_OMIT)

    def list_groups(self, next_url: str | None) -> Listing:
        return self._list("/api/v1/groups", {"expand": "stats", "limit": PAGE_SIZES["groups"]}, next_url)

    def list_group_users(self, group_id: str, next_url: str | None) -> Listing:
        return self._list(f"/api/v1/groups/{group_id}/users", {"limit": PAGE_SIZES["group_users"]}, next_url,
                          headers=_OMIT)

    def list_group_roles(self, group_id: str) -> list[JSONObject]:
        data, _ = self.http.get_json(f"/api/v1/groups/{group_id}/roles")
        return _objects(data)

    def list_user_roles(self, user_id: str) -> list[JSONObject]:
        data, _ = self.http.get_json(f"/api/v1/users/{user_id}/roles")
        return _objects(data)

    def list_role_assignees(self, next_url: str | None) -> Listing:
        return self._list("/api/v1/iam/assignees/users", {"limit": PAGE_SIZES["assignees"]}, next_url,
                          key="value")

    def list_apps(self, next_url: str | None, *, active_only: bool) -> Listing:
        params: dict[str, str | int] = {"limit": PAGE_SIZES["apps"]}
        if active_only:
            params["filter"] = 'status eq "ACTIVE"'
        return self._list("/api/v1/apps", params, next_url)

    def get_app(self, app_id: str) -> JSONObject:
        data, _ = self.http.get_json(f"/api/v1/apps/{app_id}")
        return data if isinstance(data, dict) else {}

    def list_app_users(self, app_id: str, next_url: str | None) -> Listing:
        return self._list(f"/api/v1/apps/{app_id}/users", {"limit": PAGE_SIZES["app_users"]}, next_url)

    def list_app_groups(self, app_id: str, next_url: str | None) -> Listing:
        return self._list(f"/api/v1/apps/{app_id}/groups", {"limit": PAGE_SIZES["app_groups"]}, next_url)

    def list_custom_roles(self, next_url: str | None) -> Listing:
        return self._list("/api/v1/iam/roles", {}, next_url, key="roles")

    def list_resource_sets(self, next_url: str | None) -> Listing:
        return self._list("/api/v1/iam/resource-sets", {}, next_url, key="resource-sets")

    def list_bindings(self, resource_set_id: str, next_url: str | None) -> Listing:
        return self._list(f"/api/v1/iam/resource-sets/{resource_set_id}/bindings", {}, next_url, key="roles")

    def list_binding_members(self, resource_set_id: str, role_id: str, next_url: str | None) -> Listing:
        return self._list(f"/api/v1/iam/resource-sets/{resource_set_id}/bindings/{role_id}/members", {},
                          next_url, key="members")

    # -- existence checks (provisioning idempotency) ----------------------------------------------------

    def is_group_member(self, group_id: str, user_id: str, *, max_pages: int = 10_000) -> bool:
        """Page the group's members until ``user_id`` turns up (most groups fit one page of 1000). A next link
        seen before (a paging cycle) or more than ``max_pages`` pages is a :class:`PagingError`."""
        next_url: str | None = None
        seen: set[str] = set()
        path = f"/api/v1/groups/{group_id}/users"
        while len(seen) < max_pages:
            page = self.list_group_users(group_id, next_url)
            if any(item.get("id") == user_id for item in page.items):
                return True
            if page.next is None:
                return False
            if page.next in seen:
                raise PagingError(f"the next link {page.next!r} came back after {len(seen) + 1} page(s), a paging "
                                  "cycle; refusing to loop", method="GET", path=path)
            seen.add(page.next)
            next_url = page.next
        raise PagingError(f"more than {max_pages} pages of members; refusing to go on", method="GET", path=path)

    def app_user_exists(self, app_id: str, user_id: str) -> bool:
        try:
            self.http.get_json(f"/api/v1/apps/{app_id}/users/{user_id}")
        except NotFoundError:
            self.get_app(app_id)  # a missing app is an error, not "not assigned"
            return False
        return True

    def app_group_exists(self, app_id: str, group_id: str) -> bool:
        try:
            self.http.get_json(f"/api/v1/apps/{app_id}/groups/{group_id}")
        except NotFoundError:
            self.get_app(app_id)
            return False
        return True

    # -- writes -----------------------------------------------------------------------------------------

    def add_group_member(self, group_id: str, user_id: str) -> None:
        self.http.request("PUT", f"/api/v1/groups/{group_id}/users/{user_id}")

    def remove_group_member(self, group_id: str, user_id: str) -> None:
        self.http.request("DELETE", f"/api/v1/groups/{group_id}/users/{user_id}")

    def assign_app_user(self, app_id: str, user_id: str) -> None:
        self.http.request("POST", f"/api/v1/apps/{app_id}/users", json={"id": user_id, "scope": "USER"})

    def unassign_app_user(self, app_id: str, user_id: str) -> None:
        self.http.request("DELETE", f"/api/v1/apps/{app_id}/users/{user_id}")

    def assign_app_group(self, app_id: str, group_id: str) -> None:
        self.http.request("PUT", f"/api/v1/apps/{app_id}/groups/{group_id}", json={})

    def unassign_app_group(self, app_id: str, group_id: str) -> None:
        self.http.request("DELETE", f"/api/v1/apps/{app_id}/groups/{group_id}")

    def assign_role(self, principal_type: str, principal_id: str, role_type: str) -> bool:
        """Assign a standard role to a user or group; False when it was already held (``E0000090``)."""
        kind = "users" if principal_type == "user" else "groups"
        try:
            self.http.request("POST", f"/api/v1/{kind}/{principal_id}/roles", json={"type": role_type})
        except ConflictError as exc:
            if exc.code == "E0000090":
                return False
            raise
        except ApiError as exc:
            if exc.code == "E0000090":
                return False
            raise
        return True

    def list_roles_of(self, principal_type: str, principal_id: str) -> list[JSONObject]:
        if principal_type == "user":
            return self.list_user_roles(principal_id)
        return self.list_group_roles(principal_id)

    def unassign_role(self, principal_type: str, principal_id: str, assignment_id: str) -> None:
        kind = "users" if principal_type == "user" else "groups"
        self.http.request("DELETE", f"/api/v1/{kind}/{principal_id}/roles/{assignment_id}")
