"""Bundled connectors. Importing this package registers each one with the runtime's registry;
adding Coupa, Concur or Celigo is one import and one ``register`` line here."""

from __future__ import annotations

from iac.connectors import okta
from iac.runtime._registry import ConnectorEntry, connector_entry, register, registered

register(okta.ENTRY)

__all__ = ["ConnectorEntry", "connector_entry", "registered"]
