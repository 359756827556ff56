"""Pulumi: ``pulumi up`` deploys a stack file as one ``iac:index:Connector`` component per connector.

    pulumi config set iac:stack stacks/prod.py
    pulumi config set --secret OKTA_API_TOKEN ...     # optional: else read from the environment
    pulumi up

The program (``Pulumi.yaml`` → ``iac/backends/pulumi/program``) calls :func:`run_program`, which loads the stack
file and calls :func:`deploy`. Each child resource is the typed ``pulumi_kubernetes`` resource of an object
`iac render` gives, so both describe the same objects."""

from __future__ import annotations

from iac.backends.pulumi._component import CONNECTOR_TYPE, ConnectorDeployment, declare_object, deploy, resource_class
from iac.backends.pulumi._program import CONFIG_NAMESPACE, run_program, stack_from_config

__all__ = [
    "CONFIG_NAMESPACE",
    "CONNECTOR_TYPE",
    "ConnectorDeployment",
    "declare_object",
    "deploy",
    "resource_class",
    "run_program",
    "stack_from_config",
]
