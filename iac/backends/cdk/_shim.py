"""One code path for CDKTF and its API-compatible successor CDK Terrain (cdktn).

HashiCorp deprecated CDKTF (the prebuilt provider bindings stopped at hashicorp/kubernetes 2.38); CDK Terrain
continues it under the import names ``cdktn`` / ``cdktn_provider_kubernetes`` (provider 3.x). Everything this
package uses exists in both with the same names, so the backend imports the library through :func:`load` and
never names either module in an ``import`` statement. Nothing heavy is imported until :func:`load` runs:
choosing a flavor only asks ``importlib`` whether the packages are installed."""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, Literal, get_args

from iac.errors import IacError

__all__ = ["FLAVORS", "Cdk", "CdkCreateError", "CdkUnavailableError", "Flavor", "installed_flavors", "load",
           "resolve_flavor"]

Flavor = Literal["cdktn", "cdktf"]
FLAVORS: tuple[Flavor, ...] = get_args(Flavor)
"""In order of preference: CDK Terrain is maintained, imports its provider submodules lazily (a third of
CDKTF's import time) and ships the newer provider; CDKTF stays supported for existing installations."""

_PACKAGES: dict[Flavor, tuple[str, str, str]] = {
    # flavor: (core library, prebuilt hashicorp/kubernetes bindings, pip extra)
    "cdktn": ("cdktn", "cdktn_provider_kubernetes", "cdktn"),
    "cdktf": ("cdktf", "cdktf_cdktf_provider_kubernetes", "cdktf"),
}


class CdkUnavailableError(IacError):
    """The requested CDK flavor is not installed."""


class CdkCreateError(IacError):
    """The jsii runtime refused a construct's configuration."""


def installed_flavors() -> list[Flavor]:
    """Flavors whose library and provider bindings are installed, in order of preference (no import)."""
    return [f for f in FLAVORS if all(importlib.util.find_spec(name) for name in _PACKAGES[f][:2])]


def resolve_flavor(requested: str | None = None) -> Flavor:
    """``requested`` (or ``$IAC_CDK``) when installed; else the first installed flavor."""
    wanted = requested or os.environ.get("IAC_CDK") or None
    installed = installed_flavors()
    if wanted is not None:
        if wanted not in FLAVORS:
            raise CdkUnavailableError(f"unknown CDK {wanted!r}; use one of {', '.join(FLAVORS)}")
        if wanted not in installed:
            core, bindings, extra = _PACKAGES[wanted]
            raise CdkUnavailableError(f"{wanted} is not installed: pip install 'baton-iac[{extra}]' "
                                      f"(packages {core} and {bindings})")
        return wanted
    if not installed:
        raise CdkUnavailableError("neither CDK Terrain nor CDKTF is installed: pip install 'baton-iac[cdktn]'")
    return installed[0]


@dataclass(frozen=True)
class Cdk:
    """The loaded library of one flavor: ``lib`` is ``cdktn`` or ``cdktf``; :meth:`provider` imports one
    submodule of the matching hashicorp/kubernetes bindings (``deployment_v1``, ``provider``, ...)."""

    flavor: Flavor
    lib: Any
    bindings: str

    def provider(self, module: str) -> ModuleType | None:
        """The bindings' submodule ``module``, or None when the provider has no such resource."""
        try:
            return importlib.import_module(f"{self.bindings}.{module}")
        except ModuleNotFoundError:
            return None

    @staticmethod
    def create(construct_class: type[Any], scope: Any, construct_id: str, config: Mapping[str, Any]) -> Any:
        """A new ``construct_class(scope, construct_id, **config)`` whose props ``config`` are already in jsii's
        wire form (:func:`._translate.to_config`): what the generated constructor does after building and
        type-checking its struct classes, which jsii's runtime then checks again against the same types."""
        import jsii
        from jsii.errors import JSIIError

        construct = object.__new__(construct_class)
        try:
            jsii.create(construct_class, construct, [scope, construct_id, config])
        except (JSIIError, RuntimeError) as exc:
            raise CdkCreateError(str(exc)) from None
        return construct


@cache
def load(flavor: Flavor) -> Cdk:
    """Import the library of ``flavor`` (this is where the cost is paid).

    CDK Terrain records a JavaScript stack trace for every token and complex attribute it creates (dozens per
    resource), only to show it in an error about an unresolvable token; ``CDKTN_DISABLE_CREATION_STACK=1``
    turns that off (0.3 s of a 100-connector synth, bench/synth.py). It must be in the environment when the
    jsii runtime starts (the first import of a jsii library); a setting of the caller's own is kept."""
    core, bindings, _ = _PACKAGES[flavor]
    if flavor == "cdktn":
        os.environ.setdefault("CDKTN_DISABLE_CREATION_STACK", "1")
    return Cdk(flavor=flavor, lib=importlib.import_module(core), bindings=bindings)
