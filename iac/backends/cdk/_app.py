"""Build and synthesize the Terraform configuration of a stack with cdktf or CDK Terrain.

Every object of the redacted render becomes one resource of the hashicorp/kubernetes provider (its typed
``*_v1`` resource, or ``kubernetes_manifest`` for custom resources such as ExternalSecret), translated from
the object dict by :mod:`._translate`. Secret values never enter the configuration: each secret.env/file/literal
reference becomes a sensitive Terraform variable, written through ``data_wo`` (write-only, never stored in
state; Terraform >= 1.11) unless ``write_only=False``. secret.kubernetes stays a ``secretKeyRef``: a data
source would copy the value into state.

A stack with ``ConductorOne.managed(...)`` also gets the ConductorOne side (:mod:`._conductorone`): cloud-hosted
connectors are ConductorOne resources only, and a self-hosted connector's Secret takes ``BATON_CLIENT_ID`` and
``BATON_CLIENT_SECRET`` by reference to its ``conductorone_connector_credential``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iac.backends._bindings import SecretBinding, secret_bindings
from iac.backends.cdk._conductorone import Credentials, declare_conductorone
from iac.backends.cdk._settings import SynthSettings
from iac.backends.cdk._shim import Cdk, CdkCreateError, load, resolve_flavor
from iac.backends.cdk._translate import TranslationError, config_class, to_config
from iac.errors import RenderError
from iac.render import render_connector, render_stack
from iac.spec import C1App, Connector, Stack, conductorone_apps
from iac.spec.secret import ConductorOneCredential, EnvSecret, FileSecret, ResolvableSecret, SecretRef

__all__ = ["CHECKSUM_ANNOTATION", "MIN_TERRAFORM_WRITE_ONLY", "SynthResult", "TfVariable", "synth", "variable_name"]

CHECKSUM_ANNOTATION = "checksum/secret"
"""The pod-template annotation `iac render` sets to a salted hash of the credentials (rolls pods on rotation)."""
MIN_TERRAFORM_WRITE_ONLY = "1.11.0"
SECRET_HASHES = "secret_hashes"
"""The local that maps each Secret's name to a salted SHA-256 of its values (revision and pod checksum)."""
Object = dict[str, Any]
HIDDEN_ID = "Default"
"""The construct id the CDK leaves out of logical ids."""
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
"""A logical id the CDK takes unchanged from a construct id."""


@dataclass(frozen=True)
class TfVariable:
    """A sensitive Terraform variable that carries one secret value at plan/apply time."""

    name: str
    ref: str
    used_by: tuple[str, ...]

    @property
    def environment(self) -> str:
        return f"TF_VAR_{self.name}"


@dataclass(frozen=True)
class SynthResult:
    flavor: str
    outdir: Path
    stack_dir: Path
    variables: tuple[TfVariable, ...]
    resources: dict[str, int] = field(default_factory=dict)
    """Resource count per Terraform resource type."""

    @property
    def config_file(self) -> Path:
        return self.stack_dir / "cdk.tf.json"


def variable_name(ref: SecretRef, binding: SecretBinding) -> str:
    """The Terraform variable of a secret reference: the variable's own name for ``secret.env("VAR")``
    (``TF_VAR_VAR=...``), ``file_<path>`` for a file, ``literal_<connector>_<env>`` for a literal."""
    if isinstance(ref, EnvSecret):
        return ref.var
    if isinstance(ref, FileSecret):
        return "file_" + (re.sub(r"[^A-Za-z0-9]+", "_", ref.path).strip("_") or "root")
    return re.sub(r"[^A-Za-z0-9_]", "_", f"literal_{binding.connector}_{binding.env}")


def synth(stack: Stack, outdir: str | Path, settings: SynthSettings | None = None) -> SynthResult:
    """Synthesize ``stack`` into ``outdir`` (``manifest.json`` and ``stacks/<id>/cdk.tf.json``).

    Reads no secret value: the stack is rendered with its secrets redacted."""
    settings = settings or SynthSettings()
    apps = conductorone_apps(stack)  # before anything is written: cloud-hosted connectors need the opt-in
    target = Path(outdir)
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / "manifest.json").exists())):
        raise RenderError(f"output directory {target} is not empty and holds no earlier synth (manifest.json); "
                          "choose a new or empty directory")
    cdk = load(resolve_flavor(settings.cdk))
    lib = cdk.lib
    target.mkdir(parents=True, exist_ok=True)  # the CDK creates only the last level
    context: dict[str, Any] = {}
    if settings.write_only:  # CDK Terrain validates provider features against the declared Terraform versions
        context["targetVersions"] = {"terraform": f">={MIN_TERRAFORM_WRITE_ONLY}",
                                     "opentofu": f">={MIN_TERRAFORM_WRITE_ONLY}"}
    app = lib.App(outdir=str(target), context=context)
    stack_id = settings.stack_id or stack.name
    tf_stack = lib.TerraformStack(app, stack_id)
    builder = _Builder(cdk, tf_stack, stack, settings)
    builder.build(stack_id, apps)
    app.synth()
    stack_dir = target / "stacks" / stack_id
    counts: dict[str, int] = {}
    for resource_type, instances in json.loads((stack_dir / "cdk.tf.json").read_text()).get("resource", {}).items():
        counts[resource_type] = len(instances)
    return SynthResult(flavor=cdk.flavor, outdir=target, stack_dir=stack_dir,
                       variables=tuple(builder.variables.values()), resources=counts)


class _Builder:
    def __init__(self, cdk: Cdk, tf_stack: Any, stack: Stack, settings: SynthSettings) -> None:
        self.cdk = cdk
        self.lib = cdk.lib
        self.scope = tf_stack
        self.stack = stack
        self.settings = settings
        self.variables: dict[str, TfVariable] = {}
        self.secret_hashes: dict[str, _Hcl] = {}
        self.credentials: Credentials = {}
        self.typed_classes: dict[tuple[str, str], type[Any] | None] = {}
        self.type_scopes: dict[type[Any], Any] = {}
        """Resource class → the scope of its resources (see :meth:`_declare`), in order of creation."""

    def build(self, stack_id: str, apps: list[C1App]) -> None:
        # Stack-level objects (the Namespace with create_namespace) are what a stack without connectors renders.
        stack_level = render_stack(self.stack.model_copy(update={"connectors": []}), environ={}, redact_secrets=True)
        if not apps or stack_level or self.stack.self_hosted:  # a cloud-only stack needs no kubernetes provider
            provider = self._module("provider")
            options = {"config_path": self.settings.kubeconfig, "config_context": self.settings.context}
            provider.KubernetesProvider(self.scope, "kubernetes", **{k: v for k, v in options.items() if v})
            if self.settings.provider_version is not None:  # else the version the bindings were generated for
                self.scope.add_override("terraform.required_providers.kubernetes.version",
                                        self.settings.provider_version)
        self._backend()
        if self.settings.write_only:
            self.scope.add_override("terraform.required_version", f">= {MIN_TERRAFORM_WRITE_ONLY}")

        self.credentials = declare_conductorone(self.lib, self.scope, apps, workspace=stack_id,
                                                variable=lambda binding: f"var.{self._variable(binding)}")
        shared = [self._resource(o) for o in stack_level]
        for connector in self.stack.self_hosted:
            objects = render_connector(self.stack, connector, environ={}, redact_secrets=True)
            self._connector(connector, objects, shared)
        if self.secret_hashes:  # one local for all Secrets: a construct per Secret costs a jsii round trip each
            self.lib.TerraformLocal(self.scope, SECRET_HASHES, f"${{ {_Hcl.render(self.secret_hashes)} }}")

    def _connector(self, connector: Connector, objects: list[Object], depends_on: list[Any]) -> None:
        bindings = {b.env: b for b in secret_bindings(self.stack, connector)}
        secret_hash: str | None = None
        salt = _checksums(objects)
        for obj in objects:
            if obj["apiVersion"] == "v1" and obj["kind"] == "Secret":
                secret_hash = self._secret(obj, bindings, salt, depends_on)
        for obj in objects:
            if obj["apiVersion"] == "v1" and obj["kind"] == "Secret":
                continue
            if secret_hash is not None:
                obj = _with_checksum(obj, secret_hash)
            self._resource(obj, depends_on)

    def _secret(self, obj: Object, bindings: Mapping[str, SecretBinding], salt: list[str],
                depends_on: list[Any]) -> str:
        """Declare a Secret whose values come from sensitive variables (and, with ConductorOne.managed, from the
        connector's credential resource); return the expression of their hash."""
        values: dict[str, str] = {}  # key → Terraform expression of its value
        for key in obj.get("data", {}):
            binding = bindings[key]
            if isinstance(binding.ref, ConductorOneCredential):
                values[key] = self.credentials[binding.ref.connector][binding.ref.attribute]
                continue
            if not isinstance(binding.ref, ResolvableSecret):  # pragma: no cover - render only puts these here
                raise RenderError(f"Secret {obj['metadata']['name']} key {key} has no value reference")
            values[key] = f"var.{self._variable(binding)}"
        name = obj["metadata"]["name"]
        digest = f'local.{SECRET_HASHES}["{name}"]'
        # Salted like render's checksum (which also covers secretKeyRefs and ExternalSecrets): equal credentials
        # in two Secrets hash differently. Written as expressions, not Fn calls: each Fn call is a round trip
        # to the jsii runtime, and synth time matters with hundreds of connectors (bench/synth.py).
        material = {"object": _Hcl.string(f"{obj['metadata'].get('namespace')}/{name}"),
                    "rendered": [_Hcl.string(c) for c in salt],
                    "data": {key: _Hcl(expression) for key, expression in values.items()}}
        self.secret_hashes[name] = _Hcl(f"sha256(jsonencode({_Hcl.render(material)}))")
        fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "data")}
        resource_class = self._typed_class(obj)
        if resource_class is None:  # pragma: no cover - both bindings ship kubernetes_secret_v1
            raise RenderError(f"the {self.cdk.flavor} kubernetes bindings have no typed Secret resource")
        references = {key: f"${{{expression}}}" for key, expression in values.items()}
        if self.settings.write_only:
            revision = f"${{nonsensitive(parseint(substr({digest}, 0, 12), 16))}}"
            arguments = {"data_wo": references, "data_wo_revision": self.lib.Token.as_number(revision)}
        else:
            arguments = {"data": references}
        where = f"{obj['kind']} {name}"
        config = to_config(config_class(resource_class), fields, where, depends_on=depends_on or None, **arguments)
        self._declare(resource_class, name, config, where)
        return f"${{nonsensitive({digest})}}"

    def _variable(self, binding: SecretBinding) -> str:
        """Declare (once) the sensitive variable of a secret reference; return its name."""
        name = variable_name(binding.ref, binding)
        known = self.variables.get(name)
        if known is not None and known.ref != binding.ref.describe():
            raise RenderError(f"two secret references map to the Terraform variable {name}: {known.ref} and "
                              f"{binding.ref.describe()}")
        used = f"{binding.connector}.{binding.field}"
        self.variables[name] = TfVariable(name=name, ref=binding.ref.describe(),
                                          used_by=(*(known.used_by if known else ()), used))
        if known is None:
            self.lib.TerraformVariable(
                self.scope, name, type="string", sensitive=True,
                description=f"{binding.ref.describe()}: a secret value, supplied at plan time (TF_VAR_{name})")
        return name

    def _resource(self, obj: Object, depends_on: list[Any] | None = None) -> Any:
        name = obj["metadata"]["name"]
        where = f"{obj['kind']} {name}"
        resource_class = self._typed_class(obj)
        arguments: dict[str, Any] = {}
        kind = (obj["apiVersion"], obj["kind"])
        if kind == ("v1", "ServiceAccount") and self.settings.service_accounts == "manifest":
            resource_class = None  # kubernetes_service_account_v1 would wait for a token Secret (Kubernetes < 1.24)
        elif kind == ("apps/v1", "Deployment") and not self.settings.wait_for_rollout:
            arguments["wait_for_rollout"] = False
        elif kind == ("v1", "PersistentVolumeClaim"):
            # The provider would wait for the claim to bind, which a WaitForFirstConsumer class does only once the
            # connector's pod (declared after it) is scheduled: apply would never finish.
            arguments["wait_until_bound"] = False
        if resource_class is None:
            resource_class = self._module("manifest").Manifest
            config = to_config(config_class(resource_class), {}, where, manifest=obj, depends_on=depends_on or None)
            return self._declare(resource_class, _tf_name(f"{obj['kind'].lower()}_{name}"), config, where)
        fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        config = to_config(config_class(resource_class), fields, where, depends_on=depends_on or None, **arguments)
        return self._declare(resource_class, name, config, where)

    def _declare(self, resource_class: type[Any], logical_id: str, config: Mapping[str, Any], where: str) -> Any:
        """A resource named ``logical_id`` in the Terraform configuration (``kubernetes_deployment_v1.<id>``).

        Each resource type has its own scope with the construct id ``Default``, nested one level deeper per type
        (``<stack>/Default/Default/<id>``): the CDK leaves ``Default`` out of logical ids, so a resource whose
        construct id is ``logical_id`` gets it as its logical id, with no ``override_logical_id`` round trip to
        the jsii runtime; within one type Terraform names are unique, across types they need not be."""
        scope = self.type_scopes.get(resource_class)
        if scope is None:
            parent = next(reversed(self.type_scopes.values()), self.scope)
            scope = self.type_scopes[resource_class] = _construct_class()(parent, HIDDEN_ID)
        plain = _PLAIN_ID.fullmatch(logical_id) is not None and logical_id != HIDDEN_ID
        try:
            resource = self.cdk.create(resource_class, scope, logical_id if plain else f"_{logical_id}", config)
        except CdkCreateError as exc:  # jsii's runtime checks the configuration against the provider's types
            raise TranslationError(f"{where}: {exc}") from None
        if not plain:  # the CDK would drop characters from it (a rendered name is a DNS label: never happens)
            resource.override_logical_id(logical_id)
        return resource

    def _typed_class(self, obj: Object) -> type[Any] | None:
        """The provider's typed resource for a built-in kind (``kubernetes_deployment_v1``), else None."""
        key = (obj["apiVersion"], obj["kind"])
        if key not in self.typed_classes:
            self.typed_classes[key] = self._find_typed_class(*key)
        return self.typed_classes[key]

    def _find_typed_class(self, api_version: str, kind: str) -> type[Any] | None:
        group, _, version = api_version.rpartition("/")
        if group and "." in group and not group.endswith(".k8s.io"):
            return None
        module = self.cdk.provider(f"{re.sub(r'(?<!^)(?=[A-Z])', '_', kind).lower()}_{version}")
        cls = getattr(module, f"{kind}{version.capitalize()}", None) if module is not None else None
        return cls if isinstance(cls, type) else None

    def _module(self, name: str) -> Any:
        module = self.cdk.provider(name)
        if module is None:  # pragma: no cover - both bindings ship these
            raise RenderError(f"the {self.cdk.flavor} kubernetes bindings have no module {name}")
        return module

    def _backend(self) -> None:
        backend = self.settings.backend
        if backend is None:
            return  # the library's default: local state next to the working directory
        if backend == "local":
            self.lib.LocalBackend(self.scope, **dict(self.settings.backend_config))
            return
        # Any other type, with whatever part of its configuration is given here; the rest can come from
        # `terraform init -backend-config=...` (partial configuration keeps credentials out of the files).
        self.lib.LocalBackend(self.scope)
        self.scope.add_override("terraform.backend.local", None)
        self.scope.add_override(f"terraform.backend.{backend}", dict(self.settings.backend_config))


def _checksums(objects: list[Object]) -> list[str]:
    """Every checksum annotation value in ``objects`` (the redacted render's: references, no values)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            annotations = value.get("annotations")
            if isinstance(annotations, dict) and isinstance(annotations.get(CHECKSUM_ANNOTATION), str):
                found.append(annotations[CHECKSUM_ANNOTATION])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(objects)
    return found


def _with_checksum(obj: Object, expression: str) -> Object:
    """A copy of ``obj`` whose checksum annotations hash the variables' values (computed by Terraform)."""
    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            copied = {k: walk(v) for k, v in value.items()}
            annotations = copied.get("annotations")
            if isinstance(annotations, dict) and CHECKSUM_ANNOTATION in annotations:
                copied["annotations"] = {**annotations, CHECKSUM_ANNOTATION: f"sha256:{expression}"}
            return copied
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    result: Object = walk(obj)
    return result


class _Hcl:
    """A Terraform expression; :meth:`render` writes dicts, lists and strings around such expressions."""

    _SAFE = re.compile(r"^[A-Za-z0-9_.:/ -]*$")

    def __init__(self, expression: str) -> None:
        self.expression = expression

    @classmethod
    def string(cls, text: str) -> _Hcl:
        if not cls._SAFE.match(text):  # names, namespaces and sha256 checksums only: nothing to escape
            raise RenderError(f"unexpected characters in {text!r} for a Terraform string")
        return cls(json.dumps(text))

    @classmethod
    def render(cls, value: Any) -> str:
        if isinstance(value, _Hcl):
            return value.expression
        if isinstance(value, list):
            return "[" + ", ".join(cls.render(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{cls.string(k).expression} = {cls.render(v)}" for k, v in value.items()) + "}"
        raise TypeError(f"cannot write {value!r} as a Terraform expression")


def _tf_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


def _construct_class() -> type[Any]:
    from constructs import Construct

    return Construct
