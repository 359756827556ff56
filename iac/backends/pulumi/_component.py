"""Connectors as Pulumi components: every object `iac render` gives becomes the matching typed
``pulumi_kubernetes`` resource, built from the rendered object itself (no field of an integration is listed).

Secret values never leave ``Output.secret``: they come from a Pulumi config secret named like the stack's
``secret.env`` variable (``pulumi config set --secret OKTA_API_TOKEN ...``), else from the stack's references
(environment, file, literal) where ``pulumi up`` runs. secret.kubernetes and secret.external render no
Secret with values (a ``secretKeyRef``, an ``ExternalSecret``)."""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource

from iac.backends._bindings import secret_bindings
from iac.errors import SecretResolutionError
from iac.render import render_connector, render_stack
from iac.spec import Connector, Stack
from iac.spec.secret import EnvSecret

__all__ = ["CONNECTOR_TYPE", "ConnectorDeployment", "deploy", "resource_class"]

CONNECTOR_TYPE = "iac:index:Connector"
_SECRET_FIELDS = ("data", "stringData")  # the fields of a core/v1 Secret that carry values
Object = dict[str, Any]


def resource_class(api_version: str, kind: str) -> type[pulumi.CustomResource] | None:
    """The typed ``pulumi_kubernetes`` class of a built-in kind (``apps/v1`` Deployment →
    ``pulumi_kubernetes.apps.v1.Deployment``); None for custom resources."""
    group, _, version = api_version.rpartition("/")
    if group and "." in group and not group.endswith(".k8s.io"):
        return None  # a CRD group such as external-secrets.io
    module = group.split(".")[0] if group else "core"
    try:
        namespace = importlib.import_module(f"pulumi_kubernetes.{module}.{version}")
    except ImportError:
        return None
    cls = getattr(namespace, kind, None)
    return cls if isinstance(cls, type) and issubclass(cls, pulumi.CustomResource) else None


def declare_object(obj: Object, args: Mapping[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Declare one Kubernetes object; ``args`` holds its top-level fields (plain values or Outputs)."""
    name = obj["metadata"]["name"]
    namespace = obj["metadata"].get("namespace")
    logical = f"{namespace}/{name}" if namespace else name
    cls = resource_class(obj["apiVersion"], obj["kind"])
    if cls is None:
        extra = sorted(set(args) - {"metadata", "spec"})
        if extra:
            raise TypeError(f"{obj['kind']} {name}: custom resources take metadata and spec only, got {extra}")
        return CustomResource(logical, api_version=obj["apiVersion"], kind=obj["kind"], metadata=args["metadata"],
                              spec=args.get("spec"), opts=opts)
    kwargs = {_snake(key): value for key, value in args.items()}
    resource: pulumi.CustomResource = cls(logical, opts=opts, **kwargs)
    return resource


class ConnectorDeployment(pulumi.ComponentResource):
    """One connector of a stack: its Secret (when the stack resolves values), ExternalSecrets, ServiceAccount,
    NetworkPolicy and Deployment as children of a component of type ``iac:index:Connector``."""

    objects: dict[str, pulumi.CustomResource]
    """Children by ``<Kind>/<name>``, in render order."""
    deployment_name: pulumi.Output[str]

    def __init__(self, name: str, stack: Stack, connector: Connector, *, environ: Mapping[str, str] | None = None,
                 config: pulumi.Config | None = None, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CONNECTOR_TYPE, name, None, opts)
        environ = os.environ if environ is None else environ
        config = config if config is not None else pulumi.Config()
        from_config = _config_secrets(stack, connector, environ, config)
        # Rendering now surfaces every unresolvable reference as one IacError before anything is declared;
        # values held in config are only known inside Outputs, so they render as placeholders here.
        shape = render_connector(stack, connector, environ={**environ, **dict.fromkeys(from_config, "pending")})
        rendered: pulumi.Output[list[Object]] | None = None
        if from_config:
            rendered = pulumi.Output.all(**from_config).apply(
                lambda values: render_connector(stack, connector, environ={**environ, **values}))

        # Children wait for what the component waits for (the Namespace), not only for their parent.
        child = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None)
        self.objects = {}
        for index, obj in enumerate(shape):
            is_secret = obj["apiVersion"] == "v1" and obj["kind"] == "Secret"
            args: dict[str, Any] = {}
            for key, value in obj.items():
                if key in ("apiVersion", "kind"):
                    continue
                if rendered is not None and (not is_secret or key in _SECRET_FIELDS):
                    lifted = rendered.apply(_field_of(index, key))
                    # Outside a Secret's data the rendered objects hold no value, only a salted checksum.
                    value = lifted if is_secret else pulumi.Output.unsecret(lifted)
                if is_secret and key in _SECRET_FIELDS:
                    value = pulumi.Output.secret(value)
                args[key] = value
            self.objects[f"{obj['kind']}/{obj['metadata']['name']}"] = declare_object(obj, args, child)

        self.deployment_name = pulumi.Output.from_input(connector.deployment_name)
        self.register_outputs({
            "integration": connector.integration.name,
            "namespace": stack.namespace,
            "deployment": self.deployment_name,
            "objects": list(self.objects),
        })


def deploy(stack: Stack, *, environ: Mapping[str, str] | None = None, config: pulumi.Config | None = None,
           opts: pulumi.ResourceOptions | None = None) -> dict[str, ConnectorDeployment]:
    """Declare every object of ``stack``: stack-level objects (the Namespace with ``create_namespace``) first,
    then one :class:`ConnectorDeployment` per self-hosted connector that depends on them (a cloud-hosted connector
    runs in ConductorOne: nothing to declare here)."""
    # Stack-level objects (the Namespace with create_namespace) are what a stack without connectors renders.
    stack_level = render_stack(stack.model_copy(update={"connectors": []}), environ={}, redact_secrets=True)
    shared = [declare_object(obj, {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")},
                             opts or pulumi.ResourceOptions())
              for obj in stack_level]
    component_opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=shared))
    return {
        connector.name: ConnectorDeployment(connector.name, stack, connector, environ=environ, config=config,
                                            opts=component_opts)
        for connector in stack.self_hosted
    }


def _field_of(index: int, key: str) -> Callable[[list[Object]], Any]:
    def pick(objects: list[Object]) -> Any:
        return objects[index][key]

    return pick


def _config_secrets(stack: Stack, connector: Connector, environ: Mapping[str, str],
                    config: pulumi.Config) -> dict[str, pulumi.Output[str]]:
    """Pulumi config secrets that supply ``secret.env`` values, by variable name. A variable in neither the
    config nor the environment is an error naming both places."""
    found: dict[str, pulumi.Output[str]] = {}
    for binding in secret_bindings(stack, connector):
        if not isinstance(binding.ref, EnvSecret):
            continue
        var = binding.ref.var
        value = config.get_secret(var)
        if value is not None:
            found[var] = value
        elif not environ.get(var):
            raise SecretResolutionError(
                f"environment variable {var} is not set and Pulumi config has no secret {var} "
                f"(pulumi config set --secret {var} VALUE)",
                field=binding.field, connector=connector.name, stack=stack.name)
    return found


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
