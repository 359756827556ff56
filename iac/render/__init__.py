"""Rendering: a stack becomes Kubernetes objects through the Jinja templates in ``templates/``.

Pure: the only inputs are the stack and the environment used to resolve ``secret.env``."""

from __future__ import annotations

from iac.render._context import (
    DEFAULT_IMAGE,
    HEALTH_PORT,
    ConnectorContext,
    build_context,
    check_deployable,
    default_image,
)
from iac.render._render import (
    Manifest,
    manifests_to_yaml,
    object_path,
    render_connector,
    render_manifests,
    render_stack,
    to_yaml,
    write_tree,
)
from iac.render._schema import MIN_VERSION, newest_version, schema_versions, validate_objects
from iac.render._templates import templates_dir

__all__ = [
    "DEFAULT_IMAGE",
    "HEALTH_PORT",
    "MIN_VERSION",
    "ConnectorContext",
    "Manifest",
    "build_context",
    "check_deployable",
    "default_image",
    "manifests_to_yaml",
    "newest_version",
    "object_path",
    "render_connector",
    "render_manifests",
    "render_stack",
    "schema_versions",
    "templates_dir",
    "to_yaml",
    "validate_objects",
    "write_tree",
]
