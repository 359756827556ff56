"""What the runtime needs of a connector: its spec class and its build (:class:`ConnectorEntry`), and what a
caller injects into it (:class:`Wiring`). Which connectors exist is :mod:`iac.plugins`' business; the CLI builds
``iac connector <name> sync|service|grant|revoke`` for every entry :func:`iac.connectors.registered` returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from iac.runtime._http import Wiring
from iac.runtime._protocols import RuntimeConnector
from iac.runtime._settings import RuntimeSettings
from iac.spec import Connector as IntegrationSpec

__all__ = ["ConnectorEntry", "Wiring"]


@dataclass(frozen=True, slots=True)
class ConnectorEntry:
    integration: type[IntegrationSpec]
    """The integration's spec class: its settings are the connector's configuration."""
    build: Callable[[RuntimeSettings, Wiring], RuntimeConnector]
    """``build(settings, wiring)``; ``settings.config`` is an instance of :attr:`integration`."""

    @property
    def name(self) -> str:
        return self.integration.integration.name

    @property
    def summary(self) -> str:
        return self.integration.integration.summary

