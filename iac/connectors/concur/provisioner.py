"""SAP Concur provisioning: grant and revoke roles through User Provisioning v4.

* ``role:spend:<code>:assigned`` — a SCIM PatchOp on the Spend role extension: ``add`` the role (a
  group-aware role is assigned for the global group ``""``), or ``remove`` it with the filter path
  ``…:Role:roles[roleName eq "<code>"]``.
* ``role:concur:<product>:assigned`` — ``add`` the product to the user's ``entitlements``, or ``remove``
  it with ``entitlements[value eq "<product>"]``.

Each change is one ``POST /profile/v4/Bulk`` request; Concur applies it asynchronously, so the connector
waits for ``/profile/v4/provisions/{id}/status`` to report it complete (:func:`~iac.runtime.poll_until`)
and raises with Concur's message when it failed. The current state is read first, so repeating a grant
or revoke reports ``already-granted`` / ``already-revoked`` and writes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from iac.connectors.concur.client import SPEND_ROLE_SCHEMA, ConcurClient, JSONObject
from iac.connectors.concur.roles import RoleInfo, role_info
from iac.runtime import Clock, Entitlement, Grant, ProvisionOutcome, ProvisionResult, ResourceRef, poll_until
from iac.runtime.errors import ApiError, BadRequestError

__all__ = ["ConcurProvisioner"]

log = logging.getLogger(__name__)


def _failure(status: JSONObject) -> str:
    """Concur's messages for the failed operations of a provisioning status with ``operations``."""
    messages: list[str] = []
    for operation in status.get("operations") or []:
        for extension in operation.get("extensions") or [] if isinstance(operation, dict) else []:
            detail = extension.get("messages") if isinstance(extension, dict) else None
            if isinstance(detail, dict) and detail.get("message"):
                messages.append(f"{detail.get('code', '')} {detail['message']}".strip())
    return "; ".join(messages) or "no detail given"


class ConcurProvisioner:
    """``role:<kind>:<code>:assigned`` → user."""

    def __init__(self, client: ConcurClient, *, clock: Clock, timeout: float = 120.0) -> None:
        self.client = client
        self.clock = clock
        self.timeout = timeout

    @staticmethod
    def _parse(resource: ResourceRef, slug: str, principal: ResourceRef) -> RoleInfo:
        if (resource.type, slug) != ("role", "assigned"):
            raise BadRequestError(f"cannot provision {resource.type}:…:{slug}; supported: role:<id>:assigned")
        info = role_info(resource.id)
        if info is None:
            raise BadRequestError(f"unknown Concur role {resource.id!r}: use spend:<role code> or concur:<product>")
        if principal.type != "user":
            raise BadRequestError(f"Concur roles can be granted to user principals, not {principal.type}")
        return info

    def _holds(self, info: RoleInfo, user_id: str) -> bool:
        if info.kind == "spend":
            return info.code in self.client.spend_roles(user_id)
        return info.code in self.client.user_products(user_id)

    def _apply(self, user_id: str, operations: list[Mapping[str, Any]], what: str) -> None:
        provision_id = self.client.patch_user(user_id, operations)

        def finished() -> JSONObject | None:
            status = self.client.provision_status(provision_id)
            state = status.get("status") or {}
            return status if isinstance(state, dict) and state.get("completed") is True else None

        status = poll_until(finished, clock=self.clock, timeout=self.timeout,
                            what=f"Concur provisioning request {provision_id} ({what})")
        if (status.get("status") or {}).get("success") is not True:
            detail = _failure(self.client.provision_status(provision_id, operations=True))
            raise ApiError(f"Concur refused {what}: {detail}", method="POST", path="/profile/v4/Bulk")

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        info = self._parse(entitlement.resource, entitlement.slug, principal)
        out = f"{entitlement.id}:{principal.type}:{principal.id}"
        if self._holds(info, principal.id):
            result = ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, out)
        else:
            if info.kind == "spend":
                role: dict[str, Any] = {"roleName": info.code}
                if info.group_aware:
                    role["roleGroups"] = [""]  # the global group
                operation: dict[str, Any] = {"op": "add", "path": f"{SPEND_ROLE_SCHEMA}:roles", "value": [role]}
            else:
                operation = {"op": "add", "path": "entitlements", "value": [info.code]}
            self._apply(principal.id, [operation], f"the grant of {entitlement.id}")
            result = ProvisionResult(ProvisionOutcome.GRANTED, out)
        log.info("grant %s: %s", result.grant_id, result.outcome.value)
        return result

    def revoke(self, grant: Grant) -> ProvisionResult:
        info = self._parse(grant.resource, grant.entitlement_slug, grant.principal)
        if not self._holds(info, grant.principal.id):
            result = ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
        else:
            path = (f'{SPEND_ROLE_SCHEMA}:roles[roleName eq "{info.code}"]' if info.kind == "spend"
                    else f'entitlements[value eq "{info.code}"]')
            self._apply(grant.principal.id, [{"op": "remove", "path": path}], f"the revoke of {grant.entitlement_id}")
            result = ProvisionResult(ProvisionOutcome.REVOKED, grant.id)
        log.info("revoke %s: %s", result.grant_id, result.outcome.value)
        return result
