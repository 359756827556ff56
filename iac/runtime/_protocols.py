"""Connector capabilities, each a runtime-checkable Protocol detected with ``isinstance``.

A connector is a :class:`RuntimeConnector` (its resource syncers and a credential check). Optional parts:

* :class:`TypeGrantsSyncer` — a syncer that lists the grants of its whole type in one paged walk
  instead of one walk per resource (Okta's admin roles: page the role assignees once).
* :class:`Provisioner` — grant and revoke; both must be idempotent.

Every syncer call returns one :class:`~iac.runtime.Page` and should make at most one HTTP request,
so the engine can interleave work for different rate-limit buckets and checkpoint between pages.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, runtime_checkable

from iac.runtime._models import Entitlement, Grant, Page, Resource, ResourceRef, ResourceType

__all__ = [
    "ProvisionOutcome",
    "ProvisionResult",
    "Provisioner",
    "ResourceSyncer",
    "RuntimeConnector",
    "TypeGrantsSyncer",
    "provision_once",
    "write_once",
]


@runtime_checkable
class ResourceSyncer(Protocol):
    """Lists one resource type, its entitlements and its grants, a page per call."""

    @property
    def resource_type(self) -> ResourceType: ...

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        """One page of resources (children of ``parent`` when the type declares a parent type)."""
        ...

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]: ...

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]: ...


@runtime_checkable
class TypeGrantsSyncer(Protocol):
    """Grants of a whole resource type from one paged walk; replaces the per-resource :meth:`grants`."""

    def type_grants(self, token: str | None) -> Page[Grant]: ...


class ProvisionOutcome(enum.StrEnum):
    GRANTED = "granted"
    ALREADY_GRANTED = "already-granted"
    REVOKED = "revoked"
    ALREADY_REVOKED = "already-revoked"


_log = logging.getLogger("iac.runtime.provisioning")

@dataclass(frozen=True, slots=True)
class ProvisionResult:
    outcome: ProvisionOutcome
    grant_id: str
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.outcome in (ProvisionOutcome.GRANTED, ProvisionOutcome.REVOKED)


@runtime_checkable
class Provisioner(Protocol):
    """Grant and revoke. Idempotent: granting twice reports ``already-granted``, not an error."""

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult: ...

    def revoke(self, grant: Grant) -> ProvisionResult: ...


class ProvisionerRouter:
    """A connector's provisioner that hands each (resource type, entitlement slug) to the provisioner of
    that type and logs the outcome. Subclasses fill :attr:`by_type`."""

    by_type: dict[tuple[str, str], Provisioner]

    def _route(self, resource_type: str, slug: str) -> Provisioner:
        from iac.runtime.errors import BadRequestError

        target = self.by_type.get((resource_type, slug))
        if target is None:
            supported = ", ".join(f"{t}:<id>:{s}" for t, s in self.by_type)
            raise BadRequestError(f"cannot provision {resource_type}:…:{slug}; supported: {supported}")
        return target

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        result = self._route(entitlement.resource.type, entitlement.slug).grant(principal, entitlement)
        _log.info("grant %s: %s", result.grant_id, result.outcome.value)
        return result

    def revoke(self, grant: Grant) -> ProvisionResult:
        result = self._route(grant.resource.type, grant.entitlement_slug).revoke(grant)
        _log.info("revoke %s: %s", result.grant_id, result.outcome.value)
        return result


T = TypeVar("T")

UNKNOWN_WRITE_ATTEMPTS = 3


def write_once(operation: Callable[[], T], *, attempts: int = UNKNOWN_WRITE_ATTEMPTS) -> tuple[T, bool]:
    """Run an idempotent operation that reads the vendor's state before it writes (a grant, a revoke, an
    enable). When a write's answer is lost (:class:`~iac.runtime.errors.WriteOutcomeUnknownError`), run it
    again: it re-reads the state and writes only if the vendor did not carry the first write out, so a
    write is never applied twice. Returns the result and whether an earlier attempt's write may have taken
    effect (an "already" answer then most likely reports our own write)."""
    from iac.runtime.errors import WriteOutcomeUnknownError

    for attempt in range(1, attempts + 1):
        try:
            return operation(), attempt > 1
        except WriteOutcomeUnknownError as exc:
            if attempt == attempts:
                raise
            _log.warning("%s; reading the current state before deciding whether to write again", exc)
    raise AssertionError("unreachable")


_OURS = {ProvisionOutcome.ALREADY_GRANTED: ProvisionOutcome.GRANTED,
         ProvisionOutcome.ALREADY_REVOKED: ProvisionOutcome.REVOKED}


def provision_once(operation: Callable[[], ProvisionResult], *,
                   attempts: int = UNKNOWN_WRITE_ATTEMPTS) -> ProvisionResult:
    """:func:`write_once` for a grant or revoke: after a lost answer, "already granted" is our grant."""
    result, earlier = write_once(operation, attempts=attempts)
    if earlier and result.outcome in _OURS:
        return dataclasses.replace(result, outcome=_OURS[result.outcome])
    return result


@runtime_checkable
class UserStatusProvisioner(Protocol):
    """Enable and disable accounts. Idempotent: each returns False when the user already had that status."""

    def enable_user(self, user: ResourceRef) -> bool: ...

    def disable_user(self, user: ResourceRef) -> bool: ...


@runtime_checkable
class RuntimeConnector(Protocol):
    """The root of a connector as the runtime runs it (what an integration's ``build`` returns; its
    configuration is the integration's spec, an :class:`iac.spec.Connector`)."""

    name: str

    def syncers(self) -> Sequence[ResourceSyncer]: ...

    def validate(self) -> None:
        """Check the credentials with one cheap call; raise an ApiError subclass when they do not work."""
        ...

    def provisioner(self) -> Provisioner | None:
        """The provisioning part, or None when the connector cannot provision."""
        ...

    @property
    def prune_principal_types(self) -> frozenset[str]:
        """Principal types whose grants are dropped at the end of a sync when the principal was not
        synced (filtered users, skipped app groups, or deleted mid-sync)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
