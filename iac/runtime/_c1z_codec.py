"""The runtime's models as ``c1.connector.v2`` messages (what a c1z stores) and back.

Writing uses only what the baton CLI v0.7.27 decodes: the traits User, Group, Role, App and Secret, and the
annotations GrantExpandable, GrantMetadata and Skip*. A resource's ``profile`` goes into its trait's
``profile`` (a ``google.protobuf.Struct``), or into ``Resource.profile`` for a type without a trait.

Reading accepts any connector's messages. ``Struct`` keeps numbers as doubles, so whole numbers come
back as ``int`` (JSON cannot tell 5 from 5.0 either).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from google.protobuf.any_pb2 import Any as AnyMessage
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import ListValue, Struct, Value

from iac.c1z import pb
from iac.runtime._models import Entitlement, Grant, Resource, ResourceRef, ResourceType, Trait, UserStatus

__all__ = [
    "entitlement_from_pb",
    "entitlement_to_pb",
    "expandable_of",
    "grant_from_pb",
    "grant_to_pb",
    "profile_of",
    "resource_from_pb",
    "resource_to_pb",
    "resource_type_from_pb",
    "resource_type_to_pb",
    "struct_to_dict",
]

_TRAIT_TO_PB = {Trait.USER: pb.ResourceType.TRAIT_USER, Trait.GROUP: pb.ResourceType.TRAIT_GROUP,
                Trait.ROLE: pb.ResourceType.TRAIT_ROLE, Trait.APP: pb.ResourceType.TRAIT_APP,
                Trait.SECRET: pb.ResourceType.TRAIT_SECRET}
_TRAIT_FROM_PB = {v: k for k, v in _TRAIT_TO_PB.items()}
_STATUS_TO_PB = {UserStatus.ENABLED: pb.UserTrait.Status.STATUS_ENABLED,
                 UserStatus.DISABLED: pb.UserTrait.Status.STATUS_DISABLED,
                 UserStatus.DELETED: pb.UserTrait.Status.STATUS_DELETED,
                 UserStatus.UNSPECIFIED: pb.UserTrait.Status.STATUS_UNSPECIFIED}
_STATUS_FROM_PB = {v: k for k, v in _STATUS_TO_PB.items()}
_RESOURCE_STATUS_TO_PB = {UserStatus.ENABLED: pb.Status.RESOURCE_STATUS_ENABLED,
                          UserStatus.DISABLED: pb.Status.RESOURCE_STATUS_DISABLED,
                          UserStatus.DELETED: pb.Status.RESOURCE_STATUS_DELETED,
                          UserStatus.UNSPECIFIED: pb.Status.RESOURCE_STATUS_UNSPECIFIED}
_RESOURCE_STATUS_FROM_PB = {v: k for k, v in _RESOURCE_STATUS_TO_PB.items()}
ProfileTrait = pb.UserTrait | pb.GroupTrait | pb.RoleTrait | pb.AppTrait | pb.SecretTrait | pb.AgentTrait
_PROFILE_TRAITS: tuple[type[ProfileTrait], ...] = (pb.UserTrait, pb.GroupTrait, pb.RoleTrait, pb.AppTrait,
                                                   pb.SecretTrait, pb.AgentTrait)


def _pack(message: Message) -> AnyMessage:
    packed = AnyMessage()
    packed.Pack(message, deterministic=True)
    return packed


def _struct(values: Mapping[str, Any]) -> Struct:
    out = Struct()
    out.update(values)
    return out


def _value(value: Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return struct_to_dict(value.struct_value)
    if kind == "list_value":
        return _list(value.list_value)
    return None


def _list(values: ListValue) -> list[Any]:
    return [_value(v) for v in values.values]


def struct_to_dict(struct: Struct) -> dict[str, Any]:
    return {key: _value(value) for key, value in struct.fields.items()}


# -- resource types -------------------------------------------------------------------------------------

def resource_type_to_pb(rt: ResourceType) -> pb.ResourceType:
    annotations = []
    if not rt.has_entitlements and not rt.has_grants:
        annotations.append(_pack(pb.SkipEntitlementsAndGrants()))
    elif not rt.has_entitlements:
        annotations.append(_pack(pb.SkipEntitlements()))
    elif not rt.has_grants:
        annotations.append(_pack(pb.SkipGrants()))
    return pb.ResourceType(id=rt.id, display_name=rt.display_name, description=rt.description,
                           traits=[_TRAIT_TO_PB[t] for t in rt.traits], annotations=annotations)


def resource_type_from_pb(message: pb.ResourceType) -> ResourceType:
    skip_all = any(a.Is(pb.SkipEntitlementsAndGrants.DESCRIPTOR) for a in message.annotations)
    skip_entitlements = skip_all or any(a.Is(pb.SkipEntitlements.DESCRIPTOR) for a in message.annotations)
    skip_grants = skip_all or any(a.Is(pb.SkipGrants.DESCRIPTOR) for a in message.annotations)
    return ResourceType(message.id, message.display_name or message.id,
                        tuple(_TRAIT_FROM_PB[t] for t in message.traits if t in _TRAIT_FROM_PB),
                        message.description, has_entitlements=not skip_entitlements, has_grants=not skip_grants)


# -- resources ------------------------------------------------------------------------------------------

def _resource_id(ref: ResourceRef) -> pb.ResourceId:
    return pb.ResourceId(resource_type=ref.type, resource=ref.id)


def resource_to_pb(resource: Resource, traits: Sequence[Trait] = ()) -> pb.Resource:
    message = pb.Resource(id=pb.ResourceId(resource_type=resource.type, resource=resource.id),
                          display_name=resource.display_name)
    if resource.parent is not None:
        message.parent_resource_id.CopyFrom(_resource_id(resource.parent))
    profile = _struct(resource.profile) if resource.profile else None
    trait = traits[0] if traits else None
    if trait is Trait.USER:
        user = pb.UserTrait(profile=profile, login=resource.login or "",
                            emails=[pb.UserTrait.Email(address=e, is_primary=i == 0)
                                    for i, e in enumerate(resource.emails)])
        if resource.status is not None:
            user.status.status = _STATUS_TO_PB[resource.status]
        message.annotations.append(_pack(user))
        return message
    if trait is Trait.GROUP:
        message.annotations.append(_pack(pb.GroupTrait(profile=profile)))
    elif trait is Trait.ROLE:
        message.annotations.append(_pack(pb.RoleTrait(profile=profile)))
    elif trait is Trait.APP:
        message.annotations.append(_pack(pb.AppTrait(profile=profile)))
    elif trait is Trait.SECRET:
        message.annotations.append(_pack(pb.SecretTrait(profile=profile)))
    elif profile is not None:
        message.profile.CopyFrom(profile)
    if resource.status is not None:
        message.status.status = _RESOURCE_STATUS_TO_PB[resource.status]
    return message


def _trait(message: pb.Resource) -> ProfileTrait | None:
    for annotation in message.annotations:
        for kind in _PROFILE_TRAITS:
            if annotation.Is(kind.DESCRIPTOR):
                trait = kind()
                annotation.Unpack(trait)
                return trait
    return None


def profile_of(message: pb.Resource) -> dict[str, Any]:
    """The resource's profile: its trait's, else ``Resource.profile``."""
    trait = _trait(message)
    if trait is not None and trait.HasField("profile"):
        return struct_to_dict(trait.profile)
    return struct_to_dict(message.profile) if message.HasField("profile") else {}


def resource_from_pb(message: pb.Resource) -> Resource:
    trait = _trait(message)
    profile: dict[str, Any] = {}
    status: UserStatus | None = None
    login: str | None = None
    emails: tuple[str, ...] = ()
    if trait is not None and trait.HasField("profile"):
        profile = struct_to_dict(trait.profile)
    elif message.HasField("profile"):
        profile = struct_to_dict(message.profile)
    if isinstance(trait, pb.UserTrait):
        if trait.HasField("status"):
            status = _STATUS_FROM_PB.get(trait.status.status, UserStatus.UNSPECIFIED)
        login = trait.login or None
        primary_first = sorted(trait.emails, key=lambda e: not e.is_primary)
        emails = tuple(e.address for e in primary_first)
    if status is None and message.HasField("status"):
        status = _RESOURCE_STATUS_FROM_PB.get(message.status.status, UserStatus.UNSPECIFIED)
    parent = message.parent_resource_id
    return Resource(message.id.resource_type, message.id.resource, message.display_name or message.id.resource,
                    parent=ResourceRef(parent.resource_type, parent.resource) if parent.resource_type else None,
                    profile=profile, status=status, login=login, emails=emails)


# -- entitlements ---------------------------------------------------------------------------------------

def entitlement_to_pb(entitlement: Entitlement, types: Mapping[str, ResourceType]) -> pb.Entitlement:
    grantable = []
    for type_id in entitlement.grantable_to:
        rt = types.get(type_id)
        grantable.append(pb.ResourceType(id=type_id, display_name=rt.display_name if rt else "",
                                         traits=[_TRAIT_TO_PB[t] for t in rt.traits] if rt else []))
    return pb.Entitlement(resource=pb.Resource(id=_resource_id(entitlement.resource)), id=entitlement.id,
                          display_name=entitlement.display_name, description=entitlement.description,
                          grantable_to=grantable, slug=entitlement.slug)


def entitlement_from_pb(message: pb.Entitlement) -> Entitlement:
    ref = ResourceRef(message.resource.id.resource_type, message.resource.id.resource)
    prefix = f"{ref}:"
    slug = message.slug or (message.id[len(prefix):] if message.id.startswith(prefix) else message.id)
    return Entitlement(ref, slug, message.display_name or message.id,
                       grantable_to=tuple(t.id for t in message.grantable_to), description=message.description)


# -- grants ---------------------------------------------------------------------------------------------

def grant_to_pb(grant: Grant) -> pb.Grant:
    annotations = []
    if grant.expandable:
        annotations.append(_pack(pb.GrantExpandable(entitlement_ids=grant.expandable)))
    if grant.data:
        annotations.append(_pack(pb.GrantMetadata(metadata=_struct(grant.data))))
    return pb.Grant(id=grant.id,
                    entitlement=pb.Entitlement(id=grant.entitlement_id,
                                               resource=pb.Resource(id=_resource_id(grant.resource))),
                    principal=pb.Resource(id=_resource_id(grant.principal)), annotations=annotations)


def expandable_of(message: pb.Grant, column: bytes | None = None) -> tuple[str, ...]:
    """Entitlement ids whose holders inherit the grant: the GrantExpandable annotation, or the ``expansion``
    column where newer SDKs move it."""
    for annotation in message.annotations:
        if annotation.Is(pb.GrantExpandable.DESCRIPTOR):
            expandable = pb.GrantExpandable()
            annotation.Unpack(expandable)
            return tuple(expandable.entitlement_ids)
    if column:
        return tuple(pb.GrantExpandable.FromString(column).entitlement_ids)
    return ()


def grant_from_pb(message: pb.Grant, expansion: bytes | None = None) -> Grant:
    entitlement = message.entitlement
    resource = ResourceRef(entitlement.resource.id.resource_type, entitlement.resource.id.resource)
    prefix = f"{resource}:"
    slug = entitlement.id[len(prefix):] if entitlement.id.startswith(prefix) else entitlement.id
    data: dict[str, Any] = {}
    for annotation in message.annotations:
        if annotation.Is(pb.GrantMetadata.DESCRIPTOR):
            metadata = pb.GrantMetadata()
            annotation.Unpack(metadata)
            data = struct_to_dict(metadata.metadata)
    principal = ResourceRef(message.principal.id.resource_type, message.principal.id.resource)
    return Grant(resource, slug, principal, expandable=expandable_of(message, expansion), data=data)


def encode(messages: Iterable[Message]) -> list[bytes]:
    """Deterministic bytes (map order fixed): equal content gives equal rows, which diffs compare."""
    return [m.SerializeToString(deterministic=True) for m in messages]
