"""The ConductorOne side of a stack that opts in with ``Stack(conductorone=ConductorOne.managed(...))``: which
resources of the ConductorOne Terraform provider each connector needs, with the provider's attribute names
taken from the integration specs (``Integration.c1_resource``/``c1_catalog_id``, ``Setting(c1=...)``).

Pure: backends (`iac synth`) turn each :class:`C1App` into resources; none of them names an attribute of an
integration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from iac.errors import SpecError
from iac.spec._connector import Connector, Hosting, ManagedConductorOne
from iac.spec._settings import SettingSpec
from iac.spec.stack import Stack

__all__ = [
    "BATON_CATALOG_ID",
    "BATON_RESOURCE",
    "C1_PROVIDER_SOURCE",
    "C1_PROVIDER_VERSION",
    "C1App",
    "C1Attribute",
    "conductorone_apps",
]

C1_PROVIDER_SOURCE = "conductorone/conductorone"
C1_PROVIDER_VERSION = "~> 1.5"
"""The provider releases whose attribute names the integration specs use (checked against v1.5.0)."""
BATON_RESOURCE = "conductorone_integration_baton"
BATON_CATALOG_ID = "2HErg7BRmNdHgX8sTCWVq4E1fyh"
"""ConductorOne's "Baton" catalog entry: the integration of a self-hosted connector (no configuration)."""


@dataclass(frozen=True)
class C1Attribute:
    """One configuration attribute of a hosted integration resource and the setting it comes from."""

    name: str
    setting: SettingSpec
    value: Any
    """A plain value, or a :class:`~iac.spec.secret.ResolvableSecret` for a secret setting."""


@dataclass(frozen=True)
class C1App:
    """What ConductorOne gets for one connector: a ``conductorone_app``, the integration ``resource`` attached to
    it (the hosted integration, or ``conductorone_integration_baton`` for a self-hosted connector) and, when
    self-hosted, a ``conductorone_connector_credential`` whose client ID and secret the connector receives."""

    connector: Connector
    display_name: str
    owners: tuple[str, ...]
    resource: str
    catalog_id: str
    attributes: tuple[C1Attribute, ...]

    @property
    def hosting(self) -> Hosting:
        return self.connector.hosting

    @property
    def credential(self) -> bool:
        """A self-hosted connector: Terraform creates its client credentials."""
        return self.connector.hosting == "self"


def conductorone_apps(stack: Stack) -> list[C1App]:
    """The ConductorOne resources of ``stack``, in connector order; empty unless the stack manages ConductorOne.

    Self-hosted connectors with their own ``conductorone=ConductorOne(...)`` credentials are linked by hand and get
    none. Raises :class:`SpecError` for cloud-hosted connectors in a stack that does not manage ConductorOne (only
    the ConductorOne provider can declare them) and for display names of connectors the stack does not have."""
    managed = stack.conductorone
    if not isinstance(managed, ManagedConductorOne):
        if stack.cloud_hosted:
            raise SpecError("is cloud-hosted: ConductorOne runs it, and `iac synth` declares it only when the stack "
                            "manages ConductorOne: Stack(conductorone=ConductorOne.managed(owners=[...]))",
                            field="hosting", connector=stack.cloud_hosted[0].name, stack=stack.name)
        return []
    names = {c.name for c in stack.connectors}
    unknown = sorted(set(managed.display_names) - names)
    if unknown:
        raise SpecError(f"names no connector of the stack: {unknown[0]!r} (connectors: {', '.join(sorted(names))})",
                        field="conductorone.display_names", stack=stack.name)
    apps = []
    for connector in stack.connectors:
        if connector.hosting == "self" and connector.conductorone is not None:
            continue
        info = connector.integration
        if connector.hosting == "cloud":
            if info.c1_resource is None or info.c1_catalog_id is None:  # pragma: no cover - Integration checks it
                raise SpecError(f"{info.name} has no ConductorOne resource", connector=connector.name)
            resource, catalog_id = info.c1_resource, info.c1_catalog_id
            attributes = tuple(C1Attribute(spec.c1, spec, value) for spec, value in connector.c1_attributes()
                               if spec.c1 is not None)
        else:
            resource, catalog_id, attributes = BATON_RESOURCE, BATON_CATALOG_ID, ()
        apps.append(C1App(connector=connector, display_name=managed.display_name(connector), owners=managed.owners,
                          resource=resource, catalog_id=catalog_id, attributes=attributes))
    return apps
