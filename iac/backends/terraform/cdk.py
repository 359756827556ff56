"""cdktf / CDK Terrain bindings for the ``baton`` provider, generated from the integration specs, and the synth
of a whole stack for it (``iac synth --provider baton``).

    from iac.backends.terraform.cdk import bindings
    baton = bindings("cdktn")                     # or "cdktf"; None: whichever is installed
    baton.Provider(stack, "baton", kubeconfig="~/.kube/config", namespace="identity")
    okta = baton.resource("okta")(stack, "okta", name="okta", domain="acme.okta.com", api_token=token.string_value)

A resource class takes exactly its resource type's arguments (the same list the provider serves, from
:mod:`._schema`): nothing is copied by hand, so a new setting appears in the bindings, the provider and the
docs at once. Unknown or missing required arguments are a ``TypeError`` at construction, like the generated
bindings of published providers. Write-only arguments are declared as such to CDK Terrain (which then checks
the declared Terraform version); values are usually sensitive ``TerraformVariable`` references.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from iac.backends.terraform._schema import (
    PROVIDER_NAME,
    PROVIDER_SOURCE,
    ConnectorSchema,
    all_schemas,
    connector_schema,
)
from iac.errors import RenderError
from iac.plugins import get_plugin
from iac.render import check_deployable
from iac.spec import DEFAULT_KUBERNETES_VERSION, Connector, ManagedConductorOne, Stack, conductorone_apps
from iac.spec.secret import ConductorOneCredential, ResolvableSecret, SecretRef

if TYPE_CHECKING:
    from iac.backends.cdk import SynthResult, SynthSettings

__all__ = ["BatonBindings", "ResourceClass", "bindings", "synth"]

_PROVIDER_ARGUMENTS = ("kubeconfig", "context", "namespace", "create_namespace", "image", "images",
                       "kubernetes_version", "alias")
MIN_TERRAFORM = "1.11.0"
"""Write-only arguments need Terraform >= 1.11."""


@dataclass(frozen=True)
class ResourceClass:
    """The construct class of one resource type: call it like a generated binding, ``(scope, id, **arguments)``."""

    lib: Any
    schema: ConnectorSchema

    @property
    def terraform_resource_type(self) -> str:
        return self.schema.type_name

    def __call__(self, scope: Any, id: str, *, provider: Any = None, depends_on: list[Any] | None = None,
                 **arguments: Any) -> Any:
        known = {a.name: a for a in self.schema.inputs}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise TypeError(f"{self.schema.type_name} has no argument {unknown[0]!r}; arguments: "
                            f"{', '.join(known)}")
        missing = [a.name for a in self.schema.inputs if a.required and arguments.get(a.name) is None]
        if missing:
            raise TypeError(f"{self.schema.type_name} needs {', '.join(missing)}")
        resource = self.lib.TerraformResource(
            scope, id, terraform_resource_type=self.schema.type_name,
            terraform_generator_metadata=self.lib.TerraformProviderGeneratorMetadata(provider_name=PROVIDER_NAME),
            provider=provider, depends_on=depends_on)
        mark = getattr(resource, "_mark_write_only_attribute", None)  # CDK Terrain checks these against versions
        for name, value in arguments.items():
            if value is None:
                continue
            if known[name].secret and callable(mark):
                mark(name)
            resource.add_override(name, value)
        return resource


@dataclass(frozen=True)
class BatonBindings:
    """Bindings for one CDK flavor: the provider block and one resource class per integration."""

    flavor: str
    lib: Any

    def Provider(self, scope: Any, id: str = PROVIDER_NAME, **arguments: Any) -> Any:
        """The ``provider "baton"`` block (and its ``required_providers`` entry) in ``scope``'s stack."""
        unknown = sorted(set(arguments) - set(_PROVIDER_ARGUMENTS))
        if unknown:
            raise TypeError(f"provider {PROVIDER_NAME} has no argument {unknown[0]!r}; arguments: "
                            f"{', '.join(_PROVIDER_ARGUMENTS)}")
        provider = _provider_class(self.lib)(scope, id)
        for name, value in arguments.items():
            if value is not None:
                provider.add_override(name, value)
        return provider

    def resource(self, integration: str) -> ResourceClass:
        return ResourceClass(self.lib, connector_schema(get_plugin(integration).spec_class()))

    def resources(self) -> dict[str, ResourceClass]:
        """Every resource class, keyed by Terraform type (``baton_okta_connector``)."""
        return {name: ResourceClass(self.lib, schema) for name, schema in all_schemas().items()}


_PROVIDER_CLASSES: dict[int, type[Any]] = {}


def _provider_class(lib: Any) -> type[Any]:
    """A ``TerraformProvider`` subclass for ``baton`` (one per CDK library; arguments go in as overrides)."""
    known = _PROVIDER_CLASSES.get(id(lib))
    if known is None:
        class BatonProvider(lib.TerraformProvider):  # type: ignore[misc]
            def __init__(self, scope: Any, id: str) -> None:
                super().__init__(scope, id, terraform_resource_type=PROVIDER_NAME,
                                 terraform_provider_source=PROVIDER_SOURCE,
                                 terraform_generator_metadata=lib.TerraformProviderGeneratorMetadata(
                                     provider_name=PROVIDER_NAME))

        known = _PROVIDER_CLASSES[id(lib)] = BatonProvider
    return known


def bindings(flavor: str | None = None) -> BatonBindings:
    """The bindings for ``flavor`` (``cdktn`` or ``cdktf``; default: the installed one, CDK Terrain first)."""
    from iac.backends.cdk import load, resolve_flavor

    cdk = load(resolve_flavor(flavor))
    return BatonBindings(cdk.flavor, cdk.lib)


# -- synth of a whole stack ----------------------------------------------------------------------------------


def connector_arguments(stack: Stack, connector: Connector, variable: Any) -> dict[str, Any]:
    """The resource arguments of ``connector``: the settings its stack file sets (the rest keep the provider's
    defaults), its namespace, and a ``variable(binding)`` reference for each secret (with
    ``ConductorOne.managed``, the ConductorOne credentials are such bindings too)."""
    from iac.backends._bindings import secret_bindings

    schema = connector_schema(type(connector))
    secrets = {b.field: b for b in secret_bindings(stack, connector)}
    arguments: dict[str, Any] = {"name": connector.name, "namespace": stack.namespace}
    c1 = connector.conductorone or stack.conductorone
    for attribute in schema.inputs:
        if attribute.field in (None, "name"):
            continue
        if attribute.sub is not None:
            binding_key = f"{attribute.field}.{attribute.sub}"
            parent = c1 if attribute.field == "conductorone" else getattr(connector, attribute.field)
            if parent is None:
                continue
            if isinstance(parent, ManagedConductorOne):  # the ConductorOneCredential of the binding
                value = secrets[binding_key].ref
            else:
                value = getattr(parent, attribute.sub)
        else:
            if attribute.field not in connector.model_fields_set:
                continue
            value = getattr(connector, attribute.field)
            binding_key = attribute.field
        if value is None:
            continue
        if isinstance(value, Mapping) and attribute.secret:
            arguments[attribute.name] = {key: _secret_value(connector, f"{attribute.field}[{key!r}]", ref,
                                                            variable, secrets.get(key), write_only=True)
                                         for key, ref in value.items()}
        elif isinstance(value, SecretRef):  # a secret setting (write-only), or a plain one given as a secret.env
            arguments[attribute.name] = _secret_value(connector, binding_key, value, variable, secrets.get(binding_key),
                                                      write_only=attribute.secret)
        elif isinstance(value, tuple | list):
            arguments[attribute.name] = list(value)
        elif isinstance(value, Mapping):
            arguments[attribute.name] = dict(value)
        else:
            arguments[attribute.name] = value
    return arguments


def _secret_value(connector: Connector, where: str, ref: SecretRef, variable: Any, binding: Any, *,
                  write_only: bool) -> Any:
    if not isinstance(ref, ResolvableSecret | ConductorOneCredential) or binding is None:
        raise RenderError(f"connector '{connector.name}', field '{where}': {ref.describe()} cannot be expressed with "
                          f"the {PROVIDER_NAME} provider (its credentials are values it writes into the Secret); use "
                          "secret.env(...) or secret.file(...), or synthesize for the kubernetes provider")
    return variable(binding, write_only)


def synth(stack: Stack, outdir: str | Path, settings: SynthSettings | None = None) -> SynthResult:
    """Synthesize ``stack`` for the baton provider: one ``baton_<integration>_connector`` per self-hosted
    connector, secret values as sensitive variables (``TF_VAR_<name>``) written into write-only arguments.

    With ``ConductorOne.managed(...)`` the ConductorOne side comes too (see :mod:`iac.backends.cdk._conductorone`):
    cloud-hosted connectors are ConductorOne resources only, and a self-hosted connector's
    ``conductorone_client_id``/``conductorone_client_secret`` reference its ``conductorone_connector_credential``.

    ``settings`` is an :class:`iac.backends.cdk.SynthSettings` (flavor, kubeconfig, context, backend, stack id);
    returns an :class:`iac.backends.cdk.SynthResult`."""
    from iac.backends.cdk import SynthResult, SynthSettings, TfVariable, declare_conductorone, variable_name

    settings = settings or SynthSettings()
    apps = conductorone_apps(stack)
    if stack.labels:
        raise RenderError(f"stack '{stack.name}': labels= is not supported by the {PROVIDER_NAME} provider yet; "
                          "synthesize for the kubernetes provider instead")
    target = Path(outdir)
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and
                                                    not (target / "manifest.json").exists())):
        raise RenderError(f"output directory {target} is not empty and holds no earlier synth (manifest.json); "
                          "choose a new or empty directory")
    for connector in stack.self_hosted:  # refuse what the provider cannot express before writing anything
        connector_arguments(stack, connector, lambda binding, write_only: None)
        check_deployable(stack, connector)
    baton = bindings(settings.cdk)
    lib = baton.lib
    app = lib.App(outdir=str(target), context={"targetVersions": {"terraform": f">={MIN_TERRAFORM}"}})
    stack_id = settings.stack_id or stack.name
    tf_stack = lib.TerraformStack(app, stack_id)
    tf_stack.add_override("terraform.required_version", f">= {MIN_TERRAFORM}")
    _backend(lib, tf_stack, settings)
    if not apps or stack.self_hosted:  # a stack of cloud-hosted connectors only needs no baton provider
        baton.Provider(tf_stack, kubeconfig=settings.kubeconfig, context=settings.context, namespace=stack.namespace,
                       create_namespace=stack.create_namespace or None, image=stack.image,
                       kubernetes_version=None if stack.kubernetes_version == DEFAULT_KUBERNETES_VERSION
                       else stack.kubernetes_version)
    variables: dict[str, TfVariable] = {}
    tf_variables: dict[str, Any] = {}
    ephemeral_variables: set[str] = set()

    def declare(binding: Any, *, ephemeral: bool) -> str:
        name = variable_name(binding.ref, binding)
        known = variables.get(name)
        if known is not None and known.ref != binding.ref.describe():
            raise RenderError(f"two secret references map to the Terraform variable {name}: {known.ref} and "
                              f"{binding.ref.describe()}")
        used = f"{binding.connector}.{binding.field}"
        variables[name] = TfVariable(name=name, ref=binding.ref.describe(),
                                     used_by=(*(known.used_by if known else ()), used))
        if name not in tf_variables:
            tf_variables[name] = lib.TerraformVariable(
                tf_stack, name, type="string", sensitive=True, nullable=False,
                description=f"{binding.ref.describe()}: a secret value, supplied at plan and apply time "
                f"(TF_VAR_{name})")
            if ephemeral:  # Terraform >= 1.10: the value is not saved in plan files either
                tf_variables[name].add_override("ephemeral", True)
                ephemeral_variables.add(name)
        elif not ephemeral and name in ephemeral_variables:  # also used by an argument Terraform keeps in state
            tf_variables[name].add_override("ephemeral", False)
            ephemeral_variables.discard(name)
        return name

    # ConductorOne first: its attributes are not write-only, so their variables cannot be ephemeral (a variable
    # shared with a write-only argument stays non-ephemeral; write-only arguments accept both).
    credentials = declare_conductorone(lib, tf_stack, apps, workspace=stack_id,
                                       variable=lambda binding: f"var.{declare(binding, ephemeral=False)}")

    def variable(binding: Any, write_only: bool) -> Any:
        if isinstance(binding.ref, ConductorOneCredential):
            return f"${{{credentials[binding.ref.connector][binding.ref.attribute]}}}"
        # Only a write-only argument takes an ephemeral variable: a plain one given as secret.env (a ConductorOne
        # client id) is kept in state, which Terraform refuses for ephemeral values.
        return tf_variables[declare(binding, ephemeral=write_only)].string_value

    for connector in stack.self_hosted:
        resource = baton.resource(type(connector).integration.name)
        created = resource(tf_stack, connector.name, **connector_arguments(stack, connector, variable))
        created.override_logical_id(connector.name)
    app.synth()
    stack_dir = target / "stacks" / stack_id
    counts = {kind: len(items) for kind, items in
              json.loads((stack_dir / "cdk.tf.json").read_text()).get("resource", {}).items()}
    return SynthResult(flavor=baton.flavor, outdir=target, stack_dir=stack_dir, variables=tuple(variables.values()),
                       resources=counts)


def _backend(lib: Any, tf_stack: Any, settings: SynthSettings) -> None:
    if settings.backend is None:
        return
    lib.LocalBackend(tf_stack, **(dict(settings.backend_config) if settings.backend == "local" else {}))
    if settings.backend != "local":
        tf_stack.add_override("terraform.backend.local", None)
        tf_stack.add_override(f"terraform.backend.{settings.backend}", dict(settings.backend_config))
