"""What a connector produces: resource types, resources, entitlements, grants, and a page of them.

Identifiers follow baton's conventions:

* entitlement id: ``<resource type>:<resource id>:<slug>``            e.g. ``group:00g1:member``
* grant id:       ``<entitlement id>:<principal type>:<principal id>`` e.g. ``group:00g1:member:user:00u1``

Resource ids may contain ``:`` (Okta's ``resourceset-binding`` ids are ``<set>:<role>``); principal ids
and slugs may not, so ids are parsed from the right.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = [
    "Entitlement",
    "Grant",
    "Page",
    "Resource",
    "ResourceRef",
    "ResourceType",
    "Trait",
    "UserStatus",
    "parse_entitlement_id",
    "parse_grant_id",
]

JSON = Any
T = TypeVar("T")


class Trait(enum.StrEnum):
    USER = "user"
    GROUP = "group"
    ROLE = "role"
    APP = "app"
    SECRET = "secret"


class UserStatus(enum.StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"
    UNSPECIFIED = "unspecified"


@dataclass(frozen=True, slots=True)
class ResourceType:
    """A kind of resource. ``parent`` names the type whose resources own these (child listing)."""

    id: str
    display_name: str
    traits: tuple[Trait, ...] = ()
    description: str = ""
    parent: str | None = None
    has_entitlements: bool = True
    has_grants: bool = True

    def to_json(self) -> dict[str, JSON]:
        return {"id": self.id, "display_name": self.display_name, "traits": [t.value for t in self.traits],
                "description": self.description, "parent": self.parent}


@dataclass(frozen=True, slots=True, order=True)
class ResourceRef:
    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}:{self.id}"

    @classmethod
    def parse(cls, text: str, default_type: str = "user") -> ResourceRef:
        """``type:id`` or a bare id (of ``default_type``)."""
        kind, sep, ident = text.partition(":")
        return cls(kind, ident) if sep and ident else cls(default_type, text)


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource. ``profile`` is free-form JSON; ``user`` traits go in the typed fields."""

    type: str
    id: str
    display_name: str
    parent: ResourceRef | None = None
    profile: Mapping[str, JSON] = field(default_factory=dict)
    status: UserStatus | None = None
    login: str | None = None
    emails: tuple[str, ...] = ()

    @property
    def ref(self) -> ResourceRef:
        return ResourceRef(self.type, self.id)

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"type": self.type, "id": self.id, "display_name": self.display_name,
                                "profile": dict(self.profile)}
        if self.parent is not None:
            out["parent"] = {"type": self.parent.type, "id": self.parent.id}
        if self.status is not None:
            out["status"] = self.status.value
        if self.login is not None:
            out["login"] = self.login
        if self.emails:
            out["emails"] = list(self.emails)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> Resource:
        parent = data.get("parent")
        status = data.get("status")
        return cls(type=data["type"], id=data["id"], display_name=data.get("display_name", data["id"]),
                   parent=ResourceRef(parent["type"], parent["id"]) if parent else None,
                   profile=data.get("profile") or {}, status=UserStatus(status) if status else None,
                   login=data.get("login"), emails=tuple(data.get("emails") or ()))


@dataclass(frozen=True, slots=True)
class Entitlement:
    """Something grantable on a resource (``member`` of a group, ``access`` to an app)."""

    resource: ResourceRef
    slug: str
    display_name: str
    grantable_to: tuple[str, ...] = ("user",)
    description: str = ""

    @property
    def id(self) -> str:
        return f"{self.resource.type}:{self.resource.id}:{self.slug}"

    def to_json(self) -> dict[str, JSON]:
        return {"id": self.id, "resource_type": self.resource.type, "resource_id": self.resource.id,
                "slug": self.slug, "display_name": self.display_name, "grantable_to": list(self.grantable_to),
                "description": self.description}


@dataclass(frozen=True, slots=True)
class Grant:
    """``principal`` holds ``entitlement_slug`` on ``resource``.

    ``expandable`` lists entitlement ids whose holders also hold this grant (a role given to a group
    is held by the group's members: ``("group:00g1:member",)``).
    """

    resource: ResourceRef
    entitlement_slug: str
    principal: ResourceRef
    expandable: tuple[str, ...] = ()
    data: Mapping[str, JSON] = field(default_factory=dict)

    @property
    def entitlement_id(self) -> str:
        return f"{self.resource.type}:{self.resource.id}:{self.entitlement_slug}"

    @property
    def id(self) -> str:
        return f"{self.entitlement_id}:{self.principal.type}:{self.principal.id}"

    def to_json(self) -> dict[str, JSON]:
        """What the id does not say (the store keeps ids and principals in columns)."""
        out: dict[str, JSON] = {}
        if self.expandable:
            out["expandable"] = list(self.expandable)
        if self.data:
            out["data"] = dict(self.data)
        return out


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One call's worth of results.

    ``next_token`` continues this call (the next page); ``fanout`` are independent tokens for the
    same call that may run in parallel (e.g. one per user found on a page of role assignees).
    """

    items: list[T] = field(default_factory=list)
    next_token: str | None = None
    fanout: tuple[str, ...] = ()


def parse_entitlement_id(text: str) -> tuple[ResourceRef, str]:
    """``type:resource-id:slug`` → (resource, slug). The resource id may contain ``:``."""
    kind, sep, rest = text.partition(":")
    resource_id, sep2, slug = rest.rpartition(":")
    if not (sep and sep2 and kind and resource_id and slug):
        raise ValueError(f"not an entitlement id (type:resource:slug): {text!r}")
    return ResourceRef(kind, resource_id), slug


def parse_grant_id(text: str) -> tuple[ResourceRef, str, ResourceRef]:
    """``<entitlement id>:<principal type>:<principal id>`` → (resource, slug, principal)."""
    head, sep, principal_id = text.rpartition(":")
    entitlement, sep2, principal_type = head.rpartition(":")
    if not (sep and sep2 and principal_id and principal_type):
        raise ValueError(f"not a grant id (entitlement:principal-type:principal-id): {text!r}")
    try:
        resource, slug = parse_entitlement_id(entitlement)
    except ValueError:
        raise ValueError(f"not a grant id (entitlement:principal-type:principal-id): {text!r}") from None
    return resource, slug, ResourceRef(principal_type, principal_id)
