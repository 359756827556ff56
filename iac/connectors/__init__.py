"""Bundled connectors, one package each. Which connectors exist is the integration registry's business
(:mod:`iac.plugins`): every registered integration with a runtime build is a connector here, third-party
ones included."""

from __future__ import annotations

from iac.plugins import plugins
from iac.runtime import ConnectorEntry

__all__ = ["ConnectorEntry", "registered"]


def registered() -> dict[str, ConnectorEntry]:
    """Every integration with a runtime build, by name (imports each connector's package)."""
    return {name: ConnectorEntry(plugin.spec_class(), build) for name, plugin in plugins().items()
            if (build := plugin.build()) is not None}

