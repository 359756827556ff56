"""Coupa resource types, one syncer class each. Every call makes at most one request.

=============  =========================  ================================================================
type           entitlement → principals   grants come from
=============  =========================  ================================================================
user           (none)                     the access walk (below) emits every grant users hold
group          member → user              user records' ``user-groups``
role           assigned → user            user records' ``roles``
license        assigned → user            user records' license flags (13 static flags)
content-group  member → user              user records' ``content-groups`` (business groups)
account-group  member → user              user records' ``account-groups``; only with core.accounting.read
=============  =========================  ================================================================

Coupa keeps access on the user record, so one walk over ``/api/users`` trimmed to ids, lists and flags
(:meth:`UserSyncer.type_grants`) yields every grant: ``users / 50`` requests in all, where the anchor
made one query per role, group and license flag.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from iac.connectors.coupa.client import ACCESS_LISTS, LICENSE_FLAGS, CoupaClient, JSONObject, OffsetPage
from iac.connectors.coupa.config import ACCOUNTING_SCOPE
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

__all__ = [
    "ACCOUNT_GROUP",
    "CONTENT_GROUP",
    "GROUP",
    "LICENSE",
    "REVIEW",
    "ROLE",
    "USER",
    "AccountGroupSyncer",
    "ContentGroupSyncer",
    "GroupSyncer",
    "LicenseSyncer",
    "RoleSyncer",
    "UserSyncer",
    "license_name",
]

USER = ResourceType("user", "User", (Trait.USER,), "Coupa users", has_entitlements=False)
GROUP = ResourceType("group", "User Group", (Trait.GROUP,), "Coupa user groups", has_grants=False)
ROLE = ResourceType("role", "Role", (Trait.ROLE,), "Coupa roles", has_grants=False)
LICENSE = ResourceType("license", "License", (), "Coupa license flags of a user record", has_grants=False)
CONTENT_GROUP = ResourceType("content-group", "Content Group", (Trait.GROUP,),
                             "Coupa content groups (business groups)", has_grants=False)
ACCOUNT_GROUP = ResourceType("account-group", "Account Group", (Trait.GROUP,), "Coupa account groups",
                             has_grants=False)

REVIEW = ReviewFacts(
    privileged=(
        Privileged("role", "Coupa Admin role (full access)", name_pattern=r"^admin$", critical=True),
        Privileged("role", "Coupa administrative role", name_pattern=r"\badmin"),
    ),
    inactive=(Inactive("active", "Coupa user record", values=(False,)),),
    declared_by="coupa",
)
"""For ``iac review``: roles named Admin are privileged (Coupa role ids differ per instance); a user
whose record says ``active: false`` should hold nothing."""

log = logging.getLogger(__name__)

Scopes = Callable[[], frozenset[str]]
"""The scopes of the current access token (fetched on first use)."""

_SLUGS = {"group": "member", "role": "assigned", "content-group": "member", "account-group": "member"}


def license_name(flag: str) -> str:
    """``expense-user`` → ``Expense User``."""
    return flag.replace("-", " ").title()


def _token(page: OffsetPage) -> str | None:
    return None if page.next_offset is None else str(page.next_offset)


def _offset(token: str | None) -> int:
    return int(token) if token else 0


class UserSyncer:
    """Users, and the access walk: every grant users hold, read from their records (token: the offset)."""

    resource_type = USER

    def __init__(self, client: CoupaClient, scopes: Scopes) -> None:
        self.client = client
        self.scopes = scopes

    @staticmethod
    def to_resource(user: JSONObject) -> Resource:
        uid = str(user["id"])
        login = user.get("login")
        name = user.get("fullname") or " ".join(x for x in (user.get("firstname"), user.get("lastname")) if x)
        active = user.get("active") is True
        profile: dict[str, Any] = {
            "login": login, "email": user.get("email"), "first_name": user.get("firstname"),
            "last_name": user.get("lastname"), "employee_number": user.get("employee-number"),
            "active": active, "api_user": user.get("api-user"),
            "authentication_method": user.get("authentication-method"),
            "created_at": user.get("created-at"), "updated_at": user.get("updated-at"),
        }
        return Resource("user", uid, name or login or uid, profile=profile,
                        status=UserStatus.ENABLED if active else UserStatus.DISABLED, login=login,
                        emails=(user["email"],) if user.get("email") else ())

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        page = self.client.list_users(_offset(token))
        if token is None and not page.items:
            # Every Coupa instance has users (someone created this OAuth client): none means the client sees none.
            raise EmptyListingError("Coupa listed no users at all: the OAuth client cannot read users (grant it the "
                                    "core.user.read scope; see `iac explain coupa`)", method="GET", path="/api/users")
        return Page([self.to_resource(u) for u in page.items], _token(page))

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page()

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()  # type_grants covers every user

    def type_grants(self, token: str | None) -> Page[Grant]:
        account_groups = ACCOUNTING_SCOPE in self.scopes()
        page = self.client.list_user_access(_offset(token), account_groups=account_groups)
        out: list[Grant] = []
        for user in page.items:
            principal = ResourceRef("user", str(user["id"]))
            for key, rtype in ACCESS_LISTS.items():
                if rtype == "account-group" and not account_groups:
                    continue
                for entry in user.get(key) or []:
                    out.append(Grant(ResourceRef(rtype, str(entry["id"])), _SLUGS[rtype], principal))
            out += [Grant(ResourceRef("license", flag), "assigned", principal)
                    for flag in LICENSE_FLAGS if user.get(flag) is True]
        return Page(out, _token(page))


class _CatalogSyncer:
    """A paged list of named records whose grants come from the access walk."""

    resource_type: ResourceType
    slug: str
    label: str

    def __init__(self, client: CoupaClient) -> None:
        self.client = client

    def fetch(self, offset: int) -> OffsetPage:
        raise NotImplementedError

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        page = self.fetch(_offset(token))
        kind = self.resource_type.id
        return Page([Resource(kind, str(r["id"]), r.get("name") or str(r["id"]),
                              profile={"name": r.get("name"), "description": r.get("description"),
                                       "active": r.get("active")})
                     for r in page.items], _token(page))

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        verb = "Member of" if self.slug == "member" else "Holds"
        return Page([Entitlement(resource.ref, self.slug, f"{resource.display_name} {self.label} {self.slug.title()}",
                                 ("user",), f"{verb} the {resource.display_name} {self.label.lower()}")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()  # emitted by the user access walk


class GroupSyncer(_CatalogSyncer):
    resource_type, slug, label = GROUP, "member", "Group"

    def fetch(self, offset: int) -> OffsetPage:
        return self.client.list_user_groups(offset)


class RoleSyncer(_CatalogSyncer):
    resource_type, slug, label = ROLE, "assigned", "Role"

    def fetch(self, offset: int) -> OffsetPage:
        return self.client.list_roles(offset)


class ContentGroupSyncer(_CatalogSyncer):
    resource_type, slug, label = CONTENT_GROUP, "member", "Content Group"

    def fetch(self, offset: int) -> OffsetPage:
        return self.client.list_content_groups(offset)


class AccountGroupSyncer(_CatalogSyncer):
    """Listed only when the token holds core.accounting.read (Coupa answers 403 otherwise)."""

    resource_type, slug, label = ACCOUNT_GROUP, "member", "Account Group"

    def __init__(self, client: CoupaClient, scopes: Scopes) -> None:
        super().__init__(client)
        self.scopes = scopes

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        if ACCOUNTING_SCOPE not in self.scopes():
            log.info("account groups skipped: the Coupa client lacks the %s scope", ACCOUNTING_SCOPE)
            return Page()
        return super().list(parent, token)

    def fetch(self, offset: int) -> OffsetPage:
        return self.client.list_account_groups(offset)


class LicenseSyncer:
    """The license flags of a user record, a static list."""

    resource_type = LICENSE

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        return Page([Resource("license", flag, license_name(flag), profile={"flag": flag}) for flag in LICENSE_FLAGS])

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "assigned", f"{resource.display_name} License", ("user",),
                                 f"Holds the {resource.display_name} license ({resource.id})")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()  # emitted by the user access walk
