"""Celigo resource types, one syncer class each. Every call makes at most one request.

===========  ==============================  ==========================================================
type         entitlement → principals        grants come from
===========  ==============================  ==========================================================
user         (none)                          the access walk (below) emits every grant users hold
integration  manage, monitor → user          users' per-integration access (``integrationAccessLevel``);
                                             account roles reach every integration by expansion (below)
role         assigned → user                 users' account-wide ``accessLevel``
             (administrator, manage,
             monitor)
===========  ==============================  ==========================================================

Celigo keeps a user's access on the account share, so one walk over ``/v1/ashares`` yields every grant
(the anchor re-listed every user once per role, and once more per integration).

An account-wide role applies to every integration: administrators and managers manage them all,
monitors monitor them all. Rather than copying that onto each user for each integration, every
integration holds three *expandable* grants whose principal is the role — ``integration:<id>:manage``
held by ``role:manage`` with ``expandable=("role:manage:assigned",)`` — so the holders of the role hold
the entitlement (baton's GrantExpandable; ConductorOne expands it).
"""

from __future__ import annotations

from typing import Any

from iac.connectors.celigo.client import CeligoClient, JSONObject
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

__all__ = [
    "ACCOUNT_ROLES",
    "INTEGRATION",
    "INTEGRATION_LEVELS",
    "REVIEW",
    "ROLE",
    "ROLE_REACH",
    "USER",
    "IntegrationSyncer",
    "RoleSyncer",
    "UserSyncer",
]

USER = ResourceType("user", "User", (Trait.USER,), "Celigo users (account shares)", has_entitlements=False)
INTEGRATION = ResourceType("integration", "Integration", (Trait.APP,), "Celigo integrations")
ROLE = ResourceType("role", "Role", (Trait.ROLE,), "Celigo account roles", has_grants=False)

ACCOUNT_ROLES: dict[str, str] = {
    "administrator": "Administrator",
    "manage": "Manage",
    "monitor": "Monitor",
}
INTEGRATION_LEVELS = ("manage", "monitor")
ROLE_REACH: dict[str, str] = {"administrator": "manage", "manage": "manage", "monitor": "monitor"}
"""Account role → what it allows on every integration."""

REVIEW = ReviewFacts(
    privileged=(
        Privileged("role", "Celigo account administrator", resource_ids=frozenset({"administrator"}), critical=True),
        Privileged("role", "Celigo account-wide manage (edits every integration)", resource_ids=frozenset({"manage"})),
    ),
    inactive=(Inactive("disabled", "Celigo account share", values=(True,)),
              Inactive("invitation", "Celigo invitation", values=("declined",))),
    declared_by="celigo",
)
"""For ``iac review``: the account-wide administrator and manage roles are privileged; a disabled share
(or a declined invitation) should hold nothing."""


class UserSyncer:
    """Account shares, and the access walk over them. A user is enabled once the invitation is accepted
    and while not disabled."""

    resource_type = USER

    def __init__(self, client: CeligoClient) -> None:
        self.client = client

    @staticmethod
    def to_resource(share: JSONObject) -> Resource:
        person: JSONObject = share.get("sharedWithUser") or {}
        email = person.get("email")
        accepted = share.get("accepted") is True
        disabled = share.get("disabled") is True
        invitation = "accepted" if accepted else ("declined" if share.get("dismissed") else "pending")
        profile: dict[str, Any] = {
            "email": email, "name": person.get("name"), "user_id": person.get("_id"),
            "access_level": share.get("accessLevel"), "invitation": invitation, "disabled": disabled,
            "account_sso_required": share.get("accountSSORequired"),
            "account_mfa_required": share.get("accountMFARequired"), "last_sign_in": share.get("lastSignIn"),
            "created_via": share.get("createdVia"),
        }
        return Resource("user", share["_id"], person.get("name") or email or share["_id"], profile=profile,
                        status=UserStatus.ENABLED if accepted and not disabled else UserStatus.DISABLED,
                        login=email, emails=(email,) if email else ())

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        page = self.client.list_ashares(token)
        return Page([self.to_resource(s) for s in page.items if s.get("_id")], page.next_url)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page()

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()  # type_grants covers every user

    def type_grants(self, token: str | None) -> Page[Grant]:
        page = self.client.list_ashares(token)
        out: list[Grant] = []
        for share in page.items:
            if not share.get("_id"):
                continue
            principal = ResourceRef("user", share["_id"])
            if share.get("accessLevel") in ACCOUNT_ROLES:
                out.append(Grant(ResourceRef("role", share["accessLevel"]), "assigned", principal))
            for entry in share.get("integrationAccessLevel") or []:
                if isinstance(entry, dict) and entry.get("_integrationId") and \
                        entry.get("accessLevel") in INTEGRATION_LEVELS:
                    out.append(Grant(ResourceRef("integration", entry["_integrationId"]), entry["accessLevel"],
                                     principal))
        return Page(out, page.next_url)


class IntegrationSyncer:
    """Integrations. Their grants to users come from the access walk; here, the account roles' edges."""

    resource_type = INTEGRATION

    def __init__(self, client: CeligoClient) -> None:
        self.client = client

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        page = self.client.list_integrations(token)
        return Page([Resource("integration", i["_id"], i.get("name") or i["_id"],
                              profile={"name": i.get("name"), "description": i.get("description"),
                                       "sandbox": i.get("sandbox")})
                     for i in page.items if i.get("_id")], page.next_url)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        name = resource.display_name
        return Page([Entitlement(resource.ref, "manage", f"{name} Manage", ("user",), f"May edit {name}"),
                     Entitlement(resource.ref, "monitor", f"{name} Monitor", ("user",), f"May view {name}")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        """No request: every account role reaches every integration."""
        return Page([Grant(resource.ref, slug, ResourceRef("role", role), expandable=(f"role:{role}:assigned",))
                     for role, slug in ROLE_REACH.items()])


class RoleSyncer:
    """The account roles; their grants come from the access walk."""

    resource_type = ROLE

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        return Page([Resource("role", level, label, profile={"access_level": level})
                     for level, label in ACCOUNT_ROLES.items()])

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "assigned", f"{resource.display_name} Role Member", ("user",),
                                 f"Has the account-wide {resource.display_name} access level")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()  # emitted by the user access walk
