"""Okta provisioning: group membership, app assignment (users and groups), standard role assignment.

Every operation checks the current state first, so repeating it reports ``already-granted`` /
``already-revoked`` instead of failing or changing anything. Provisioning is gated by
``BATON_PROVISIONING=true`` in the CLI before any of this runs.
"""

from __future__ import annotations

import logging

from iac.connectors.okta.client import OktaClient
from iac.connectors.okta.resources import STANDARD_ROLES
from iac.runtime import (
    Entitlement,
    Grant,
    Provisioner,
    ProvisionerRouter,
    ProvisionOutcome,
    ProvisionResult,
    ResourceRef,
)
from iac.runtime.errors import BadRequestError, NotFoundError

__all__ = ["AppAccessProvisioner", "GroupMemberProvisioner", "OktaProvisioner", "RoleProvisioner"]

log = logging.getLogger(__name__)


def _grant_id(entitlement: Entitlement, principal: ResourceRef) -> str:
    return f"{entitlement.id}:{principal.type}:{principal.id}"


def _require(principal: ResourceRef, allowed: tuple[str, ...], entitlement_id: str) -> None:
    if principal.type not in allowed:
        raise BadRequestError(f"{entitlement_id} can be granted to {' or '.join(allowed)} principals, "
                              f"not {principal.type}")


class GroupMemberProvisioner:
    """``group:<id>:member`` → user."""

    def __init__(self, client: OktaClient) -> None:
        self.client = client

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        _require(principal, ("user",), entitlement.id)
        gid = entitlement.resource.id
        gid_out = _grant_id(entitlement, principal)
        if self.client.is_group_member(gid, principal.id):
            return ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, gid_out)
        self.client.add_group_member(gid, principal.id)
        return ProvisionResult(ProvisionOutcome.GRANTED, gid_out)

    def revoke(self, grant: Grant) -> ProvisionResult:
        gid = grant.resource.id
        if not self.client.is_group_member(gid, grant.principal.id):
            return ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
        self.client.remove_group_member(gid, grant.principal.id)
        return ProvisionResult(ProvisionOutcome.REVOKED, grant.id)


class AppAccessProvisioner:
    """``app:<id>:access`` → user (individual assignment) or group (group assignment)."""

    def __init__(self, client: OktaClient) -> None:
        self.client = client

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        _require(principal, ("user", "group"), entitlement.id)
        app = entitlement.resource.id
        out = _grant_id(entitlement, principal)
        if principal.type == "user":
            if self.client.app_user_exists(app, principal.id):
                return ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, out)
            self.client.assign_app_user(app, principal.id)
        else:
            if self.client.app_group_exists(app, principal.id):
                return ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, out)
            self.client.assign_app_group(app, principal.id)
        return ProvisionResult(ProvisionOutcome.GRANTED, out)

    def revoke(self, grant: Grant) -> ProvisionResult:
        app, principal = grant.resource.id, grant.principal
        _require(principal, ("user", "group"), grant.entitlement_id)
        exists = (self.client.app_user_exists(app, principal.id) if principal.type == "user"
                  else self.client.app_group_exists(app, principal.id))
        if not exists:
            return ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
        try:
            if principal.type == "user":
                self.client.unassign_app_user(app, principal.id)
            else:
                self.client.unassign_app_group(app, principal.id)
        except NotFoundError:  # removed by someone else in between
            return ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
        return ProvisionResult(ProvisionOutcome.REVOKED, grant.id)


class RoleProvisioner:
    """``role:<TYPE>:assigned`` → user or group (standard roles)."""

    def __init__(self, client: OktaClient) -> None:
        self.client = client

    def _held(self, principal: ResourceRef, role_type: str) -> list[str]:
        assignment = "USER" if principal.type == "user" else "GROUP"
        return [str(r.get("id")) for r in self.client.list_roles_of(principal.type, principal.id)
                if r.get("type") == role_type and r.get("assignmentType", assignment) == assignment]

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        _require(principal, ("user", "group"), entitlement.id)
        role_type = entitlement.resource.id
        if role_type not in STANDARD_ROLES:
            raise BadRequestError(f"unknown standard role type {role_type!r}")
        out = _grant_id(entitlement, principal)
        if self._held(principal, role_type):
            return ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, out)
        if not self.client.assign_role(principal.type, principal.id, role_type):
            return ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, out)
        return ProvisionResult(ProvisionOutcome.GRANTED, out)

    def revoke(self, grant: Grant) -> ProvisionResult:
        _require(grant.principal, ("user", "group"), grant.entitlement_id)
        held = self._held(grant.principal, grant.resource.id)
        if not held:
            return ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
        for assignment_id in held:
            try:
                self.client.unassign_role(grant.principal.type, grant.principal.id, assignment_id)
            except NotFoundError:
                continue
        return ProvisionResult(ProvisionOutcome.REVOKED, grant.id)


class OktaProvisioner(ProvisionerRouter):
    """Routes grant/revoke to the provisioner of the entitlement's resource type."""

    def __init__(self, client: OktaClient) -> None:
        self.by_type: dict[tuple[str, str], Provisioner] = {
            ("group", "member"): GroupMemberProvisioner(client),
            ("app", "access"): AppAccessProvisioner(client),
            ("role", "assigned"): RoleProvisioner(client),
        }

