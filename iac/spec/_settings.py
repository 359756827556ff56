"""Setting metadata: the one place a connector setting's env name, help and upstream mapping are declared.

A connector class declares its settings as annotated pydantic fields::

    domain: Annotated[str, Setting(env="BATON_DOMAIN", help="...", c1="okta_v2_domain")]

Everything else (renderer, CLI help, catalog, docs, later the Pulumi/cdktf/Terraform schemas)
reads the derived :class:`SettingSpec` list instead of repeating field names.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from iac.spec.baton_env import PREFIX
from iac.spec.secret import SecretRef

__all__ = ["Setting", "SettingKind", "SettingSpec", "format_plain", "setting_spec"]

SettingKind = Literal["string", "bool", "list", "enum", "number", "secret"]


@dataclass(frozen=True)
class Setting:
    """Marks a model field as a setting the connector container receives as environment variable ``env``."""

    env: str
    help: str
    c1: str | None = None
    """Attribute of the ConductorOne Terraform provider's integration resource (``c1_resource``) that takes this
    setting when ConductorOne hosts the connector; None: the resource has no attribute for it, so only a
    self-hosted connector can set it."""
    c1_key: str | None = None
    """The configuration key ConductorOne's API receives for ``c1``, when it differs from the attribute name
    (the provider translates; recorded for people reading ConductorOne's API or UI)."""
    example: str | None = None


@dataclass(frozen=True)
class SettingSpec:
    """A derived, backend-neutral description of one setting."""

    name: str
    env: str
    help: str
    kind: SettingKind
    secret: bool
    required: bool
    default: Any
    choices: tuple[str, ...] = ()
    c1: str | None = None
    c1_key: str | None = None
    example: str | None = None

    @property
    def cli_flag(self) -> str:
        """The runtime's command-line flag, e.g. ``BATON_SYNC_CUSTOM_ROLES`` → ``--sync-custom-roles``."""
        return "--" + self.env.removeprefix(PREFIX).lower().replace("_", "-")

    def default_text(self) -> str:
        if self.required:
            return "required"
        if self.default is None:
            return "unset"
        return format_plain(self.default)


def format_plain(value: Any) -> str:
    """How a non-secret value is written into an environment variable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def setting_spec(name: str, field: FieldInfo) -> SettingSpec | None:
    """The SettingSpec of a pydantic field, or None when the field is not a container setting."""
    marker = next((m for m in field.metadata if isinstance(m, Setting)), None)
    if marker is None:
        return None
    annotation = field.annotation
    kind, choices = _kind_of(annotation)
    required = field.is_required()
    default = None if required or field.default is PydanticUndefined else field.default
    if isinstance(default, tuple):
        default = list(default)
    return SettingSpec(
        name=name,
        env=marker.env,
        help=marker.help,
        kind=kind,
        secret=kind == "secret",
        required=required,
        default=default,
        choices=choices,
        c1=marker.c1,
        c1_key=marker.c1_key,
        example=marker.example,
    )


def _kind_of(annotation: Any) -> tuple[SettingKind, tuple[str, ...]]:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if all(isinstance(a, type) and issubclass(a, SecretRef) for a in args):
            return "secret", ()
        if len(args) == 1:
            return _kind_of(args[0])
    if origin is typing.Annotated:
        return _kind_of(args[0])
    if origin is Literal:
        return "enum", tuple(str(a) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, SecretRef):
        return "secret", ()
    if origin in (list, tuple):
        return "list", ()
    if annotation is bool:
        return "bool", ()
    if annotation in (int, float):
        return "number", ()
    return "string", ()
