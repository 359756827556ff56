"""Okta resource types, one syncer class each. Every call makes at most one request.

=====================  ===============================  ==========================================
type                   entitlement → principals          grants come from
=====================  ===============================  ==========================================
user                   (none)                            (none)
group                  member → user                     /groups/{id}/users (skipped when empty);
                                                         /groups/{id}/roles when the group holds a role
role (12 standard)     assigned → user, group            /iam/assignees/users, then /users/{id}/roles
app                    access → user, group              /apps/{id}/groups, then /apps/{id}/users
custom-role *          assigned → user, group            resource-set binding members
resource-set *         bindings → custom-role            /iam/resource-sets/{id}/bindings
resourceset-binding *  member → user, group              …/bindings/{role}/members
=====================  ===============================  ==========================================

\\* only with ``sync_custom_roles``. Grants held by a group carry ``expandable=("group:<id>:member",)``.
"""

from __future__ import annotations

import logging
from typing import Any

from iac.connectors.okta.client import JSONObject, OktaClient
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
from iac.runtime.errors import EmptyListingError, PermissionDeniedError
from iac.spec.integrations.okta import STANDARD_ROLES

__all__ = [
    "APP",
    "CUSTOM_ROLE",
    "GROUP",
    "RESOURCE_SET",
    "RESOURCE_SET_BINDING",
    "REVIEW",
    "ROLE",
    "STANDARD_ROLES",
    "USER",
    "AppSyncer",
    "CustomRoleSyncer",
    "GroupSyncer",
    "ResourceSetBindingSyncer",
    "ResourceSetSyncer",
    "RoleSyncer",
    "UserSyncer",
    "map_user_status",
]

USER = ResourceType("user", "User", (Trait.USER,), "Okta users", has_entitlements=False, has_grants=False)
GROUP = ResourceType("group", "Group", (Trait.GROUP,), "Okta groups")
ROLE = ResourceType("role", "Role", (Trait.ROLE,), "Okta standard admin roles")
APP = ResourceType("app", "App", (Trait.APP,), "Okta applications")
CUSTOM_ROLE = ResourceType("custom-role", "Custom Role", (Trait.ROLE,), "Okta custom admin roles",
                           has_grants=False)
RESOURCE_SET = ResourceType("resource-set", "Resource Set", (), "Okta resource sets")
RESOURCE_SET_BINDING = ResourceType("resourceset-binding", "Resource Set Binding", (Trait.ROLE,),
                                    "A custom role bound to a resource set", parent="resource-set")


REVIEW = ReviewFacts(
    privileged=(
        Privileged("role", "Okta super or org administrator", resource_ids=frozenset({"SUPER_ADMIN", "ORG_ADMIN"}),
                   critical=True),
        Privileged("role", "Okta standard admin role"),
        Privileged("custom-role", "Okta custom admin role"),
        Privileged("resourceset-binding", "Okta custom admin role bound to a resource set"),
    ),
    inactive=(Inactive("status", "Okta user status", values=("SUSPENDED", "DEPROVISIONED")),),
    declared_by="okta",
)
"""For ``iac review``: every admin role is privileged; suspended and deprovisioned users should hold nothing."""

log = logging.getLogger(__name__)

_ENABLED = {"ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"}
_DISABLED = {"STAGED", "SUSPENDED"}


def map_user_status(status: str) -> UserStatus:
    if status in _ENABLED:
        return UserStatus.ENABLED
    if status in _DISABLED:
        return UserStatus.DISABLED
    if status == "DEPROVISIONED":
        return UserStatus.DELETED
    return UserStatus.UNSPECIFIED


def _domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].lower()


def _href_principal(href: str | None) -> ResourceRef | None:
    """``…/api/v1/users/00u1`` → user:00u1; ``…/groups/00g1`` → group:00g1."""
    if not href:
        return None
    kind, _, ident = href.rstrip("/").rpartition("/")
    if kind.endswith("/users"):
        return ResourceRef("user", ident)
    if kind.endswith("/groups"):
        return ResourceRef("group", ident)
    return None


def _member_expansion(principal: ResourceRef) -> tuple[str, ...]:
    return (f"group:{principal.id}:member",) if principal.type == "group" else ()


class UserSyncer:
    resource_type = USER

    def __init__(self, client: OktaClient, *, skip_secondary_emails: bool = False,
                 email_domains: list[str] | None = None) -> None:
        self.client = client
        self.skip_secondary_emails = skip_secondary_emails
        self.email_domains = {d.lower() for d in email_domains or []}

    def keep(self, profile: JSONObject) -> bool:
        """``filter_email_domains``: email, secondEmail or login must be in one of the domains."""
        if not self.email_domains:
            return True
        return any(_domain(profile.get(k)) in self.email_domains for k in ("email", "secondEmail", "login"))

    def to_resource(self, user: JSONObject) -> Resource:
        p: JSONObject = user.get("profile") or {}
        status = str(user.get("status") or "")
        login = p.get("login")
        emails = [p["email"]] if p.get("email") else []
        if p.get("secondEmail") and not self.skip_secondary_emails:
            emails.append(p["secondEmail"])
        name = " ".join(x for x in (p.get("firstName"), p.get("lastName")) if x) or login or user["id"]
        profile: dict[str, Any] = {
            "login": login, "email": p.get("email"), "first_name": p.get("firstName"),
            "last_name": p.get("lastName"), "status": status, "created": user.get("created"),
            "last_login": user.get("lastLogin"),
        }
        for key, out in (("department", "department"), ("title", "title"), ("employeeNumber", "employee_number")):
            if p.get(key) is not None:
                profile[out] = p[key]
        if not self.skip_secondary_emails and p.get("secondEmail"):
            profile["second_email"] = p["secondEmail"]
        return Resource("user", user["id"], name, profile=profile, status=map_user_status(status), login=login,
                        emails=tuple(emails))

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        listing = self.client.list_users(token)
        if token is None and not listing.items and listing.next is None:
            # Okta answers [] rather than 403 when the token's admin holds no admin role.
            raise EmptyListingError(
                "Okta listed no users at all. Okta answers an empty list when the API token belongs to an admin "
                "without an administrator role: create the token as an admin holding the Read-Only "
                "Administrator role or higher (see `iac explain okta`)", method="GET", path="/api/v1/users")
        return Page([self.to_resource(u) for u in listing.items if self.keep(u.get("profile") or {})],
                    listing.next)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page()

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()


class GroupSyncer:
    """Group listing with ``expand=stats``: empty groups cost no member call and groups without an
    admin role cost no role call. Grants walk members then roles: tokens ``m:<next>`` and ``r``."""

    resource_type = GROUP

    def __init__(self, client: OktaClient, *, skip_app_groups: bool = False) -> None:
        self.client = client
        self.skip_app_groups = skip_app_groups

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        listing = self.client.list_groups(token)
        out = []
        for g in listing.items:
            if self.skip_app_groups and g.get("type") == "APP_GROUP":
                continue
            p: JSONObject = g.get("profile") or {}
            stats: JSONObject = (g.get("_embedded") or {}).get("stats") or {}
            profile: dict[str, Any] = {"name": p.get("name"), "description": p.get("description"),
                                       "type": g.get("type")}
            if "usersCount" in stats:
                profile["users_count"] = stats["usersCount"]
            admin = stats.get("hasAdminPrivlege", stats.get("hasAdminPrivilege"))
            if admin is not None:
                profile["has_admin_role"] = bool(admin)
            out.append(Resource("group", g["id"], p.get("name") or g["id"], profile=profile))
        return Page(out, listing.next)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "member", f"{resource.display_name} Group Member", ("user",),
                                 f"Member of the {resource.display_name} group")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        if token is None:
            if resource.profile.get("users_count") == 0:
                return self._roles(resource)
            token = "m:"
        if token.startswith("m:"):
            listing = self.client.list_group_users(resource.id, token[2:] or None)
            grants = [Grant(resource.ref, "member", ResourceRef("user", u["id"])) for u in listing.items]
            if listing.next:
                return Page(grants, f"m:{listing.next}")
            if resource.profile.get("has_admin_role") is False:
                return Page(grants)
            return Page(grants, "r")
        return self._roles(resource)

    def _roles(self, resource: Resource) -> Page[Grant]:
        if resource.profile.get("has_admin_role") is False:
            return Page()
        try:
            roles = self.client.list_group_roles(resource.id)
        except PermissionDeniedError as exc:
            if exc.code != "E0000006":
                raise
            log.info("no permission to read the roles of group %s; skipped", resource.id)
            return Page()
        out = []
        for role in roles:
            kind = role.get("type")
            if kind in STANDARD_ROLES and role.get("status", "ACTIVE") != "INACTIVE":
                out.append(Grant(ResourceRef("role", kind), "assigned", resource.ref,
                                 expandable=(f"group:{resource.id}:member",),
                                 data={"assignment_id": role.get("id")}))
        return Page(out)


class RoleSyncer:
    """The standard roles. Grants: one walk over role assignees, fanning out one call per admin user."""

    resource_type = ROLE

    def __init__(self, client: OktaClient) -> None:
        self.client = client

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        return Page([Resource("role", kind, label, profile={"type": kind}) for kind, label in STANDARD_ROLES.items()])

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "assigned", f"{resource.display_name} Role Member",
                                 ("user", "group"), f"Has the {resource.display_name} role")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()  # type_grants covers the whole type

    def type_grants(self, token: str | None) -> Page[Grant]:
        if token is not None and token.startswith("user:"):
            user_id = token.removeprefix("user:")
            principal = ResourceRef("user", user_id)
            out = []
            for role in self.client.list_user_roles(user_id):
                kind = role.get("type")
                if (kind in STANDARD_ROLES and role.get("assignmentType", "USER") == "USER"
                        and role.get("status", "ACTIVE") != "INACTIVE"):
                    out.append(Grant(ResourceRef("role", kind), "assigned", principal,
                                     data={"assignment_id": role.get("id")}))
            return Page(out)
        listing = self.client.list_role_assignees(token)
        return Page([], listing.next, fanout=tuple(f"user:{a['id']}" for a in listing.items if a.get("id")))


class AppSyncer:
    """Grants walk the app's group assignments then its user assignments: tokens ``g:<next>``, ``u:<next>``."""

    resource_type = APP

    def __init__(self, client: OktaClient, *, sync_inactive_apps: bool = True) -> None:
        self.client = client
        self.sync_inactive_apps = sync_inactive_apps

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        listing = self.client.list_apps(token, active_only=not self.sync_inactive_apps)
        out = []
        for app in listing.items:
            if not self.sync_inactive_apps and app.get("status") != "ACTIVE":
                continue
            profile = {"name": app.get("name"), "label": app.get("label"), "status": app.get("status"),
                       "sign_on_mode": app.get("signOnMode")}
            out.append(Resource("app", app["id"], app.get("label") or app["id"], profile=profile))
        return Page(out, listing.next)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "access", f"{resource.display_name} App Access",
                                 ("user", "group"), f"Assigned to the {resource.display_name} app")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        token = token or "g:"
        if token.startswith("g:"):
            listing = self.client.list_app_groups(resource.id, token[2:] or None)
            grants = [Grant(resource.ref, "access", ResourceRef("group", g["id"]),
                            expandable=(f"group:{g['id']}:member",)) for g in listing.items]
            return Page(grants, f"g:{listing.next}" if listing.next else "u:")
        listing = self.client.list_app_users(resource.id, token[2:] or None)
        grants = [Grant(resource.ref, "access", ResourceRef("user", u["id"]),
                        data={"scope": u.get("scope"), "status": u.get("status")}) for u in listing.items]
        return Page(grants, f"u:{listing.next}" if listing.next else None)


class CustomRoleSyncer:
    resource_type = CUSTOM_ROLE

    def __init__(self, client: OktaClient) -> None:
        self.client = client

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        listing = self.client.list_custom_roles(token)
        return Page([Resource("custom-role", r["id"], r.get("label") or r["id"],
                              profile={"label": r.get("label"), "description": r.get("description")})
                     for r in listing.items], listing.next)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "assigned", f"{resource.display_name} Role Member",
                                 ("user", "group"), f"Has the {resource.display_name} custom role")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()  # emitted by the binding members walk


class ResourceSetSyncer:
    resource_type = RESOURCE_SET

    def __init__(self, client: OktaClient) -> None:
        self.client = client

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        listing = self.client.list_resource_sets(token)
        return Page([Resource("resource-set", r["id"], r.get("label") or r["id"],
                              profile={"label": r.get("label"), "description": r.get("description")})
                     for r in listing.items], listing.next)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "bindings", f"{resource.display_name} Bindings",
                                 ("custom-role",), f"Custom roles bound to {resource.display_name}")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        listing = self.client.list_bindings(resource.id, token)
        return Page([Grant(resource.ref, "bindings", ResourceRef("custom-role", b["id"])) for b in listing.items],
                    listing.next)


class ResourceSetBindingSyncer:
    """Bindings are children of resource sets; id ``<resource set>:<custom role>``."""

    resource_type = RESOURCE_SET_BINDING

    def __init__(self, client: OktaClient) -> None:
        self.client = client

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        if parent is None:
            return Page()
        listing = self.client.list_bindings(parent.id, token)
        return Page([Resource("resourceset-binding", f"{parent.id}:{b['id']}", f"{parent.id}:{b['id']}",
                              parent=parent, profile={"resource_set": parent.id, "role": b["id"]})
                     for b in listing.items], listing.next)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "member", f"{resource.display_name} Binding Member",
                                 ("user", "group"), "Holds the custom role on the resource set")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        resource_set, _, role = resource.id.partition(":")
        listing = self.client.list_binding_members(resource_set, role, token)
        out: list[Grant] = []
        for member in listing.items:
            principal = _href_principal(((member.get("_links") or {}).get("self") or {}).get("href"))
            if principal is None:
                continue
            data = {"member_id": member.get("id")}
            out.append(Grant(resource.ref, "member", principal, _member_expansion(principal), data))
            # A principal bound to the role in several resource sets gets this grant from each binding's walk:
            # nothing binding-specific goes in it, so every write is the same (the binding grant above has it).
            out.append(Grant(ResourceRef("custom-role", role), "assigned", principal, _member_expansion(principal)))
        return Page(out, listing.next)
