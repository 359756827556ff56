"""Integration specs → Terraform resource schemas, and Terraform values → connectors. No IO, no ``tf`` import.

One resource type per integration, ``baton_<integration>_connector``. Its arguments are the connector model's
fields under the Python API's names (``domain``, ``api_token``, ``sync_custom_roles``, ...), derived from the
pydantic annotations and the :class:`~iac.spec.SettingSpec` metadata, so a new setting or integration needs no
change here. A nested settings model is flattened with its field name as prefix: ``conductorone=ConductorOne(
client_id=..., client_secret=...)`` becomes ``conductorone_client_id`` and ``conductorone_client_secret``,
``resources=Resources(requests=..., limits=...)`` becomes ``resources_requests`` and ``resources_limits``.

Every argument the spec calls secret is *write-only* (and sensitive): Terraform >= 1.11 passes its value to
the provider during plan and apply and never writes it to a plan or state file. The rest of the schema is
common to all resource types: ``namespace``, ``secrets_revision`` and the computed attributes below.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from iac._redact import register_secret
from iac.errors import SpecError
from iac.plugins import integration_classes
from iac.spec import Connector, setting_spec
from iac.spec.secret import LiteralSecret, SecretRef

__all__ = [
    "COMPUTED_ATTRIBUTES",
    "PROVIDER_NAME",
    "PROVIDER_SOURCE",
    "AttrKind",
    "ConnectorSchema",
    "InputAttribute",
    "InvalidAttributeError",
    "all_schemas",
    "connector_schema",
    "resource_type_name",
]

PROVIDER_NAME = "baton"
PROVIDER_SOURCE = f"iac/{PROVIDER_NAME}"
"""The provider's source address in ``required_providers`` (local name ``baton``)."""
AttrKind = Literal["string", "bool", "number", "list_string", "list_number", "map_string"]

COMPUTED_ATTRIBUTES: dict[str, tuple[AttrKind, str]] = {
    "id": ("string", "`<namespace>/<name>`; also the import ID."),
    "objects": ("list_string", "The Kubernetes objects of the connector (`Kind/name`), as `iac render` renders them."),
    "secret_keys": ("list_string", "Keys of the connector's Secret (environment variable names; never values)."),
    "drift": ("list_string", "Out-of-band changes found by the last refresh (field and who changed it); an apply "
              "reverts them."),
    "generation": ("number", "`metadata.generation` of the Deployment (or the CronJob of a `schedule`); unknown "
                   "until an apply that changes it."),
    "secret_version": ("string", "`resourceVersion` of the connector's Secret; unknown until an apply that "
                       "rewrites it. Credentials that differ from the live Secret (rotation) plan a rewrite."),
}

# Help for connector fields that are not container settings (settings carry their own help).
_FIELD_HELP = {
    "image": "Container image; default: the provider's `image`/`images`, else this project's runtime image.",
    "resources": "Container resources",
    "egress_ports": "TCP ports the NetworkPolicy lets the connector reach (besides DNS).",
    "env": "Plain environment variables of the container.",
    "secret_env": "Secret environment variables of the container (values are write-only).",
    "health_port": "Port of the image's /live and /ready endpoints; null disables the probes.",
    "conductorone": "ConductorOne",
}


def resource_type_name(integration: str) -> str:
    return f"{PROVIDER_NAME}_{integration}_connector"


class InvalidAttributeError(SpecError):
    """A spec error located on one Terraform attribute (``attribute``), for a diagnostic on that argument."""

    def __init__(self, message: str, *, attribute: str | None, connector: str | None = None) -> None:
        super().__init__(message, field=attribute, connector=connector)
        self.attribute = attribute


@dataclass(frozen=True)
class InputAttribute:
    """One argument of a resource type and where it goes in the connector model."""

    name: str
    kind: AttrKind
    description: str
    required: bool = False
    secret: bool = False
    """Write-only and sensitive: the value never reaches plan or state."""
    field: str | None = None
    """The connector model field (``None`` for the provider's own arguments such as ``namespace``)."""
    sub: str | None = None
    """The field inside a nested settings model (``client_secret`` of ``conductorone``)."""
    env: str | None = None
    """The container environment variable the setting becomes, when it is one."""
    choices: tuple[str, ...] = ()
    requires_replace: bool = False
    computed: bool = False
    """Optional and computed: the provider fills it in when the configuration leaves it out."""
    default: Any = None
    """The spec's default, planned when the configuration leaves the argument out (then it is computed)."""


@dataclass(frozen=True)
class ConnectorSchema:
    """The resource type of one integration."""

    integration: type[Connector]
    type_name: str
    inputs: tuple[InputAttribute, ...]
    nested: tuple[tuple[str, type[BaseModel]], ...]

    @property
    def name(self) -> str:
        return self.integration.integration.name

    @property
    def secret_inputs(self) -> tuple[InputAttribute, ...]:
        return tuple(a for a in self.inputs if a.secret)

    def input(self, name: str) -> InputAttribute:
        for attribute in self.inputs:
            if attribute.name == name:
                return attribute
        raise KeyError(name)

    def attribute_of_field(self, field: str | None) -> str | None:
        """The attribute a spec error's field path (``domain``, ``conductorone.client_secret``,
        ``egress_ports.0``, ``secret_env['X']``) is about."""
        if not field:
            return None
        head, _, rest = field.partition(".")
        head = head.split("[", 1)[0]
        sub = rest.split(".", 1)[0] if rest else None
        for attribute in self.inputs:
            if attribute.field == head and (attribute.sub is None or attribute.sub == sub):
                return attribute.name
        return None

    def connector(self, values: Mapping[str, Any]) -> Connector:
        """The connector the attribute ``values`` describe (write-only values included when given).

        Raises :class:`InvalidAttributeError` naming the attribute with the spec's message."""
        kwargs: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for attribute in self.inputs:
            value = values.get(attribute.name)
            if attribute.field is None or attribute.field == "name" or value is None:
                continue
            value = _to_model(attribute, value)
            if attribute.sub is not None:
                nested.setdefault(attribute.field, {})[attribute.sub] = value
            else:
                kwargs[attribute.field] = value
        models = dict(self.nested)
        for field, sub_values in nested.items():
            try:
                kwargs[field] = models[field](**sub_values)
            except SpecError as exc:
                located = f"{field}_{exc.field}" if exc.field else None
                raise InvalidAttributeError(exc.message, attribute=located,
                                            connector=_str_or_none(values.get("name"))) from None
        name = values.get("name")
        try:
            return self.integration(name, **kwargs)  # type: ignore[arg-type]
        except SpecError as exc:
            located = self.attribute_of_field(exc.field) or ("name" if exc.field is None and
                                                               "connector name" in exc.message else None)
            raise InvalidAttributeError(exc.message, attribute=located, connector=exc.connector) from None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _to_model(attribute: InputAttribute, value: Any) -> Any:
    if attribute.secret:  # a write-only value: registered so that no error or log line of this process shows it
        if isinstance(value, Mapping):
            for v in value.values():
                register_secret(str(v))
            return {k: LiteralSecret(value=SecretStr(str(v))) for k, v in value.items()}
        register_secret(str(value))
        return LiteralSecret(value=SecretStr(str(value)))
    if attribute.kind == "number" and isinstance(value, float) and value.is_integer():
        return int(value)
    if attribute.kind == "list_number":
        return [int(v) if isinstance(v, float) and v.is_integer() else v for v in value]
    return value


@cache
def connector_schema(integration: type[Connector]) -> ConnectorSchema:
    """The resource schema of ``integration``, derived from its model fields and settings metadata."""
    inputs = [
        InputAttribute("name", "string", "Connector name: the Deployment is `baton-<name>`. Changing it replaces "
                       "the connector.", required=True, field="name", requires_replace=True),
        InputAttribute("namespace", "string", "Namespace to deploy into; default: the provider's `namespace`. "
                       "Changing it replaces the connector.", requires_replace=True, computed=True),
    ]
    nested: list[tuple[str, type[BaseModel]]] = []
    for field, info in _ordered_fields(integration):
        model = _nested_model(info.annotation)
        if model is not None:
            nested.append((field, model))
            for sub, sub_info in model.model_fields.items():
                inputs.append(_input(f"{field}_{sub}", sub_info, field=field, sub=sub, parent_required=False,
                                     prefix=_FIELD_HELP.get(field, field)))
        else:
            inputs.append(_input(field, info, field=field, sub=None, parent_required=True, prefix=None))
    inputs.append(InputAttribute(
        "secrets_revision", "number", "Change this number to have the provider rewrite the write-only "
        "credentials even when they look unchanged (the usual convention for write-only arguments). Rotation is "
        "also detected without it: credentials that differ from the live Secret plan a rewrite."))
    return ConnectorSchema(integration=integration, type_name=resource_type_name(integration.integration.name),
                           inputs=tuple(inputs), nested=tuple(nested))


def all_schemas() -> dict[str, ConnectorSchema]:
    """Every resource type, keyed by its Terraform type name, in catalog order."""
    return {schema.type_name: schema for schema in (connector_schema(cls) for cls in integration_classes().values())}


# Connector fields that are deliberately no argument: the provider deploys connectors into the cluster, while
# hosting="cloud" means ConductorOne runs the connector (a ConductorOne-provider resource, `iac synth`).
_NOT_ARGUMENTS = frozenset({"name", "hosting"})


def _ordered_fields(integration: type[Connector]) -> Iterator[tuple[str, FieldInfo]]:
    """The integration's own fields first, then the common ones (the catalog's order)."""
    own = [(n, i) for n, i in integration.model_fields.items() if n not in Connector.model_fields]
    common = [(n, i) for n, i in integration.model_fields.items()
              if n in Connector.model_fields and n not in _NOT_ARGUMENTS]
    yield from own
    yield from common


def _input(name: str, info: FieldInfo, *, field: str, sub: str | None, parent_required: bool,
           prefix: str | None) -> InputAttribute:
    kind, secret = _kind(info.annotation, name)
    spec = setting_spec(sub or field, info)
    if spec is not None:
        help_text = f"{spec.help} (`{spec.env}`)"
        choices = spec.choices
        env: str | None = spec.env
    else:
        help_text = _FIELD_HELP.get(field, field.replace("_", " "))
        if field == "image" and info.is_required():
            help_text = "Container image of the connector."
        choices = ()
        env = None
    if prefix is not None and spec is None:
        help_text = f"{prefix}: {sub}"
    if choices:
        help_text += f"; one of {', '.join(choices)}"
    default = None
    if sub is None and not info.is_required() and not secret:
        default = _terraform_value(info.get_default(call_default_factory=True))
    if default is not None:
        help_text += f"; default {_show(default)}"
    if secret:
        help_text += ". Write-only: never stored in plan or state (Terraform >= 1.11)"
    return InputAttribute(name, kind, help_text, required=parent_required and info.is_required(), secret=secret,
                          field=field, sub=sub, env=env, choices=choices, computed=default is not None,
                          default=default)


def _terraform_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_terraform_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _terraform_value(v) for k, v in value.items()}
    return value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    args = [a for a in typing.get_args(annotation) if a is not type(None)] \
        if typing.get_origin(annotation) in (typing.Union, types.UnionType) else [annotation]
    if len(args) == 1 and isinstance(args[0], type) and issubclass(args[0], BaseModel) \
            and not issubclass(args[0], SecretRef):
        return args[0]
    return None


def _kind(annotation: Any, name: str) -> tuple[AttrKind, bool]:
    """(Terraform kind, secret) of a pydantic field annotation."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _kind(args[0], name)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        if all(_is_secret_ref(a) for a in members):
            return "string", True
        if len(members) == 1:
            return _kind(members[0], name)
        if str in members:  # a value or a secret reference (ConductorOne client_id): a plain string here
            return "string", False
        raise TypeError(f"{name}: no Terraform type for {annotation}")
    if origin is Literal or annotation is str:
        return "string", False
    if _is_secret_ref(annotation):
        return "string", True
    if annotation is bool:
        return "bool", False
    if annotation in (int, float):
        return "number", False
    if origin in (tuple, list):
        element, _ = _kind(args[0], name)
        if element not in ("string", "number"):
            raise TypeError(f"{name}: no Terraform type for {annotation}")
        return ("list_string" if element == "string" else "list_number"), False
    if origin is dict:
        value_kind, secret = _kind(args[1], name)
        if value_kind != "string":
            raise TypeError(f"{name}: no Terraform type for {annotation}")
        return "map_string", secret
    raise TypeError(f"{name}: no Terraform type for {annotation}")


def _is_secret_ref(candidate: Any) -> bool:
    if typing.get_origin(candidate) is typing.Annotated:
        candidate = typing.get_args(candidate)[0]
    if typing.get_origin(candidate) in (typing.Union, types.UnionType):
        return all(_is_secret_ref(a) for a in typing.get_args(candidate) if a is not type(None))
    return isinstance(candidate, type) and issubclass(candidate, SecretRef)
