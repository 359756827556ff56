"""Bundled connectors. Importing this package registers each one with the runtime's registry;
adding a connector is one import and one ``register`` line here."""

from __future__ import annotations

from iac.connectors import celigo, concur, coupa, okta
from iac.runtime._registry import ConnectorEntry, connector_entry, register, registered

register(okta.ENTRY)
register(coupa.ENTRY)
register(concur.ENTRY)
register(celigo.ENTRY)

__all__ = ["ConnectorEntry", "connector_entry", "registered"]
