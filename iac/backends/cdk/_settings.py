"""Synth settings: which CDK, which cluster, which Terraform backend, how secrets reach the cluster."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from iac.errors import IacError

__all__ = ["CONTEXT_PREFIX", "MIN_PROVIDER_WRITE_ONLY", "PROVIDERS", "SERVICE_ACCOUNT_RESOURCES", "Provider",
           "ServiceAccountResource", "SynthSettings", "check_provider_version", "settings_from_context"]

CONTEXT_PREFIX = "iac:"
Provider = Literal["kubernetes", "baton"]
PROVIDERS: tuple[Provider, ...] = get_args(Provider)
"""What the connectors become: resources of hashicorp/kubernetes (:mod:`iac.backends.cdk`) or one resource per
connector of this project's provider iac/baton (:mod:`iac.backends.terraform.cdk`)."""
ServiceAccountResource = Literal["typed", "manifest"]
SERVICE_ACCOUNT_RESOURCES: tuple[ServiceAccountResource, ...] = get_args(ServiceAccountResource)
"""How ServiceAccounts are written: ``kubernetes_service_account_v1`` (typed), which on Kubernetes < 1.24 waits
until kube-controller-manager has created the account's legacy token Secret, or ``kubernetes_manifest``
(server-side apply of the rendered object), which waits for nothing."""
MIN_PROVIDER_WRITE_ONLY = (2, 36, 0)
"""The first hashicorp/kubernetes release with ``kubernetes_secret_v1.data_wo`` (write-only Secret data)."""
_CONSTRAINT = re.compile(r"\s*(?:(=|!=|>=|<=|>|<|~>)\s*)?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?\s*")


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
    provider_version: str | None = None
    """A Terraform version constraint for hashicorp/kubernetes (``~> 2.21``); default: the bindings' own version
    (cdktn 3.4.0, cdktf 2.38.0)."""
    wait_for_rollout: bool = True
    """The provider's ``wait_for_rollout`` on each Deployment: apply waits until the rollout is complete. Off
    for clusters where nothing reports Deployment status (no kube-controller-manager or no node)."""
    service_accounts: ServiceAccountResource = "typed"
    """See :data:`SERVICE_ACCOUNT_RESOURCES`."""


def check_provider_version(constraint: str, *, write_only: bool) -> str:
    """``constraint`` when it is a Terraform version constraint (``2.21.1``, ``>= 2.21, < 3``, ``~> 2.36``) that
    can hold with ``write_only``; else :class:`IacError` naming the problem. Only an exact version (or an upper
    bound) below 2.36.0 is known to lack ``data_wo``; ranges are left to ``terraform init``."""
    parts = constraint.split(",")
    matches = [_CONSTRAINT.fullmatch(part) for part in parts]
    if not constraint.strip() or not all(matches):
        raise IacError(f"provider version {constraint!r} is not a Terraform version constraint "
                       "(examples: 2.21.1, '~> 2.36', '>= 2.36, < 4')")
    if write_only:
        for match in matches:
            assert match is not None
            operator, version = match.group(1) or "=", tuple(int(g or 0) for g in match.group(2, 3, 4))
            if operator in ("=", "<", "<=") and (version < MIN_PROVIDER_WRITE_ONLY
                                                  or (operator == "<" and version == MIN_PROVIDER_WRITE_ONLY)):
                raise IacError(f"provider version {constraint!r}: write-only Secret data (data_wo) needs "
                               "hashicorp/kubernetes >= 2.36.0; use a newer provider or --no-write-only "
                               "(values then kept in state, marked sensitive)")
    return constraint.strip()


def settings_from_context(context: Mapping[str, Any]) -> tuple[str, str | None, SynthSettings]:
    """(stack file, environment, settings) from cdktf.json ``context`` keys ``iac:stack``, ``iac:environment``,
    ``iac:cdk``, ``iac:kubeconfig``, ``iac:kubeContext``, ``iac:backend`` (``{"type": ..., "config": {...}}``),
    ``iac:writeOnly``, ``iac:provider`` (``kubernetes``, the default, or ``baton``), ``iac:providerVersion``,
    ``iac:waitForRollout`` and ``iac:serviceAccounts`` (``typed`` or ``manifest``). ``$IAC_STACK`` and
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
    service_accounts = get("serviceAccounts") or "typed"
    if service_accounts not in SERVICE_ACCOUNT_RESOURCES:
        raise IacError(f"\"iac:serviceAccounts\" must be one of {', '.join(SERVICE_ACCOUNT_RESOURCES)}, "
                       f"got {service_accounts!r}")
    provider_version = get("providerVersion")
    if provider_version is not None:
        if not isinstance(provider_version, str):
            raise IacError("\"iac:providerVersion\" must be a string such as \"~> 2.36\"")
        provider_version = check_provider_version(provider_version, write_only=write_only)
    wait_for_rollout = get("waitForRollout") is not False
    if provider == "baton" and (provider_version is not None or not wait_for_rollout or service_accounts != "typed"):
        raise IacError("\"iac:providerVersion\", \"iac:waitForRollout\" and \"iac:serviceAccounts\" configure "
                       "hashicorp/kubernetes and do not apply to \"iac:provider\": \"baton\"")
    settings = SynthSettings(
        cdk=get("cdk"), kubeconfig=get("kubeconfig"), context=get("kubeContext"),
        backend=backend.get("type"), backend_config=dict(backend.get("config") or {}),
        write_only=write_only, provider=provider, provider_version=provider_version,
        wait_for_rollout=wait_for_rollout, service_accounts=service_accounts,
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
