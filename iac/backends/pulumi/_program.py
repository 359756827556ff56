"""The Pulumi program: which stack file (``iac:stack``) and environment (``iac:environment``) to deploy."""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from iac.backends.pulumi._component import ConnectorDeployment, deploy
from iac.errors import IacError
from iac.spec import Stack, load_stack

__all__ = ["CONFIG_NAMESPACE", "run_program", "stack_from_config"]

CONFIG_NAMESPACE = "iac"


def stack_from_config(config: pulumi.Config | None = None) -> Stack:
    """Load the stack file named by ``iac:stack`` (relative to the directory of Pulumi.yaml) and select
    ``iac:environment`` when set."""
    config = config if config is not None else pulumi.Config(CONFIG_NAMESPACE)
    path = Path(config.require("stack"))
    if not path.is_absolute():
        path = _project_root() / path
    stack = load_stack(path)
    environment = config.get("environment")
    return stack.environment(environment) if environment else stack


def run_program() -> dict[str, ConnectorDeployment]:
    """Declare the configured stack and export, per connector, its Deployment name. Errors end the update
    with one line (``pulumi.RunError``), never a traceback."""
    try:
        stack = stack_from_config()
        components = deploy(stack)
    except IacError as exc:
        raise pulumi.RunError(str(exc)) from None
    pulumi.export("stack", stack.name)
    pulumi.export("namespace", stack.namespace)
    pulumi.export("connectors", {name: c.deployment_name for name, c in components.items()})
    return components


def _project_root() -> Path:
    try:
        root = pulumi.get_root_directory()
    except Exception:  # older engines and mocks have no root directory
        root = None
    return Path(root) if root else Path(os.getcwd())
