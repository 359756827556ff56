"""Coupa provisioning: user-group membership, roles and license flags; enabling and disabling users.

Coupa has no add-one or remove-one call: ``PUT /api/users/{id}`` with ``roles`` or ``user-groups``
*replaces* the list. Each change therefore reads the user's current list and writes the complete
desired list in **one** request — a revoke writes the remaining entries, never an empty list first
(the anchor briefly emptied the list, leaving the user with no roles or groups in between). The PUT's
answer is checked: a change Coupa did not apply (a license it keeps, an unknown id it drops) is an
error, not a silent success.

Every operation checks the current state first, so repeating it reports ``already-granted`` /
``already-revoked`` and writes nothing. Provisioning is gated by ``BATON_PROVISIONING=true`` in the CLI
before any of this runs; the OAuth client then also asks for the write scopes.
"""

from __future__ import annotations

import logging

from iac.connectors.coupa.client import LICENSE_FLAGS, CoupaClient
from iac.runtime import (
    Entitlement,
    Grant,
    Provisioner,
    ProvisionerRouter,
    ProvisionOutcome,
    ProvisionResult,
    ResourceRef,
)
from iac.runtime.errors import ApiError, BadRequestError

__all__ = ["CoupaProvisioner", "LicenseProvisioner", "ListProvisioner"]

log = logging.getLogger(__name__)


def _grant_id(entitlement: Entitlement, principal: ResourceRef) -> str:
    return f"{entitlement.id}:{principal.type}:{principal.id}"


def _user_id(principal: ResourceRef, entitlement_id: str) -> str:
    if principal.type != "user":
        raise BadRequestError(f"{entitlement_id} can be granted to user principals, not {principal.type}")
    if not principal.id.isdigit():
        raise BadRequestError(f"Coupa user ids are numbers, not {principal.id!r}")
    return principal.id


def _numeric(resource: ResourceRef) -> int:
    if not resource.id.isdigit():
        raise BadRequestError(f"Coupa {resource.type} ids are numbers, not {resource.id!r}")
    return int(resource.id)


class ListProvisioner:
    """An entry of one of a user's lists: ``group:<id>:member`` (``user-groups``) or ``role:<id>:assigned``
    (``roles``). Writes the complete desired list in one PUT."""

    def __init__(self, client: CoupaClient, key: str) -> None:
        self.client = client
        self.key = key

    def _current(self, user_id: str) -> list[int]:
        record = self.client.get_user(user_id, ("id", {self.key: ["id"]}))
        return [int(entry["id"]) for entry in record.get(self.key) or []]

    def _write(self, user_id: str, desired: list[int], what: str) -> None:
        record = self.client.update_user(user_id, {self.key: [{"id": i} for i in desired]},
                                         ("id", {self.key: ["id"]}))
        applied = sorted(int(entry["id"]) for entry in record.get(self.key) or [])
        if applied != sorted(desired):
            raise ApiError(f"Coupa did not apply {what}: user {user_id} holds {self.key} {applied}, "
                           f"expected {sorted(desired)}", method="PUT", path=f"/api/users/{user_id}")

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        user_id = _user_id(principal, entitlement.id)
        target = _numeric(entitlement.resource)
        out = _grant_id(entitlement, principal)
        current = self._current(user_id)
        if target in current:
            return ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, out)
        self._write(user_id, [*current, target], f"the grant of {entitlement.id}")
        return ProvisionResult(ProvisionOutcome.GRANTED, out)

    def revoke(self, grant: Grant) -> ProvisionResult:
        user_id = _user_id(grant.principal, grant.entitlement_id)
        target = _numeric(grant.resource)
        current = self._current(user_id)
        if target not in current:
            return ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
        self._write(user_id, [i for i in current if i != target], f"the revoke of {grant.entitlement_id}")
        return ProvisionResult(ProvisionOutcome.REVOKED, grant.id)


class LicenseProvisioner:
    """``license:<flag>:assigned``: set the user's boolean flag."""

    def __init__(self, client: CoupaClient) -> None:
        self.client = client

    @staticmethod
    def _flag(resource: ResourceRef) -> str:
        if resource.id not in LICENSE_FLAGS:
            raise BadRequestError(f"unknown Coupa license flag {resource.id!r}; known: {', '.join(LICENSE_FLAGS)}")
        return resource.id

    def _set(self, user_id: str, flag: str, on: bool) -> bool:
        """Set ``flag`` to ``on``; False when it already was."""
        if self.client.get_user(user_id, ("id", flag)).get(flag) is on:
            return False
        record = self.client.update_user(user_id, {flag: on}, ("id", flag))
        if record.get(flag) is not on:
            raise ApiError(f"Coupa did not {'grant' if on else 'revoke'} the {flag} license of user {user_id} "
                           "(some licenses can only be changed in the Coupa UI)", method="PUT",
                           path=f"/api/users/{user_id}")
        return True

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        user_id = _user_id(principal, entitlement.id)
        changed = self._set(user_id, self._flag(entitlement.resource), True)
        outcome = ProvisionOutcome.GRANTED if changed else ProvisionOutcome.ALREADY_GRANTED
        return ProvisionResult(outcome, _grant_id(entitlement, principal))

    def revoke(self, grant: Grant) -> ProvisionResult:
        user_id = _user_id(grant.principal, grant.entitlement_id)
        changed = self._set(user_id, self._flag(grant.resource), False)
        return ProvisionResult(ProvisionOutcome.REVOKED if changed else ProvisionOutcome.ALREADY_REVOKED, grant.id)


class CoupaProvisioner(ProvisionerRouter):
    """Routes grant/revoke to the provisioner of the entitlement's resource type; enables and disables users."""

    def __init__(self, client: CoupaClient) -> None:
        self.client = client
        self.by_type: dict[tuple[str, str], Provisioner] = {
            ("group", "member"): ListProvisioner(client, "user-groups"),
            ("role", "assigned"): ListProvisioner(client, "roles"),
            ("license", "assigned"): LicenseProvisioner(client),
        }


    def set_active(self, user: ResourceRef, active: bool) -> bool:
        """Enable (``active=True``) or disable a user; returns False when it already was so. Coupa has no
        user deletion: disabling is how access ends."""
        user_id = _user_id(user, "enable/disable")
        if self.client.get_user(user_id, ("id", "active")).get("active") is active:
            log.info("%s user %s: already %s", "enable" if active else "disable", user_id,
                     "enabled" if active else "disabled")
            return False
        record = self.client.update_user(user_id, {"active": active}, ("id", "active"))
        if record.get("active") is not active:
            raise ApiError(f"Coupa did not {'enable' if active else 'disable'} user {user_id}", method="PUT",
                           path=f"/api/users/{user_id}")
        log.info("%s user %s: done", "enable" if active else "disable", user_id)
        return True

    def enable_user(self, user: ResourceRef) -> bool:
        return self.set_active(user, True)

    def disable_user(self, user: ResourceRef) -> bool:
        return self.set_active(user, False)
