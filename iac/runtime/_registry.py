"""The registry of bundled connectors. Each connector package registers one :class:`ConnectorEntry`;
the CLI builds ``iac connector <name> sync|service|grant|revoke`` for every entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx

from iac.runtime._clock import Clock
from iac.runtime._http import HttpObserver
from iac.runtime._protocols import Connector
from iac.runtime._settings import RuntimeSettings
from iac.spec import Connector as IntegrationSpec

__all__ = ["ConnectorEntry", "Wiring", "connector_entry", "register", "registered"]


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the caller injects into a connector's HTTP client (tests, simulators, the bench, metrics)."""

    transport: httpx.BaseTransport | None = None
    clock: Clock | None = None
    observer: HttpObserver | None = None


@dataclass(frozen=True, slots=True)
class ConnectorEntry:
    integration: type[IntegrationSpec]
    """The integration's spec class: its settings are the connector's configuration."""
    build: Callable[[RuntimeSettings, Wiring], Connector]
    """``build(settings, wiring)``; ``settings.config`` is an instance of :attr:`integration`."""

    @property
    def name(self) -> str:
        return self.integration.integration.name

    @property
    def summary(self) -> str:
        return self.integration.integration.summary


_REGISTRY: dict[str, ConnectorEntry] = {}


def register(entry: ConnectorEntry) -> ConnectorEntry:
    existing = _REGISTRY.get(entry.name)
    if existing is not None and existing is not entry:
        raise ValueError(f"connector {entry.name!r} is registered twice")
    _REGISTRY[entry.name] = entry
    return entry


def registered() -> dict[str, ConnectorEntry]:
    return dict(_REGISTRY)


def connector_entry(name: str) -> ConnectorEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no bundled connector named {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
