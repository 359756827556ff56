"""The integration registry: one :class:`IntegrationPlugin` per integration carries everything the project
needs of it — the spec class, the connector's runtime build, the simulator (its ``iac sim`` options, sandbox
credentials, TLS hostname), the fault-matrix and provisioning cases, and the upstream image and binary.

Everything that lists integrations reads :func:`plugins`: the catalog and ``iac explain``, ``iac connector``,
``iac sim``, the demo, the Terraform provider's resources, the fault matrix, the tests and the benchmarks.

The bundled integrations register in this package (one module each, listed in :data:`BUNDLED`). A third-party
package registers the same way through the entry point group :data:`ENTRY_POINT_GROUP`::

    # pyproject.toml of the package "baton-iac-acme"
    [project.entry-points."baton_iac.integrations"]
    acme = "acme_baton.plugin:PLUGIN"

References are lazy (``"package.module:attribute"`` strings, or the object itself), so reading the registry
imports no spec, runtime or simulator code: ``iac catalog`` loads the spec classes only, ``iac sim`` the
simulators only. This module imports nothing of the project but its errors, so the layers stay clean
(spec → render → backends; runtime → connectors; sim beside; cli on top).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from iac.errors import PluginError

if TYPE_CHECKING:
    from iac.sim import RecordedWrite
    from iac.spec import Connector as IntegrationSpec

__all__ = [
    "BUNDLED",
    "ENTRY_POINT_GROUP",
    "FaultCases",
    "IntegrationPlugin",
    "PluginError",
    "ProvisioningCase",
    "SimOption",
    "Simulator",
    "get_plugin",
    "integration_classes",
    "plugins",
    "refresh",
    "resolve",
]

ENTRY_POINT_GROUP = "baton_iac.integrations"
"""Entry point group third-party integrations register in; each entry point names an :class:`IntegrationPlugin`."""

BUNDLED = ("okta", "coupa", "concur", "celigo", "custom")
"""Modules of this package that register a bundled integration, in catalog order."""

Ref = str | Callable[..., Any] | type
"""``"package.module:attribute"`` (imported on first use) or the object itself."""


def resolve(ref: Ref) -> Any:
    """The object a :data:`Ref` names (strings are imported on demand)."""
    if not isinstance(ref, str):
        return ref
    module, sep, attribute = ref.partition(":")
    if not sep or not module or not attribute:
        raise PluginError(f"reference {ref!r} must look like 'package.module:attribute'")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


@dataclass(frozen=True)
class SimOption:
    """One vendor-specific option of ``iac sim <name>``; passed to the simulator factory under ``name``."""

    name: str
    type: Any
    """``int``, ``float``, ``bool``, ``str`` or one of them ``| None``."""
    default: Any
    help: str
    min: float | None = None
    max: float | None = None
    data: bool = False
    """Shown under "Generated org" in ``--help`` (the seeded data set's size and shape)."""
    secret: bool = False
    """A credential: never a command-line value (other users see process arguments). ``iac sim`` reads it from
    ``--<name>-file`` or the environment variable ``IAC_SIM_<NAME>`` and registers it for redaction."""

    @property
    def environment_variable(self) -> str:
        return f"IAC_SIM_{self.name.upper()}"


@dataclass(frozen=True)
class ProvisioningCase:
    """A grant the fault matrix makes under injected failures: an entitlement the principal does not hold yet,
    how many times the simulator's ground truth shows the grant (it must end at exactly one), and which of the
    simulator's effective writes (``sim.writes.effective()``) carry it out (exactly one must)."""

    entitlement: str
    principal: str
    applied: Callable[[], int]
    writes: Callable[[RecordedWrite], bool]
    settle: Callable[[], None] = field(default=lambda: None)
    """Let accepted asynchronous requests take effect (Concur's User Provisioning), before counting."""


@dataclass(frozen=True)
class FaultCases:
    """What the fault matrix needs beyond the generic cases."""

    expiring_tokens: bool = False
    """Access tokens are minted by an OAuth grant and expire (``sim.expire_tokens()`` mid-sync must be recovered)."""
    provisioning: Callable[[Any], ProvisioningCase] | None = None
    """``provisioning(sim)``: the grant to make under lost answers and 5xx (None: the connector cannot provision)."""


def _no_options(connector: Any, users: int) -> dict[str, Any]:
    return {"users": users}


@dataclass(frozen=True)
class Simulator:
    """A stateful simulator of the vendor's API (``iac sim <name>``, the demo's sandbox, the fault matrix).

    ``factory(seed=, faults=, rate_scale=, **options)`` returns an object with ``app`` (ASGI), ``stats``,
    ``set_faults``, ``fault_plan`` and ``expire_tokens`` (:class:`iac.sim.SimulatorBase` has them all)."""

    factory: Ref
    help: str
    """``iac sim <name> --help``: the first line is the summary."""
    summary: Callable[[Any], str]
    """What was generated, e.g. ``"300 users, 20 groups"`` (``iac sim`` adds the time and the seed)."""
    credentials: Callable[[Any], dict[str, str]]
    """The credentials that open the simulator, by the spec's setting name (``{"api_token": ...}``)."""
    print_credentials: Callable[[Any], str] = field(default=lambda sim: json.dumps({}))
    """The line ``--print-credentials`` prints after the base URL."""
    options: tuple[SimOption, ...] = ()
    sandbox: Callable[[Any, int], dict[str, Any]] = _no_options
    """``sandbox(connector, users)``: factory options for a demo org of ``users`` users serving ``connector``."""
    port: int = 8090
    tls_hostname: str | None = None
    """The vendor API's host name a certificate is made for when the simulator serves TLS (what an upstream
    binary connects to)."""
    print_flag: str = "--print-credentials"
    print_help: str = "Print the credentials as one JSON line on stdout after the base URL."
    seed_help: str = "Seed for data, ids, credentials and faults."
    rate_scale_help: str = "Multiply the vendor's rate limits (e.g. 0.01 to hit 429s quickly)."
    faults: FaultCases = FaultCases()

    def create(self, **options: Any) -> Any:
        return resolve(self.factory)(**options)

    def sandbox_sim(self, connector: Any, *, seed: int, users: int) -> Any:
        """A simulator seeded for the demo and the tests, serving ``connector``."""
        return self.create(seed=seed, **self.sandbox(connector, users))


@dataclass(frozen=True)
class IntegrationPlugin:
    """Everything the project knows of one integration."""

    name: str
    """The integration's name (``Spec.integration.name``): ``iac sim <name>``, ``iac connector <name>``."""
    spec: Ref
    """The integration's spec class (a subclass of :class:`iac.spec.Connector`)."""
    connector: Ref | None = None
    """``build(settings: RuntimeSettings, wiring: Wiring) -> iac.runtime.RuntimeConnector``; None: no runtime."""
    simulator: Simulator | None = None
    upstream_image: str | None = None
    """ConductorOne's image of the upstream connector, where one is published."""
    upstream_binary: str | None = None
    """The upstream connector's executable name (``baton-okta``), where its source is public."""
    review: Ref | None = None
    """The :class:`iac.runtime.ReviewFacts` ``iac review`` applies (what is privileged, what makes an account
    inactive), declared beside the connector's resource types; None: the generic rules."""

    def spec_class(self) -> type[IntegrationSpec]:
        cls: type[IntegrationSpec] = resolve(self.spec)
        if cls.integration.name != self.name:
            raise PluginError(f"plugin {self.name!r} names a spec whose integration is {cls.integration.name!r}")
        return cls

    def build(self) -> Callable[..., Any] | None:
        return None if self.connector is None else resolve(self.connector)


def _bundled() -> list[IntegrationPlugin]:
    return [resolve(f"iac.plugins.{module}:PLUGIN") for module in BUNDLED]


def _third_party() -> list[IntegrationPlugin]:
    found = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            plugin = entry.load()
        except Exception as exc:  # a broken third-party package must name itself, not crash with a traceback
            raise PluginError(f"integration plugin {entry.name!r} ({entry.value}) cannot be loaded: "
                              f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(plugin, IntegrationPlugin):
            raise PluginError(f"entry point {entry.name!r} ({entry.value}) in {ENTRY_POINT_GROUP} is not an "
                              "iac.plugins.IntegrationPlugin")
        found.append(plugin)
    return found


@cache
def _registry() -> Mapping[str, IntegrationPlugin]:
    registry: dict[str, IntegrationPlugin] = {}
    for plugin in _bundled() + _third_party():
        if plugin.name in registry:
            raise PluginError(f"integration {plugin.name!r} is registered twice")
        registry[plugin.name] = plugin
    return registry


def plugins() -> dict[str, IntegrationPlugin]:
    """Every registered integration by name: the bundled ones in catalog order, then third-party ones by name."""
    return dict(_registry())


def refresh() -> None:
    """Forget the registry (after installing a plugin in this process, e.g. in tests)."""
    _registry.cache_clear()


def get_plugin(name: str) -> IntegrationPlugin:
    registry = _registry()
    try:
        return registry[name]
    except KeyError:
        raise PluginError(f"unknown integration {name!r}; known: {', '.join(registry)}") from None


def integration_classes() -> dict[str, type[IntegrationSpec]]:
    """The spec class of every registered integration, by name (imports the specs only)."""
    return {name: plugin.spec_class() for name, plugin in _registry().items()}
