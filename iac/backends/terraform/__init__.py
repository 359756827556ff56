"""The Terraform provider ``iac/baton`` (local name ``baton``), written with the ``tf`` framework (plugin
protocol 6), plus what makes it usable: installation for Terraform and cdktf/cdktn bindings.

    iac terraform install --cli-config ~/.config/iac/terraform.rc      # dev_overrides
    iac terraform install --mirror ./tf-mirror --cli-config ./ci.tfrc  # filesystem mirror + lock file

One resource type per integration (``baton_okta_connector``, ...), derived from the integration specs; a
``baton_catalog`` data source. Deployment goes through :mod:`iac.backends.engine`; secrets are write-only.
Importing this package is cheap: ``tf`` and gRPC load with the provider modules only.
"""

from __future__ import annotations

from iac.backends.terraform._install import (
    MIRROR_PLATFORMS,
    PLUGIN_EXECUTABLE,
    InstallError,
    InstallResult,
    cli_config_text,
    default_registry_host,
    install,
    launcher,
    write_mirror,
    write_plugin_dir,
)
from iac.backends.terraform._schema import (
    COMPUTED_ATTRIBUTES,
    PROVIDER_NAME,
    PROVIDER_SOURCE,
    ConnectorSchema,
    InputAttribute,
    InvalidAttributeError,
    all_schemas,
    connector_schema,
    resource_type_name,
)

__all__ = [
    "COMPUTED_ATTRIBUTES",
    "MIRROR_PLATFORMS",
    "PLUGIN_EXECUTABLE",
    "PROVIDER_NAME",
    "PROVIDER_SOURCE",
    "ConnectorSchema",
    "InputAttribute",
    "InstallError",
    "InstallResult",
    "InvalidAttributeError",
    "all_schemas",
    "cli_config_text",
    "connector_schema",
    "default_registry_host",
    "install",
    "launcher",
    "resource_type_name",
    "write_mirror",
    "write_plugin_dir",
]
