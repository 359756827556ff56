"""The generated ``c1.connector.v2`` messages in one namespace: ``from iac.c1z import pb; pb.Resource()``."""

from __future__ import annotations

from iac.c1z._pb.annotation_trait_pb2 import (
    AgentTrait,
    AppTrait,
    GroupTrait,
    LicenseProfileTrait,
    NonHumanIdentityTrait,
    RoleScopeCondition,
    RoleScopeConditions,
    RoleTrait,
    ScopeBindingTrait,
    SecretTrait,
    UserTrait,
)
from iac.c1z._pb.annotations_pb2 import (
    ChildResourceType,
    EntitlementImmutable,
    ExternalLink,
    GrantExpandable,
    GrantImmutable,
    GrantMetadata,
    RawId,
    SkipEntitlements,
    SkipEntitlementsAndGrants,
    SkipGrants,
    V1Identifier,
)
from iac.c1z._pb.asset_pb2 import AssetRef
from iac.c1z._pb.entitlement_pb2 import Entitlement
from iac.c1z._pb.grant_pb2 import Grant, GrantSources
from iac.c1z._pb.resource_pb2 import ExternalId, Resource, ResourceId, ResourceType, Status

__all__ = [
    "AgentTrait",
    "AppTrait",
    "AssetRef",
    "ChildResourceType",
    "Entitlement",
    "EntitlementImmutable",
    "ExternalId",
    "ExternalLink",
    "Grant",
    "GrantExpandable",
    "GrantImmutable",
    "GrantMetadata",
    "GrantSources",
    "GroupTrait",
    "LicenseProfileTrait",
    "NonHumanIdentityTrait",
    "RawId",
    "Resource",
    "ResourceId",
    "ResourceType",
    "RoleScopeCondition",
    "RoleScopeConditions",
    "RoleTrait",
    "ScopeBindingTrait",
    "SecretTrait",
    "SkipEntitlements",
    "SkipEntitlementsAndGrants",
    "SkipGrants",
    "Status",
    "UserTrait",
    "V1Identifier",
]
