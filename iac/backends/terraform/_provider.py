"""The ``baton`` provider on the ``tf`` framework: provider configuration, one resource type per integration,
the ``baton_catalog`` data source.

Create, update and delete go through the deploy engine (:class:`iac.backends.engine.Engine`): the same
rendered objects ``iac up`` applies, by server-side apply, in an ApplySet of their own per connector
(``applyset-tf.<name>``), so Terraform-managed connectors never prune each other or an ``iac up`` stack.
Read reports the live state (see :mod:`._live`) and the engine's out-of-band drift. Secrets are write-only.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tf import schema as tfschema  # type: ignore[import-untyped]
from tf import types as tftypes
from tf.iface import (  # type: ignore[import-untyped]
    Config,
    CreateContext,
    DataSource,
    DeleteContext,
    ImportContext,
    Provider,
    ReadContext,
    ReadDataContext,
    Resource,
    State,
    UpdateContext,
    UpgradeContext,
)
from tf.types import Unknown  # type: ignore[import-untyped]
from tf.utils import Diagnostics  # type: ignore[import-untyped]

from iac.backends.engine import PART_OF_LABEL, ApplySet, Engine, KubeApi, ObjectRef, connect, resource_type
from iac.backends.terraform._live import WORKLOAD_KINDS, from_live, schedule_of, storage_of
from iac.backends.terraform._protocol import mark_write_only
from iac.backends.terraform._schema import (
    COMPUTED_ATTRIBUTES,
    PROVIDER_NAME,
    PROVIDER_SOURCE,
    AttrKind,
    ConnectorSchema,
    InvalidAttributeError,
    all_schemas,
    connector_schema,
)
from iac.errors import IacError, SpecError
from iac.plugins import integration_classes
from iac.render import check_deployable, default_image, render_stack
from iac.spec import DEFAULT_KUBERNETES_VERSION, Connector, Stack, check_dns_label

__all__ = [
    "APPLYSET_PREFIX",
    "PROVIDER_SOURCE",
    "RENDER_STACK",
    "BatonProvider",
    "ConnectorResource",
    "ProviderSettings",
    "applyset_stack",
]

log = logging.getLogger(__name__)

RENDER_STACK = "terraform"
"""The stack name the provider renders with: the ``app.kubernetes.io/part-of`` label of its objects."""
APPLYSET_PREFIX = "tf."
"""Each connector is its own ApplySet ``applyset-tf.<name>``. The dot keeps it apart from every ``iac up``
stack, whose names are DNS labels."""
_PLACEHOLDER = "redacted"
CHECKSUM_ANNOTATION = "checksum/secret"
"""The pod-template annotation ``iac render`` sets to a salted hash of the credentials."""


def applyset_stack(name: str) -> str:
    return f"{APPLYSET_PREFIX}{name}"


def _tf_type(kind: AttrKind) -> Any:
    return {
        "string": tftypes.String(),
        "bool": tftypes.Bool(),
        "number": tftypes.Number(),
        "list_string": tftypes.List(tftypes.String()),
        "list_number": tftypes.List(tftypes.Number()),
        "map_string": tftypes.Map(tftypes.String()),
    }[kind]


class WriteOnlyAttribute(tfschema.Attribute):  # type: ignore[misc]
    """A ``tf`` schema attribute that also carries the protocol's ``write_only`` flag (see :mod:`._protocol`)."""

    def to_pb(self) -> Any:
        return mark_write_only(super().to_pb())


class ObjectList(tftypes.TfType):  # type: ignore[misc]
    """``list(object({...}))`` of string, bool and list(string) fields (``tf`` has no object type)."""

    def __init__(self, fields: Mapping[str, AttrKind]) -> None:
        self.fields = dict(fields)

    def encode(self, value: Any) -> Any:
        return value

    def decode(self, value: Any) -> Any:
        return value

    def tf_type(self) -> bytes:
        parts = ",".join(f'"{name}":{_tf_type(kind).tf_type().decode()}' for name, kind in self.fields.items())
        return f'["list",["object",{{{parts}}}]]'.encode()


# -- provider ------------------------------------------------------------------------------------------------


@dataclass
class ProviderSettings:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = "baton"
    image: str | None = None
    images: dict[str, str] = field(default_factory=dict)
    create_namespace: bool = False
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    unknown: tuple[str, ...] = ()
    """Arguments whose values Terraform does not know yet (they depend on resources not created yet)."""

    def stack_image(self, integration: str) -> str | None:
        return self.images.get(integration) or self.image


def _known(value: Any) -> Any:
    return None if value is Unknown else value


class BatonProvider(Provider):  # type: ignore[misc]
    """Deploys baton connectors to the cluster of the provider configuration (kubeconfig, or in-cluster)."""

    def __init__(self, api_factory: Any = None) -> None:
        self.settings = ProviderSettings()
        self._api: KubeApi | None = None
        self._api_lock = threading.Lock()
        self._api_factory = api_factory or (lambda s: connect(s.kubeconfig, s.context))
        self.write_only_allowed = False
        """Set by the servicer from Terraform's client capabilities (ConfigureProvider)."""
        self.terraform_version = ""

    def get_model_prefix(self) -> str:
        return f"{PROVIDER_NAME}_"

    def full_name(self) -> str:
        return PROVIDER_SOURCE

    def get_provider_schema(self, diags: Diagnostics) -> Any:
        A = tfschema.Attribute
        return tfschema.Schema(version=0, attributes=[
            A("kubeconfig", tftypes.String(), "Kubeconfig file. Default: `$KUBECONFIG`, `~/.kube/config`, or the "
              "in-cluster service account.", optional=True),
            A("context", tftypes.String(), "Kubeconfig context (default: its current context).", optional=True),
            A("namespace", tftypes.String(), "Namespace of connectors that set none (default `baton`).",
              optional=True),
            A("create_namespace", tftypes.Bool(), "Create the namespace when it does not exist (it is never "
              "deleted).", optional=True),
            A("image", tftypes.String(), "Runtime image of every connector that sets none (default: this "
              f"project's runtime image `{default_image()}`).", optional=True),
            A("images", tftypes.Map(tftypes.String()), "Runtime image per integration (`okta`, `coupa`, ...), "
              "over `image`.", optional=True),
            A("kubernetes_version", tftypes.String(), "Oldest Kubernetes (`1.20`, ...) of the cluster: a "
              f"scheduled connector's CronJob is `batch/v1beta1` before 1.21 (default `{DEFAULT_KUBERNETES_VERSION}`).",
              optional=True),
        ])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        namespace = _known(config.get("namespace"))
        if namespace is not None:
            try:
                check_dns_label(namespace, "namespace")
            except ValueError as exc:
                diags.add_error(str(exc), path=["namespace"])
        version = _known(config.get("kubernetes_version"))
        if version is not None:
            try:
                Stack("check", kubernetes_version=version)
            except SpecError as exc:
                diags.add_error(exc.message, path=["kubernetes_version"])
        images = _known(config.get("images")) or {}
        known = integration_classes()
        for key in images:
            if key not in known:
                diags.add_error(f"images: unknown integration {key!r}; known: {', '.join(known)}",
                                path=["images"])

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        kubeconfig = _known(config.get("kubeconfig"))
        self.settings = ProviderSettings(
            kubeconfig=os.path.expanduser(kubeconfig) if kubeconfig else None,
            context=_known(config.get("context")),
            namespace=_known(config.get("namespace")) or "baton",
            image=_known(config.get("image")),
            images=dict(_known(config.get("images")) or {}),
            create_namespace=bool(_known(config.get("create_namespace"))),
            kubernetes_version=_known(config.get("kubernetes_version")) or DEFAULT_KUBERNETES_VERSION,
            unknown=tuple(sorted(k for k, v in config.items() if v is Unknown)),
        )

    def get_data_sources(self) -> list[type[DataSource]]:
        return [CatalogDataSource]

    def get_resources(self) -> list[type[Resource]]:
        return list(_resource_classes().values())

    def api(self) -> KubeApi:
        """The cluster connection, opened on first use and shared by all calls of this provider process."""
        if self.settings.unknown:  # never fall back to the default cluster for a value still to be known
            raise IacError(f"the provider's {', '.join(self.settings.unknown)} is not known yet (it depends on "
                           "a resource still to be created); apply that resource first (-target)")
        with self._api_lock:
            if self._api is None:
                _warm_decoders()
                self._api = self._api_factory(self.settings)
            return self._api

    def close(self) -> None:
        with self._api_lock:
            if self._api is not None:
                self._api.close()
                self._api = None


_WARM_KINDS = (("v1", "Secret"), ("v1", "ServiceAccount"), ("v1", "Namespace"),
               ("networking.k8s.io/v1", "NetworkPolicy"), ("apps/v1", "Deployment"), ("batch/v1", "CronJob"),
               ("v1", "PersistentVolumeClaim"))


def _warm_decoders() -> None:
    """Build lightkube's msgspec decoders for our kinds on one thread before Terraform's parallel calls.

    msgspec compiles a type's decoder on first use, and two threads doing that at once for the same type
    crashed the provider process (a segmentation fault in ``lightkube.core.decoders.decode_list``)."""
    from lightkube.core.decoders import decode_list

    for api_version, kind in _WARM_KINDS:  # an empty list compiles the decoder of the whole item type
        decode_list(b'{"items": []}', resource_type(ObjectRef(kind, "", "default", api_version)))


# -- data source ---------------------------------------------------------------------------------------------

_CATALOG_FIELDS: dict[str, AttrKind] = {
    "name": "string", "title": "string", "summary": "string", "resource_type": "string",
    "settings": "list_string", "secret_settings": "list_string", "provisioning": "list_string",
}


class CatalogDataSource(DataSource):  # type: ignore[misc]
    """``baton_catalog``: the integrations this provider deploys."""

    def __init__(self, provider: BatonProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return "catalog"

    @classmethod
    def get_schema(cls) -> Any:
        return tfschema.Schema(version=0, attributes=[
            tfschema.Attribute("integrations", ObjectList(_CATALOG_FIELDS), "Every integration: name, title, "
                               "summary, resource type, settings, secret (write-only) settings, and what "
                               "provisioning changes upstream.", computed=True),
        ])

    def read(self, ctx: ReadDataContext, config: Config) -> State:
        entries = []
        for schema in all_schemas().values():
            info = schema.integration.integration
            entries.append({
                "name": info.name, "title": info.title, "summary": info.summary, "resource_type": schema.type_name,
                "settings": [a.name for a in schema.inputs if a.field not in (None, "name") and not a.secret],
                "secret_settings": [a.name for a in schema.secret_inputs],
                "provisioning": list(info.provisioning),
            })
        return {"integrations": entries}


# -- resources -----------------------------------------------------------------------------------------------


class ConnectorResource(Resource):  # type: ignore[misc]
    """Base of the per-integration resource types; :func:`_resource_classes` makes one subclass each."""

    spec: ConnectorSchema

    def __init__(self, provider: BatonProvider) -> None:
        self.provider = provider

    @classmethod
    def get_name(cls) -> str:
        return cls.spec.type_name.removeprefix(f"{PROVIDER_NAME}_")

    @classmethod
    def get_schema(cls) -> Any:
        attributes: list[Any] = []
        for a in cls.spec.inputs:
            kind = WriteOnlyAttribute if a.secret else tfschema.Attribute
            attributes.append(kind(a.name, _tf_type(a.kind), a.description, required=a.required,
                                   optional=not a.required, computed=a.computed or a.default is not None,
                                   sensitive=a.secret, requires_replace=a.requires_replace))
        for name, (attr_kind, description) in COMPUTED_ATTRIBUTES.items():
            attributes.append(tfschema.Attribute(name, _tf_type(attr_kind), description, computed=True))
        info = cls.spec.integration.integration
        return tfschema.Schema(version=0, attributes=attributes,
                               description=f"A {info.title} connector ({info.summary}) deployed to Kubernetes.")

    # -- validation ------------------------------------------------------------------------------------------

    def validate(self, diags: Diagnostics, type_name: str, config: Config) -> None:
        super().validate(diags, type_name, config)
        if diags.has_errors():
            return
        self._check_config(diags, config)

    def _check_config(self, diags: Diagnostics, config: Mapping[str, Any]) -> Connector | None:
        """The connector of ``config``, or None (with a diagnostic when it is invalid, silently when a value is
        still unknown and cannot be checked yet)."""
        if _has_unknown(config):
            return None
        namespace = config.get("namespace")
        if namespace is not None:
            try:
                check_dns_label(namespace, "namespace")
            except ValueError as exc:
                diags.add_error(str(exc), path=["namespace"])
                return None
        try:
            connector = self.spec.connector(config)
        except InvalidAttributeError as exc:
            where = f"{self.spec.type_name}.{exc.attribute}" if exc.attribute else self.spec.type_name
            diags.add_error(exc.message, f"{where} is invalid; `iac explain {self.spec.name}` describes every "
                            "setting.",
                            path=[exc.attribute] if exc.attribute else None)
            return None
        try:  # what rendering refuses (an upstream image that would restart forever)
            check_deployable(Stack(RENDER_STACK), connector)
        except SpecError as exc:
            diags.add_error(exc.message, f"{self.spec.type_name}.{exc.field} is invalid",
                            path=[exc.field] if exc.field else None)
            return None
        return connector

    # -- plan ------------------------------------------------------------------------------------------------

    def plan_change(self, diags: Diagnostics, prior: State | None, proposed: State | None,
                    config: Config | None) -> tuple[State | None, list[str]]:
        """(planned state, attributes that force replacement). Write-only values are in ``config`` only."""
        if proposed is None:
            return None, []
        config = config or {}
        planned = dict(proposed)
        for attribute in self.spec.inputs:
            if attribute.default is not None and config.get(attribute.name) is None:
                planned[attribute.name] = copy.deepcopy(attribute.default)  # left out: the spec's default
        if planned.get("namespace") is None:
            planned["namespace"] = (prior or {}).get("namespace") or self.provider.settings.namespace
        name, namespace = planned.get("name"), planned.get("namespace")
        planned["id"] = Unknown if Unknown in (name, namespace) else f"{namespace}/{name}"
        values = {**planned, **{a.name: config.get(a.name) for a in self.spec.secret_inputs}}
        connector = self._check_config(diags, values)
        if diags.has_errors():
            return None, []
        if connector is None:  # unknown values: nothing derived from them is known yet
            planned.update(objects=Unknown, secret_keys=Unknown)
        else:
            objects = self._render(connector, str(namespace))
            planned["objects"] = [str(ObjectRef.of(o)) for o in objects]
            planned["secret_keys"] = _secret_keys(objects)
        planned["drift"] = []
        replace = [a.name for a in self.spec.inputs
                   if a.requires_replace and prior is not None and prior.get(a.name) != planned.get(a.name)]
        if prior is None:
            secret_changed = changed = True
        else:
            secret_changed = prior.get("secret_keys") != planned["secret_keys"] or \
                prior.get("secrets_revision") != planned.get("secrets_revision") or \
                any(str(line).startswith("Secret/") for line in prior.get("drift") or [])
            if not secret_changed and connector is not None and self._credentials_differ(connector, str(namespace)):
                diags.add_warning(f"{self.spec.type_name} {namespace}/{name}: the credentials differ from the "
                                  "live Secret (rotated, or changed out of band); the Secret will be rewritten")
                secret_changed = True
            changed = secret_changed or bool(replace) or bool(prior.get("drift")) or \
                prior.get("objects") != planned["objects"] or \
                any(prior.get(a.name) != planned.get(a.name) for a in self.spec.inputs if not a.secret)
        if changed:
            planned["generation"] = Unknown
        if secret_changed:
            has_secret = planned["secret_keys"] is Unknown or bool(planned["secret_keys"])
            planned["secret_version"] = Unknown if has_secret else None
        return _without_write_only(self.spec, planned), replace

    def _credentials_differ(self, connector: Connector, namespace: str) -> bool:
        desired = next((o for o in self._render(connector, namespace) if o["kind"] == "Secret"), None)
        if desired is None:
            return False
        live = self.provider.api().get(ObjectRef.of(desired))
        return live is None or (live.get("data") or {}) != (desired.get("data") or {})

    # -- apply -----------------------------------------------------------------------------------------------

    def create(self, ctx: CreateContext, planned: State) -> State | None:
        return self._apply(ctx.diagnostics, planned, getattr(ctx, "config", None))

    def update(self, ctx: UpdateContext, current: State, planned: State) -> State | None:
        return self._apply(ctx.diagnostics, planned, getattr(ctx, "config", None), current=current)

    def _apply(self, diags: Diagnostics, planned: State, config: Mapping[str, Any] | None,
               current: State | None = None) -> State | None:
        values = {**planned, **{a.name: (config or {}).get(a.name) for a in self.spec.secret_inputs}}
        namespace = str(planned["namespace"])
        try:
            connector = self.spec.connector(values)
            objects = self._render(connector, namespace)
            self._engine(connector.name, namespace).up(objects)
            state = dict(planned)
            state.update(id=f"{namespace}/{connector.name}", objects=[str(ObjectRef.of(o)) for o in objects],
                         secret_keys=_secret_keys(objects), drift=[])
            workload = next(ObjectRef.of(o) for o in objects if o["kind"] in WORKLOAD_KINDS)
            state.update(self._live_versions(workload, connector.name, namespace))
        except IacError as exc:
            diags.add_error(str(exc), _detail(self.spec, planned))
            return current
        return _without_write_only(self.spec, state)

    def delete(self, ctx: DeleteContext, current: State) -> None:
        try:
            self._engine(str(current["name"]), str(current["namespace"])).destroy()
        except IacError as exc:
            ctx.diagnostics.add_error(str(exc), _detail(self.spec, current))

    # -- read and import -------------------------------------------------------------------------------------

    def read(self, ctx: ReadContext, current: State) -> State | None:
        try:
            return self._read(current)
        except IacError as exc:
            ctx.diagnostics.add_error(str(exc), _detail(self.spec, current))
            return current

    def _read(self, current: State) -> State | None:
        name, namespace = str(current["name"]), str(current["namespace"])
        connector = self.spec.connector(_with_placeholders(self.spec, current))
        objects = self._render(connector, namespace)
        engine = self._engine(name, namespace)
        drift = engine.refresh(objects)
        rendered = next(o for o in objects if o["kind"] in WORKLOAD_KINDS)
        live = self.provider.api().get(ObjectRef.of(rendered))
        if not drift.deployed and live is None:
            return None  # deleted out of band: Terraform plans to create it again
        state = dict(current)
        if live is not None:
            state.update(from_live(self.spec, live=live, rendered=rendered, prior=current))
        lines = []
        for drifted in drift.drifted:
            if drifted.state == "missing":
                lines.append(f"{drifted.ref}: deleted out of band")
            for f in drifted.fields:
                by = f"{f.manager} ({f.operation})"
                # Secret data, and the pod template's hash of the credentials, are named but never shown.
                hidden = f.masked or CHECKSUM_ANNOTATION in f.path
                lines.append(f"{drifted.ref} {f.path}: changed by {by}" if hidden else
                             f"{drifted.ref} {f.path}: {f.expected!r} -> {f.actual!r} by {by}")
        if not drift.deployed:
            lines.append(f"ApplySet parent {ApplySet(applyset_stack(name), namespace).parent_name} missing")
        state["drift"] = lines
        state["objects"] = [str(ObjectRef.of(o)) for o in objects]
        state.update(self._live_versions(ObjectRef.of(rendered), name, namespace))
        return _without_write_only(self.spec, state)

    def import_(self, ctx: ImportContext, id: str) -> State | None:
        namespace, sep, name = id.partition("/")
        if not sep or not namespace or not name:
            ctx.diagnostics.add_error(f"import ID {id!r} must be <namespace>/<name> (the connector name, without "
                                      "the baton- prefix)")
            return None
        try:
            return self._import(namespace, name)
        except IacError as exc:
            ctx.diagnostics.add_error(str(exc))
            return None

    def _import(self, namespace: str, name: str) -> State | None:
        api = self.provider.api()
        cronjob_version = Stack("check", kubernetes_version=self.provider.settings.kubernetes_version) \
            .cronjob_api_version()
        live = None
        for ref in (ObjectRef("Deployment", f"baton-{name}", namespace, "apps/v1"),
                    ObjectRef("CronJob", f"baton-{name}", namespace, cronjob_version)):
            live = api.get(ref)
            if live is not None:
                break
        if live is None:
            raise IacError(f"no Deployment or CronJob baton-{name} in namespace {namespace} to import")
        kind = str(live.get("kind") or ref.kind)
        labels = (live.get("metadata") or {}).get("labels") or {}
        integration = str(labels.get("app.kubernetes.io/name", "")).removeprefix("baton-")
        if integration != self.spec.name:
            raise IacError(f"{kind} baton-{name} in namespace {namespace} runs the {integration or 'unknown'} "
                           f"integration; import it as {PROVIDER_NAME}_{integration}_connector")
        owner = labels.get(PART_OF_LABEL)
        ours = ApplySet(applyset_stack(name), namespace).id
        if owner not in (None, ours):
            raise IacError(f"{kind} baton-{name} in namespace {namespace} belongs to another ApplySet ({owner}),"
                           " such as an `iac up` stack; destroy it there first or keep managing it there")
        state: dict[str, Any] = {a.name: None for a in self.spec.inputs}
        state.update(name=name, namespace=namespace, id=f"{namespace}/{name}")
        for attribute in self.spec.inputs:  # what the workload does not show: assume the spec's default
            if attribute.default is not None:
                state[attribute.name] = copy.deepcopy(attribute.default)
        state.update(from_live(self.spec, live=live, rendered=None, prior=None))
        if any(a.name == "storage_size" for a in self.spec.inputs):
            claim = api.get(ObjectRef("PersistentVolumeClaim", f"baton-{name}-data", namespace, "v1"))
            state.update(storage_of(claim, scheduled=schedule_of(live) is not None))
        secret = api.get(ObjectRef("Secret", f"baton-{name}", namespace, "v1"))
        state["secret_keys"] = sorted((secret or {}).get("data") or {})
        state.update(objects=[], drift=[], generation=None, secret_version=None)
        return self._read(state)

    def upgrade(self, ctx: UpgradeContext, version: int, old: State) -> State:
        return old

    # -- helpers ---------------------------------------------------------------------------------------------

    def _render(self, connector: Connector, namespace: str) -> list[dict[str, Any]]:
        settings = self.provider.settings
        stack = Stack(RENDER_STACK, namespace=namespace, image=settings.stack_image(self.spec.name),
                      create_namespace=settings.create_namespace, kubernetes_version=settings.kubernetes_version)
        stack.add(connector)
        return render_stack(stack, environ={})

    def _engine(self, name: str, namespace: str) -> Engine:
        return Engine(self.provider.api(), stack=applyset_stack(name), namespace=namespace, workers=4)

    def _live_versions(self, workload: ObjectRef, name: str, namespace: str) -> dict[str, Any]:
        api = self.provider.api()
        live = api.get(workload)
        secret = api.get(ObjectRef("Secret", f"baton-{name}", namespace, "v1"))
        return {
            "generation": ((live or {}).get("metadata") or {}).get("generation"),
            "secret_version": ((secret or {}).get("metadata") or {}).get("resourceVersion"),
        }


def _has_unknown(value: Any) -> bool:
    if value is Unknown:
        return True
    if isinstance(value, Mapping):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_unknown(v) for v in value)
    return False


def _secret_keys(objects: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted(key for o in objects if o["kind"] == "Secret" for key in o.get("data") or {})


def _without_write_only(spec: ConnectorSchema, state: Mapping[str, Any]) -> State:
    """Write-only attributes are always null in what goes back to Terraform (plan and state)."""
    return {k: (None if any(a.name == k for a in spec.secret_inputs) else v) for k, v in state.items()}


def _with_placeholders(spec: ConnectorSchema, state: Mapping[str, Any]) -> dict[str, Any]:
    """State values plus a placeholder for every credential the connector's Secret holds (state keeps only the
    Secret's key names), so the state renders to objects of the same shape as the deployed ones."""
    keys = set(state.get("secret_keys") or [])
    values = dict(state)
    for attribute in spec.secret_inputs:
        if attribute.kind == "map_string":
            own = {a.env for a in spec.inputs if a.env}
            extra = sorted(keys - own)
            values[attribute.name] = dict.fromkeys(extra, _PLACEHOLDER) or None
        elif attribute.required or attribute.env in keys:
            values[attribute.name] = _PLACEHOLDER
    return values


def _detail(spec: ConnectorSchema, state: Mapping[str, Any] | None) -> str:
    state = state or {}
    return f"{spec.type_name} {state.get('namespace')}/{state.get('name')}"


_CLASSES: dict[str, type[ConnectorResource]] = {}


def _resource_classes() -> dict[str, type[ConnectorResource]]:
    """One :class:`ConnectorResource` subclass per integration (built once)."""
    if not _CLASSES:
        for cls in integration_classes().values():
            spec = connector_schema(cls)
            _CLASSES[spec.type_name] = type(f"{cls.__name__}ConnectorResource", (ConnectorResource,), {"spec": spec})
    return _CLASSES
