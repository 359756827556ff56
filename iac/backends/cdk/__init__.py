"""cdktf / CDK Terrain: a stack as Terraform JSON for the hashicorp/kubernetes provider.

    result = synth(load_stack("stacks/prod.py"), "cdktf.out", SynthSettings(cdk="cdktn"))
    # cd cdktf.out/stacks/prod && TF_VAR_OKTA_API_TOKEN=... terraform init && terraform apply

Importing this package is cheap: the CDK library and its provider bindings are imported inside :func:`synth`
only (see ``bench/synth.py``). Which flavor: ``cdktn`` (CDK Terrain, the maintained successor) when installed,
else ``cdktf``; both go through the same code (:mod:`._shim`)."""

from __future__ import annotations

from iac.backends.cdk._app import (
    CHECKSUM_ANNOTATION,
    MIN_TERRAFORM_WRITE_ONLY,
    SynthResult,
    TfVariable,
    synth,
    variable_name,
)
from iac.backends.cdk._conductorone import declare_conductorone
from iac.backends.cdk._settings import (
    MIN_PROVIDER_WRITE_ONLY,
    PROVIDERS,
    SERVICE_ACCOUNT_RESOURCES,
    Provider,
    ServiceAccountResource,
    SynthSettings,
    check_provider_version,
    read_context,
    settings_from_context,
)
from iac.backends.cdk._shim import FLAVORS, Cdk, CdkUnavailableError, Flavor, installed_flavors, load, resolve_flavor
from iac.backends.cdk._translate import TranslationError, to_config

__all__ = [
    "CHECKSUM_ANNOTATION",
    "FLAVORS",
    "MIN_PROVIDER_WRITE_ONLY",
    "MIN_TERRAFORM_WRITE_ONLY",
    "PROVIDERS",
    "SERVICE_ACCOUNT_RESOURCES",
    "Cdk",
    "CdkUnavailableError",
    "Flavor",
    "Provider",
    "ServiceAccountResource",
    "SynthResult",
    "SynthSettings",
    "TfVariable",
    "TranslationError",
    "check_provider_version",
    "declare_conductorone",
    "installed_flavors",
    "load",
    "read_context",
    "resolve_flavor",
    "settings_from_context",
    "synth",
    "to_config",
    "variable_name",
]
