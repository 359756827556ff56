"""SAP Concur resource types, one syncer class each. Every call makes at most one request.

=====  =========================  ====================================================================
type   entitlement → principals   grants come from
=====  =========================  ====================================================================
user   (none)                     (none)
role   assigned → user            ``concur:<product>``: Identity ``entitlements`` (one cursor walk);
                                  ``spend:<code>``: the Spend role extension (index pages, fetched in
                                  parallel once the first page tells the total)
=====  =========================  ====================================================================

User profiles carry Veza's attribute set — ``is_active``, ``email``, ``employee_number``,
``cost_center``, ``start_date``, ``termination_date`` — and the names.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from iac.connectors.concur.client import (
    ENTERPRISE_SCHEMA,
    SPEND_PAGE_SIZE,
    ConcurClient,
    JSONObject,
    spend_roles_of,
)
from iac.connectors.concur.roles import RoleInfo, all_roles, role_info
from iac.runtime import (
    Entitlement,
    Grant,
    Inactive,
    Page,
    Privileged,
    Resource,
    ResourceRef,
    ResourceType,
    ReviewFacts,
    Trait,
    UserStatus,
)
from iac.runtime.errors import EmptyListingError

__all__ = ["REVIEW", "ROLE", "USER", "RoleSyncer", "UserSyncer"]

USER = ResourceType("user", "User", (Trait.USER,), "SAP Concur users (Identity v4.1)", has_entitlements=False,
                    has_grants=False)
ROLE = ResourceType("role", "Role", (Trait.ROLE,), "Base Concur products and Concur Spend roles")

REVIEW = ReviewFacts(
    privileged=(
        Privileged("role", "Concur role and security administration",
                   resource_ids=frozenset({"spend:SHD_ROLE_ADMIN", "spend:SHD_CONFIG_ADMIN",
                                           "spend:SHD_WEB_SERVICES_ADMIN"}),
                   critical=True),
        Privileged("role", "Concur administrative role", name_pattern=r"admin"),
    ),
    inactive=(Inactive("is_active", "Concur user", values=(False,)),
              Inactive("termination_date", "Concur termination date", past_date=True)),
    declared_by="concur",
)
"""For ``iac review``: Spend roles whose code or name says administrator are privileged; a user who is
not active or whose termination date has passed should hold nothing."""

log = logging.getLogger(__name__)


def _emails(user: JSONObject) -> tuple[tuple[str, ...], str | None]:
    """The user's addresses, and the one to show: the primary, else the work one, else the first."""
    values: list[str] = []
    primary = work = None
    for entry in user.get("emails") or ():
        if isinstance(entry, dict) and entry.get("value"):
            value = str(entry["value"])
            values.append(value)
            if primary is None and entry.get("primary"):
                primary = value
            elif work is None and str(entry.get("type", "")).lower() == "work":
                work = value
    return tuple(values), primary or work or (values[0] if values else None)


class UserSyncer:
    """Identity v4.1 users, a cursor walk of 1,000 a page."""

    resource_type = USER

    def __init__(self, client: ConcurClient) -> None:
        self.client = client

    @staticmethod
    def to_resource(user: JSONObject) -> Resource:
        name: JSONObject = user.get("name") or {}
        enterprise: JSONObject = user.get(ENTERPRISE_SCHEMA) or {}
        active = user.get("active") is True
        emails, email = _emails(user)
        display = user.get("displayName") or " ".join(
            x for x in (name.get("givenName"), name.get("familyName")) if x) or user.get("userName") or user["id"]
        profile: dict[str, Any] = {
            "user_name": user.get("userName"), "display_name": user.get("displayName"),
            "given_name": name.get("givenName"), "family_name": name.get("familyName"),
            "is_active": active, "email": email, "employee_number": enterprise.get("employeeNumber"),
            "cost_center": enterprise.get("costCenter"), "start_date": enterprise.get("startDate"),
            "termination_date": enterprise.get("terminationDate"),
        }
        return Resource("user", user["id"], display, profile=profile,
                        status=UserStatus.ENABLED if active else UserStatus.DISABLED, login=user.get("userName"),
                        emails=emails)

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        page = self.client.list_users(token)
        if token is None and not page.items:
            # The refresh token belongs to a user of the company, so a working token sees at least that user.
            raise EmptyListingError("SAP Concur listed no users at all: the refresh token's user cannot read the "
                                    "company's identities (it needs the identity.user.core.read scope; "
                                    "see `iac explain concur`)", method="GET", path="/profile/identity/v4.1/Users")
        return Page([self.to_resource(u) for u in page.items if u.get("id")], page.next_cursor)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page()

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()


class RoleSyncer:
    """Base products and Spend roles. Grants: tokens ``products:<cursor>`` (the Identity walk) and
    ``spend:<start index>`` (Spend pages; the first fans out every later page at once)."""

    resource_type = ROLE

    def __init__(self, client: ConcurClient) -> None:
        self.client = client
        self._refs: dict[str, ResourceRef] = {}  # role id -> its ref, checked against the catalog once
        self._lock = threading.Lock()

    @staticmethod
    def to_resource(info: RoleInfo) -> Resource:
        profile = {"kind": info.kind, "code": info.code, "group_aware": info.group_aware}
        label = f"{info.name} ({info.code})" if info.kind == "spend" else info.name
        return Resource("role", info.resource_id, label, profile=profile)

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        return Page([self.to_resource(info) for info in all_roles()])

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        what = "Concur product access" if resource.profile.get("kind") == "concur" else "Concur Spend role"
        return Page([Entitlement(resource.ref, "assigned", f"{resource.display_name} Role Member", ("user",),
                                 f"Has the {resource.display_name} {what}")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()  # type_grants covers the whole type

    def _role(self, resource_id: str) -> ResourceRef:
        """The role's ref (shared by all its grants); a role the catalog does not know is logged once."""
        ref = self._refs.get(resource_id)
        if ref is None:
            with self._lock:
                ref = self._refs.get(resource_id)
                if ref is None:
                    if role_info(resource_id) is None:
                        log.warning("role %s is not in the connector's catalog; its grants are kept, but the role "
                                    "has no resource in this sync", resource_id)
                    ref = self._refs[resource_id] = ResourceRef("role", resource_id)
        return ref

    def type_grants(self, token: str | None) -> Page[Grant]:
        if token is None:
            return Page([], None, fanout=("products:", "spend:1"))
        if token.startswith("products:"):
            page = self.client.list_user_products(token.removeprefix("products:") or None)
            out = []
            for user in page.items:
                principal = ResourceRef("user", user["id"])
                for product in user.get("entitlements") or []:
                    out.append(Grant(self._role(f"concur:{product}"), "assigned", principal))
            return Page(out, f"products:{page.next_cursor}" if page.next_cursor else None)
        start = int(token.removeprefix("spend:"))
        spend = self.client.list_spend_users(start)
        out = []
        for user in spend.items:
            principal = ResourceRef("user", user["id"])
            for code, groups in spend_roles_of(user).items():
                out.append(Grant(self._role(f"spend:{code}"), "assigned", principal,
                                 data={"role_groups": groups} if groups else {}))
        fanout: tuple[str, ...] = ()
        if start == 1 and spend.items:  # step by what the server serves a page, should it cap below ours
            step = min(len(spend.items), SPEND_PAGE_SIZE)
            fanout = tuple(f"spend:{s}" for s in range(1 + step, spend.total + 1, step))
        return Page(out, None, fanout=fanout)
