"""The connector base class and the catalog metadata every integration declares.

An integration is one subclass of :class:`Connector` in ``iac/spec/integrations/<name>.py``:
its annotated fields are the settings (see :mod:`iac.spec._settings`), its ``integration``
class variable the catalog entry. Nothing else in the project lists an integration's fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from iac.errors import SpecError
from iac.spec._settings import Setting, SettingSpec, setting_spec
from iac.spec._validation import check_dns_label, check_dns_subdomain, check_https_url, spec_error_from
from iac.spec.secret import (
    ConductorOneCredential,
    EnvSecret,
    ExternalSecretRef,
    FileSecret,
    KubernetesSecretRef,
    LiteralSecret,
    ResolvableSecret,
    SecretRef,
)

__all__ = [
    "ConductorOne",
    "Connector",
    "EntitlementDoc",
    "Hosting",
    "Integration",
    "ManagedConductorOne",
    "ResourceTypeDoc",
    "Resources",
    "SecretField",
    "Storage",
    "check_schedule",
    "common_env",
    "conductorone_env",
    "conductorone_settings",
    "env_value_items",
]

HEALTH_SERVER_SDK_MINOR = 25
"""baton-sdk 0.25 (baton-okta 8ffb5fe1) serves /live /ready /health with --health-check; 0.1 and 0.2 (baton-celigo,
baton-coupa) have no health server. Generations between were not measured: they get no HTTP probes."""
PEBBLE_DEFAULT_SDK_MINOR = 25
"""baton-sdk 0.25 writes a c1z v3 (Pebble) unless ``--storage-engine sqlite`` (``BATON_STORAGE_ENGINE``); 0.1 and
0.2 write only v1 and have no such flag. v3 is read by none of this project's tools nor by the ``baton`` CLI."""
MAX_CONNECTOR_NAME = 57  # "baton-" + name must fit a 63-character label
LogLevel = Literal["debug", "info", "warn", "error"]
Hosting = Literal["self", "cloud"]
StorageEngine = Literal["sqlite", "pebble"]
"""Who runs a connector: ``self`` — this project renders it into your cluster; ``cloud`` — ConductorOne runs it
(configured through the ConductorOne Terraform provider's ``c1_resource``)."""


def _require_secret_ref(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            "is a secret: a plain string is refused so credentials stay out of stack files; use "
            "secret.env('VAR'), secret.file(PATH), secret.kubernetes(NAME, KEY) or secret.external(STORE, KEY)"
        )
    if value is not None and not isinstance(value, SecretRef):
        raise ValueError(f"is a secret and needs a secret reference (secret.env(...), ...), got {type(value).__name__}")
    return value


SecretField = Annotated[
    EnvSecret | FileSecret | LiteralSecret | KubernetesSecretRef | ExternalSecretRef,
    BeforeValidator(_require_secret_ref),
]


@dataclass(frozen=True)
class EntitlementDoc:
    slug: str
    grantable_to: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class ResourceTypeDoc:
    """What a connector syncs: one resource type with its entitlements."""

    id: str
    description: str
    entitlements: tuple[EntitlementDoc, ...] = ()
    provisioned: bool = False
    """Grant/revoke of this type's entitlements is supported when provisioning is on."""
    opt_in: str | None = None
    """Name of the setting that enables this type, when it is not synced by default."""


@dataclass(frozen=True)
class Integration:
    """Catalog metadata of an integration (everything that is not a setting)."""

    name: str
    title: str
    summary: str
    syncs: tuple[ResourceTypeDoc, ...]
    provisioning: tuple[str, ...]
    """What the connector changes upstream when provisioning is on (human-readable)."""
    upstream_setup: tuple[str, ...]
    """What a user must create or grant in the vendor's admin console first."""
    read_scopes: tuple[str, ...] = ()
    write_scopes: tuple[str, ...] = ()
    docs_url: str | None = None
    bundled_runtime: bool = True
    """The project's runtime image can run this connector (BATON_CONNECTOR=<name>)."""
    c1_resource: str | None = None
    """The ConductorOne Terraform provider's resource for this integration hosted by ConductorOne."""
    c1_catalog_id: str | None = None
    """ConductorOne's catalog ID of that integration (what the resource sends as ``catalog_id``)."""
    hosting: tuple[Hosting, ...] = ("self",)
    """Where a connector of this integration can run: ``self`` (rendered into your cluster) and, when
    ConductorOne hosts the integration, ``cloud`` (then ``c1_resource`` and ``c1_catalog_id`` are required)."""
    known_defects_fixed: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if "cloud" in self.hosting and not (self.c1_resource and self.c1_catalog_id):
            raise ValueError(f"integration {self.name}: hosting 'cloud' needs c1_resource and c1_catalog_id")


class SpecModel(BaseModel):
    """A settings group whose validation errors surface as one-line SpecErrors."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    _secret_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise spec_error_from(exc, connector=None, fields=type(self).model_fields,
                                  secret_fields=self._secret_fields) from None


_QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")


class Resources(SpecModel):
    """Container requests and limits. Keys: ``cpu``, ``memory``, ``ephemeral-storage``."""

    requests: dict[str, str] = Field(default_factory=lambda: {"cpu": "50m", "memory": "128Mi"})
    limits: dict[str, str] = Field(default_factory=lambda: {"cpu": "1", "memory": "512Mi"})

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, value: dict[str, str]) -> dict[str, str]:
        for key, quantity in value.items():
            if key not in ("cpu", "memory", "ephemeral-storage"):
                raise ValueError(f"unknown resource {key!r}; use cpu, memory or ephemeral-storage")
            if not isinstance(quantity, str) or not _QUANTITY.match(quantity):
                raise ValueError(f"{key} quantity {quantity!r} is not a Kubernetes quantity like '500m' or '256Mi'")
        return dict(sorted(value.items()))


_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


class MetricsFrom(SpecModel):
    """Who may reach the connector's health and metrics port (the NetworkPolicy's only ingress rule).

    ``namespaces``: names of the namespaces allowed (all their pods, or those matching ``pods``); ``pods``: pod
    labels (in those namespaces, or in the connector's own). Without it nothing may connect: kubelet probes
    need no rule, since a NetworkPolicy always admits traffic from the pod's own node."""

    namespaces: tuple[str, ...] = ()
    pods: dict[str, str] = Field(default_factory=dict)

    @field_validator("namespaces")
    @classmethod
    def _namespaces(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({check_dns_label(name, "namespace") for name in value}))

    @field_validator("pods")
    @classmethod
    def _pod_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, label in value.items():
            if not _LABEL_KEY.match(key) or len(key) > 317:
                raise ValueError(f"{key!r} is not a Kubernetes label key")
            if not isinstance(label, str) or not _LABEL_VALUE.match(label):
                raise ValueError(f"label {key}: {label!r} is not a Kubernetes label value (at most 63 characters: "
                                 "letters, digits, '-', '_', '.')")
        return dict(sorted(value.items()))

    @model_validator(mode="after")
    def _something(self) -> MetricsFrom:
        if not self.namespaces and not self.pods:
            raise ValueError("name at least one namespace or pod label; leave metrics_from unset to admit no one")
        return self


class Storage(SpecModel):
    """``/data`` (the sync artifact) on a PersistentVolumeClaim instead of an emptyDir: it survives pod restarts
    and, for a scheduled connector, each run sees the previous one's artifact."""

    size: str = "1Gi"
    storage_class: str | None = None
    """The claim's ``storageClassName``; None: the cluster's default class."""

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        if not _QUANTITY.match(value) or value.endswith("m"):
            raise ValueError(f"size {value!r} is not a Kubernetes storage quantity like '1Gi' or '500Mi'")
        return value

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: str | None) -> str | None:
        return None if value is None else check_dns_subdomain(value, "storage_class")


# What Kubernetes' CronJob controller parses (robfig/cron's standard parser): five fields or a macro.
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def check_schedule(value: str) -> str:
    """A CronJob schedule: five fields (minute hour day-of-month month day-of-week) or ``@hourly``-style."""
    from cronsim import CronSim, CronSimError  # only stacks with a schedule pay for the import

    expression = " ".join(value.split())
    if expression in _CRON_MACROS:
        return expression
    if len(expression.split(" ")) != 5 or any(c in expression.upper() for c in "LW#"):
        raise ValueError(f"schedule {value!r} is not a cron expression: five fields (minute hour day-of-month "
                         "month day-of-week) like '0 */6 * * *', or @hourly/@daily/@weekly/@monthly/@yearly")
    try:
        CronSim(expression, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValueError(f"schedule {value!r} is not a cron expression ({str(exc).lower()}); e.g. '0 */6 * * *'"
                         ) from None
    return expression


_IMAGE_SDK = re.compile(r"^0\.(0|[1-9][0-9]{0,2})$")


class ConductorOne(SpecModel):
    """ConductorOne client credentials (from "Add connector → Baton → Rotate" in ConductorOne).

    Optional: without them the connector syncs into its local artifact only."""

    _secret_fields: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")
    client_id: Annotated[
        str | EnvSecret | FileSecret | LiteralSecret | KubernetesSecretRef | ExternalSecretRef,
        Setting(env="BATON_CLIENT_ID", help="ConductorOne client ID of this connector"),
    ]
    client_secret: Annotated[
        SecretField, Setting(env="BATON_CLIENT_SECRET", help="ConductorOne client secret of this connector"),
    ]

    @field_validator("client_id", mode="before")
    @classmethod
    def _client_id(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value

    @staticmethod
    def managed(*, owners: Sequence[str] = (), display_names: Mapping[str, str] | None = None) -> ManagedConductorOne:
        """Let the stack manage the ConductorOne side through the ConductorOne Terraform provider (`iac synth`):
        an app per connector, the hosted integration for ``hosting="cloud"`` connectors, and for self-hosted ones
        a Baton integration whose generated client ID and secret feed the connector's Secret by reference.

        ``owners``: ConductorOne user IDs that own each integration (default: whoever runs terraform apply).
        ``display_names``: app display name per connector name (default: the integration's title, plus the
        connector's name when it differs from the integration's)."""
        return ManagedConductorOne(owners=owners, display_names={} if display_names is None else display_names)


class ManagedConductorOne(SpecModel):
    """The stack manages ConductorOne through Terraform; see :meth:`ConductorOne.managed`."""

    owners: tuple[str, ...] = ()
    """ConductorOne user IDs (``user_ids`` of each integration resource)."""
    display_names: dict[str, str] = Field(default_factory=dict)
    """App display name per connector name."""

    @field_validator("owners", mode="before")
    @classmethod
    def _owners(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError("must be a list of ConductorOne user IDs, e.g. ['2a3b...'], not one string")
        if isinstance(value, (list, tuple)):
            for owner in value:
                if not isinstance(owner, str) or not owner.strip() or any(c.isspace() for c in owner):
                    raise ValueError(f"owner {owner!r} must be a ConductorOne user ID (no spaces)")
            if len(set(value)) != len(value):
                raise ValueError("lists a user ID twice")
        return value

    @field_validator("display_names", mode="before")
    @classmethod
    def _display_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, name in value.items():
                if not isinstance(name, str) or not name.strip():
                    raise ValueError(f"display name of {key!r} must be a non-empty string")
        return value

    def display_name(self, connector: Connector) -> str:
        chosen = self.display_names.get(connector.name)
        if chosen is not None:
            return chosen
        info = connector.integration
        return info.title if connector.name == info.name else f"{info.title} ({connector.name})"


class Connector(BaseModel):
    """Base of every integration. Subclasses add annotated settings and an ``integration`` entry."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)
    integration: ClassVar[Integration]

    name: str
    provisioning: Annotated[
        StrictBool,
        Setting(env="BATON_PROVISIONING", help="let the connector grant and revoke access upstream"),
    ] = False
    log_level: Annotated[LogLevel, Setting(env="BATON_LOG_LEVEL", help="log verbosity")] = "info"
    host_id: Annotated[
        str | None,
        Setting(env="BATON_HOST_ID", help="host identity reported to ConductorOne (default baton-<name>)"),
    ] = None
    base_url_override: Annotated[
        str | None,
        Setting(env="BATON_BASE_URL", help="send API calls to this base URL instead (proxy, simulator)"),
    ] = None
    rate_limit_share: Annotated[
        float,
        Field(gt=0, le=1),
        Setting(env="BATON_RATE_LIMIT_SHARE",
                help="largest share of any vendor rate-limit bucket the connector may use"),
    ] = 0.5
    conductorone: ConductorOne | None = None
    image: str | None = None
    resources: Resources | None = None
    egress_ports: tuple[Annotated[int, Field(ge=1, le=65535)], ...] = (443,)
    metrics_from: MetricsFrom | None = None
    """Who may reach the health and metrics port; None: no one (kubelet probes need no rule)."""
    hosting: Hosting = "self"
    """``self``: rendered into your cluster; ``cloud``: ConductorOne runs it (see ``Integration.hosting``)."""
    schedule: str | None = None
    """A cron expression: run one sync per schedule as a CronJob instead of a long-running Deployment."""
    storage: Storage | None = None
    """``/data`` on a PersistentVolumeClaim (default: an emptyDir, lost with the pod)."""
    image_sdk: str | None = None
    """The baton-sdk generation (``"0.25"``) of an upstream ``image``: whether it has a health server to probe and
    which c1z it writes by default."""
    storage_engine: StorageEngine | None = None
    """An upstream image on baton-sdk >= 0.25: ``pebble`` keeps its default c1z v3, which no tool here reads
    (default: ``sqlite``, a c1z v1)."""

    def __init__(self, name: str, /, **settings: Any) -> None:
        try:
            super().__init__(name=name, **settings)
        except ValidationError as exc:
            model = type(self)
            raise spec_error_from(
                exc,
                connector=name if isinstance(name, str) else None,
                fields=[f for f in model.model_fields if f != "name"],
                secret_fields=[s.name for s in model.settings() if s.secret],
            ) from None
        if self.hosting == "cloud":
            self._check_cloud_hosting()
        if self.image_sdk is not None and self.image is None:
            raise SpecError("describes an upstream image; set image= too (the bundled runtime has its own health "
                            "server)", field="image_sdk", connector=self.name)
        if self.storage_engine is not None and not self._sdk_writes_pebble_by_default():
            raise SpecError(f"only an upstream image on baton-sdk >= 0.{PEBBLE_DEFAULT_SDK_MINOR} chooses its c1z "
                            f"storage engine (set image= and image_sdk='0.{PEBBLE_DEFAULT_SDK_MINOR}'); the bundled "
                            "runtime and older SDKs write only a c1z v1", field="storage_engine",
                            connector=self.name)

    def _check_cloud_hosting(self) -> None:
        """A cloud-hosted connector takes only what ConductorOne's resource has an attribute for."""
        info = self.integration
        if "cloud" not in info.hosting:
            raise SpecError(f"{info.name} connectors cannot be cloud-hosted: ConductorOne hosts only its catalog "
                            "integrations (see `iac catalog`); use hosting='self'", field="hosting",
                            connector=self.name)
        specs = {spec.name: spec for spec in type(self).connector_settings()}
        for name in type(self).model_fields:
            if name in ("name", "hosting") or name not in self.model_fields_set:
                continue
            if name in Connector.model_fields:
                raise SpecError("has no meaning for a cloud-hosted connector (ConductorOne runs it, not your "
                                "cluster); remove it or use hosting='self'", field=name, connector=self.name)
            spec = specs.get(name)
            if spec is None or spec.c1 is None:
                raise SpecError(f"cannot be set on a cloud-hosted connector: ConductorOne's {info.c1_resource} has "
                                "no attribute for it; remove it or use hosting='self'", field=name,
                                connector=self.name)
            value = getattr(self, name)
            if isinstance(value, SecretRef) and not isinstance(value, ResolvableSecret):
                raise SpecError(f"{value.describe()} is read inside the cluster, but ConductorOne runs a "
                                "cloud-hosted connector and receives its credentials through a sensitive Terraform "
                                "variable; use secret.env(...) or secret.file(...)", field=name, connector=self.name)

    # -- validation shared by all integrations -------------------------------------------------

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        return check_dns_label(value, "connector name", MAX_CONNECTOR_NAME)

    @field_validator("base_url_override")
    @classmethod
    def _base_url_override(cls, value: str | None) -> str | None:
        return None if value is None else check_https_url(value, "base_url_override")

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c.isspace() for c in value)):
            raise ValueError(f"image {value!r} must be an image reference without spaces")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        return None if value is None else check_schedule(value)

    @field_validator("image_sdk")
    @classmethod
    def _image_sdk(cls, value: str | None) -> str | None:
        if value is not None and not _IMAGE_SDK.match(value):
            raise ValueError(f"image_sdk {value!r} must be the image's baton-sdk minor version like '0.25' "
                             "(its go.mod: github.com/conductorone/baton-sdk v0.25.x)")
        return value

    @field_validator("host_id")
    @classmethod
    def _host_id(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or len(value) > 253):
            raise ValueError("host_id must be a non-empty string of at most 253 characters")
        return value

    # -- derived views -------------------------------------------------------------------------

    @classmethod
    def settings(cls) -> list[SettingSpec]:
        """Every container setting: the integration's own, the common ones, then ConductorOne's."""
        return cls.connector_settings() + conductorone_settings()

    @classmethod
    def connector_settings(cls) -> list[SettingSpec]:
        """The integration's own settings first, then those common to all connectors."""
        return list(_connector_settings(cls))


    def c1_attributes(self) -> list[tuple[SettingSpec, Any]]:
        """(setting, value) of every setting that has a ConductorOne attribute (``Setting(c1=...)``) and a value,
        in declaration order: what ConductorOne receives when it hosts this connector."""
        found = []
        for spec in type(self).connector_settings():
            value = getattr(self, spec.name)
            if spec.c1 is not None and value is not None:
                found.append((spec, list(value) if isinstance(value, tuple) else value))
        return found

    @property
    def runs_upstream_image(self) -> bool:
        """The container runs an image's own baton binary (``image=`` or a Custom connector), not this
        project's runtime."""
        return self.image is not None or not self.integration.bundled_runtime

    def sdk_health_server(self) -> bool:
        """Whether the image serves baton-sdk's health endpoints (``--health-check``): the bundled runtime does,
        an upstream image only from baton-sdk 0.25 (what ``image_sdk`` says; unknown: assume not)."""
        if not self.runs_upstream_image:
            return True
        return self._image_sdk_minor() >= HEALTH_SERVER_SDK_MINOR

    def c1z_storage_engine(self) -> StorageEngine | None:
        """What ``BATON_STORAGE_ENGINE`` the pod gets: ``sqlite`` (a c1z v1, which ``iac connector inspect``,
        ``iac review`` and ``baton`` read) for an upstream image whose SDK writes v3 by default, unless
        ``storage_engine`` says otherwise; None where the image has no choice (no variable an SDK does not know)."""
        if not self._sdk_writes_pebble_by_default():
            return None
        return self.storage_engine or "sqlite"

    def _sdk_writes_pebble_by_default(self) -> bool:
        return self.runs_upstream_image and self._image_sdk_minor() >= PEBBLE_DEFAULT_SDK_MINOR

    def _image_sdk_minor(self) -> int:
        """The minor version of ``image_sdk``; -1 when unknown (assume the oldest generation)."""
        return -1 if self.image_sdk is None else int(self.image_sdk.split(".")[1])

    @property
    def deployment_name(self) -> str:
        return f"baton-{self.name}"

    def env_items(self) -> Iterator[tuple[str, Any]]:
        """(env name, value) for every setting that has a value: plain values or SecretRefs."""
        for spec in type(self).connector_settings():
            value = getattr(self, spec.name)
            if spec.name == "host_id" and value is None:
                value = self.deployment_name
            if value is None or value == ():
                continue
            yield spec.env, value
        yield from self.extra_env_items()

    def extra_env_items(self) -> Iterator[tuple[str, Any]]:
        """Hook for integrations whose env names are user-defined (``Custom``)."""
        return iter(())


@cache
def _connector_settings(cls: type[Connector]) -> tuple[SettingSpec, ...]:
    own: list[SettingSpec] = []
    common: list[SettingSpec] = []
    for name, info in cls.model_fields.items():
        spec = setting_spec(name, info)
        if spec is None:
            continue
        (common if name in Connector.model_fields else own).append(spec)
    return tuple(own + common)


@cache
def _conductorone_settings() -> tuple[SettingSpec, ...]:
    return tuple(s for name, info in ConductorOne.model_fields.items() if (s := setting_spec(name, info)))


def conductorone_settings() -> list[SettingSpec]:
    return list(_conductorone_settings())


def common_env(name: str) -> str:
    """The env name of a setting every connector has (``base_url_override`` → ``BATON_BASE_URL``)."""
    return {s.name: s.env for s in _connector_settings(Connector)}[name]


def conductorone_env(name: str) -> str:
    """The env name of a ConductorOne credential (``client_id`` → ``BATON_CLIENT_ID``)."""
    return {s.name: s.env for s in _conductorone_settings()}[name]


def env_value_items(connector: Connector,
                    default_c1: ConductorOne | ManagedConductorOne | None) -> list[tuple[str, Any]]:
    """All env items of a connector, including its ConductorOne credentials (own or the stack's).

    With a managed stack (:meth:`ConductorOne.managed`) a self-hosted connector's credentials are
    :class:`ConductorOneCredential` references that only `iac synth` can fill; a cloud-hosted connector has none."""
    items = list(connector.env_items())
    if connector.hosting == "cloud":
        return items
    c1 = connector.conductorone or default_c1
    if isinstance(c1, ManagedConductorOne):
        for spec in _conductorone_settings():
            attribute: Literal["client_id", "client_secret"] = "client_id" if spec.name == "client_id" \
                else "client_secret"
            items.append((spec.env, ConductorOneCredential(connector=connector.name, attribute=attribute)))
    elif c1 is not None:
        for spec in _conductorone_settings():
            items.append((spec.env, getattr(c1, spec.name)))
    return items
