"""Synth settings: which CDK, which cluster, which Terraform backend, how secrets reach the cluster."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from iac.errors import IacError

__all__ = ["CONTEXT_PREFIX", "PROVIDERS", "Provider", "SynthSettings", "settings_from_context"]

CONTEXT_PREFIX = "iac:"
Provider = Literal["kubernetes", "baton"]
PROVIDERS: tuple[Provider, ...] = get_args(Provider)
"""What the connectors become: resources of hashicorp/kubernetes (:mod:`iac.backends.cdk`) or one resource per
connector of this project's provider iac/baton (:mod:`iac.backends.terraform.cdk`)."""


@dataclass(frozen=True)
class SynthSettings:
    """How `iac synth` (and the cdktf.json app) builds the Terraform configuration.

    ``kubeconfig``/``context`` configure the kubernetes provider (default: the provider's own lookup,
    ``KUBE_CONFIG_PATH`` and friends). ``backend`` is a Terraform backend type (``s3``, ``gcs``, ``local``, ...)
    with ``backend_config`` as its arguments; the rest can be passed to ``terraform init -backend-config``.
    ``write_only=False`` writes Secret values through ``data`` (kept in state, marked sensitive) for
    Terraform < 1.11, which has no write-only arguments."""

    cdk: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    backend: str | None = None
    backend_config: Mapping[str, Any] = field(default_factory=dict)
    write_only: bool = True
    stack_id: str | None = None
    """The Terraform stack's name (its directory under ``stacks/``); default: the stack's name."""
    provider: Provider = "kubernetes"
    """Which synth builds the configuration (see :data:`PROVIDERS`); the cdktf.json app dispatches on it."""


def settings_from_context(context: Mapping[str, Any]) -> tuple[str, str | None, SynthSettings]:
    """(stack file, environment, settings) from cdktf.json ``context`` keys ``iac:stack``, ``iac:environment``,
    ``iac:cdk``, ``iac:kubeconfig``, ``iac:kubeContext``, ``iac:backend`` (``{"type": ..., "config": {...}}``),
    ``iac:writeOnly`` and ``iac:provider`` (``kubernetes``, the default, or ``baton``). ``$IAC_STACK`` and
    ``$IAC_ENVIRONMENT`` override the first two."""
    def get(key: str) -> Any:
        return context.get(CONTEXT_PREFIX + key)

    stack_file = os.environ.get("IAC_STACK") or get("stack")
    if not isinstance(stack_file, str) or not stack_file:
        raise IacError("no stack file: set \"iac:stack\" in cdktf.json's context or $IAC_STACK")
    environment = os.environ.get("IAC_ENVIRONMENT") or get("environment")
    backend = get("backend") or {}
    if not isinstance(backend, dict):
        raise IacError("\"iac:backend\" must be an object such as {\"type\": \"s3\", \"config\": {...}}")
    provider = get("provider") or "kubernetes"
    if provider not in PROVIDERS:
        raise IacError(f"\"iac:provider\" must be one of {', '.join(PROVIDERS)}, got {provider!r}")
    write_only = get("writeOnly") is not False
    if provider == "baton" and not write_only:
        raise IacError("\"iac:writeOnly\": false does not apply to \"iac:provider\": \"baton\" (its credentials are "
                       "always write-only; Terraform >= 1.11)")
    settings = SynthSettings(
        cdk=get("cdk"), kubeconfig=get("kubeconfig"), context=get("kubeContext"),
        backend=backend.get("type"), backend_config=dict(backend.get("config") or {}),
        write_only=write_only, provider=provider,
    )
    return stack_file, environment or None, settings


def read_context(project_dir: Path) -> dict[str, Any]:
    """The context the cdktf CLI passes (``$CDKTF_CONTEXT_JSON``), else cdktf.json's ``context``."""
    raw = os.environ.get("CDKTF_CONTEXT_JSON")
    if raw:
        loaded: dict[str, Any] = json.loads(raw)
        return loaded
    config = project_dir / "cdktf.json"
    if config.is_file():
        context: dict[str, Any] = json.loads(config.read_text()).get("context", {})
        return context
    return {}
