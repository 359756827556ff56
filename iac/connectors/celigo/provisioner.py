"""Celigo provisioning: the account-wide role (access level) of a user.

* **Grant** ``role:<level>:assigned`` sets the user's account-wide ``accessLevel`` to ``administrator``,
  ``manage`` or ``monitor``. The PUT is a full replace, so every other writable field of the record
  (per-integration access, SSO/MFA settings, …) is sent back unchanged.
* **Revoke** removes that access — it does not demote to ``monitor`` (the anchor did, so a revoked
  administrator kept read access to every integration):
  - a user who also holds per-integration access keeps only that: the account-wide level is cleared;
  - a user with nothing else loses access to the account: the account share is deleted (re-granting then
    takes a new invitation, since the share id is gone).

Both check the current record first: repeating reports ``already-granted`` / ``already-revoked`` and
writes nothing; a user who is already gone reports ``already-revoked``. Errors surface (the anchor
logged and swallowed them).
"""

from __future__ import annotations

import logging

from iac.connectors.celigo.client import CeligoClient, writable
from iac.connectors.celigo.resources import ACCOUNT_ROLES
from iac.runtime import Entitlement, Grant, ProvisionOutcome, ProvisionResult, ResourceRef
from iac.runtime.errors import BadRequestError, NotFoundError

__all__ = ["CeligoProvisioner"]

log = logging.getLogger(__name__)


def _level(resource: ResourceRef, slug: str, principal: ResourceRef) -> str:
    if (resource.type, slug) != ("role", "assigned"):
        raise BadRequestError(f"cannot provision {resource.type}:…:{slug}; supported: role:<level>:assigned")
    if resource.id not in ACCOUNT_ROLES:
        raise BadRequestError(f"unknown Celigo account role {resource.id!r}; known: {', '.join(ACCOUNT_ROLES)}")
    if principal.type != "user":
        raise BadRequestError(f"Celigo roles can be granted to user principals, not {principal.type}")
    return resource.id


class CeligoProvisioner:
    """``role:<administrator|manage|monitor>:assigned`` → user (an account share id)."""

    def __init__(self, client: CeligoClient) -> None:
        self.client = client

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        level = _level(entitlement.resource, entitlement.slug, principal)
        out = f"{entitlement.id}:{principal.type}:{principal.id}"
        record = self.client.get_ashare(principal.id)
        if record.get("accessLevel") == level:
            result = ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, out)
        else:
            self.client.replace_ashare(principal.id, {**writable(record), "accessLevel": level})
            result = ProvisionResult(ProvisionOutcome.GRANTED, out,
                                     f"account access level {record.get('accessLevel') or 'none'} → {level}")
        log.info("grant %s: %s", result.grant_id, result.outcome.value)
        return result

    def revoke(self, grant: Grant) -> ProvisionResult:
        level = _level(grant.resource, grant.entitlement_slug, grant.principal)
        ashare = grant.principal.id
        try:
            record = self.client.get_ashare(ashare)
        except NotFoundError:
            record = {}
        if record.get("accessLevel") != level:
            result = ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
        elif record.get("integrationAccessLevel"):
            body = writable(record)
            del body["accessLevel"]
            self.client.replace_ashare(ashare, body)
            result = ProvisionResult(ProvisionOutcome.REVOKED, grant.id,
                                     "account access level removed; per-integration access kept")
        else:
            try:
                self.client.delete_ashare(ashare)
            except NotFoundError:  # removed by someone else in between
                result = ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
            else:
                result = ProvisionResult(ProvisionOutcome.REVOKED, grant.id,
                                         "no other access: the user was removed from the account")
        log.info("revoke %s: %s%s", result.grant_id, result.outcome.value,
                 f" ({result.detail})" if result.detail else "")
        return result
