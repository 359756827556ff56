"""What the templates see: each connector turned into plain, already-decided values.

Every decision (names, labels, which env goes where, what the checksum covers) is made here in
Python; templates only lay the values out."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iac._version import __version__
from iac.errors import SecretResolutionError, SpecError
from iac.spec import (
    Connector,
    Resources,
    Stack,
    Storage,
    baton_env,
    conductorone_settings,
    env_value_items,
    format_plain,
)
from iac.spec.integrations import Custom
from iac.spec.secret import (
    ConductorOneCredential,
    ExternalSecretRef,
    KubernetesSecretRef,
    ResolvableSecret,
    SecretRef,
)

__all__ = ["DEFAULT_IMAGE", "HEALTH_PORT", "ConnectorContext", "build_context", "check_deployable", "default_image"]

HEALTH_PORT = 8081
DATA_DIR = "/data"
DEFAULT_IMAGE_REPOSITORY = "localhost/baton-iac"
DEFAULT_IMAGE = f"{DEFAULT_IMAGE_REPOSITORY}:{__version__}"


def default_image() -> str:
    """This project's runtime image, tagged with the package version."""
    return DEFAULT_IMAGE


@dataclass(frozen=True)
class KeyRef:
    env: str
    secret: str
    key: str


@dataclass(frozen=True)
class ExternalEntry:
    env: str
    key: str
    property: str | None


@dataclass
class ExternalSecretContext:
    name: str
    store: str
    store_kind: str
    entries: list[ExternalEntry] = field(default_factory=list)


@dataclass(frozen=True)
class StorageContext:
    claim_name: str
    size: str
    storage_class: str | None


@dataclass
class ConnectorContext:
    name: str
    integration: str
    namespace: str
    deployment_name: str
    image: str
    labels: dict[str, str]
    selector: dict[str, str]
    pod_labels: dict[str, str]
    plain_env: list[tuple[str, str]]
    secret_name: str | None
    secret_data: dict[str, str]
    secret_key_refs: list[KeyRef]
    external_secrets: list[ExternalSecretContext]
    secret_checksum: str
    health_port: int | None
    metrics_namespaces: tuple[str, ...]
    """metrics_from: the namespaces whose pods may reach the health port (with metrics_pods: those pods)."""
    metrics_pods: dict[str, str]
    egress_ports: tuple[int, ...]
    resources: dict[str, dict[str, str]]
    schedule: str | None = None
    """A CronJob's schedule; None: a Deployment."""
    cronjob_api_version: str = "batch/v1"
    storage: StorageContext | None = None
    """/data on this PersistentVolumeClaim; None: an emptyDir."""
    working_dir: str | None = None

    @property
    def workload_kind(self) -> str:
        return "CronJob" if self.schedule else "Deployment"


def build_context(stack: Stack, connector: Connector, environ: Mapping[str, str],
                  *, redact_secrets: bool = False, placeholder_credentials: bool = False) -> ConnectorContext:
    """Decide everything about one connector's objects. Resolves ``secret.env``/``file``/``literal``
    from ``environ`` unless ``redact_secrets`` (validation without credentials at hand).

    The ConductorOne credentials of a stack with ``ConductorOne.managed(...)`` exist only in Terraform: they are
    placeholders with ``redact_secrets`` or ``placeholder_credentials`` (validation), else an error."""
    integration = connector.integration
    name = connector.deployment_name
    check_deployable(stack, connector)
    labels = {
        "app": name,
        "app.kubernetes.io/name": f"baton-{integration.name}",
        "app.kubernetes.io/instance": connector.name,
        "app.kubernetes.io/component": "connector",
        "app.kubernetes.io/part-of": stack.name,
        "app.kubernetes.io/managed-by": "iac",
        **stack.labels,
    }
    selector = {"app": name}
    pod_labels = {**labels, "baton": "true", "baton-app": connector.name}

    plain_env: list[tuple[str, str]] = []
    upstream = connector.runs_upstream_image
    if not upstream:
        plain_env.append((baton_env.CONNECTOR, integration.name))
        if connector.schedule:
            plain_env.append((baton_env.MODE, "sync"))
    secret_data: dict[str, str] = {}
    key_refs: list[KeyRef] = []
    externals: dict[tuple[str, str], ExternalSecretContext] = {}

    for env_name, value in env_value_items(connector, stack.conductorone):
        if isinstance(value, ResolvableSecret):
            if redact_secrets:
                secret_data[env_name] = _b64("redacted")
                continue
            try:
                resolved = value.resolve(environ)
            except SecretResolutionError as exc:
                raise SecretResolutionError(exc.message, field=_field_of(connector, env_name),
                                            connector=connector.name, stack=stack.name) from None
            secret_data[env_name] = _b64(resolved.get_secret_value())
        elif isinstance(value, ConductorOneCredential):
            if not (redact_secrets or placeholder_credentials):
                raise SecretResolutionError(value.unavailable().message, field=_field_of(connector, env_name),
                                            connector=connector.name, stack=stack.name)
            secret_data[env_name] = _b64("redacted")
        elif isinstance(value, KubernetesSecretRef):
            key_refs.append(KeyRef(env=env_name, secret=value.name, key=value.key))
        elif isinstance(value, ExternalSecretRef):
            group = externals.setdefault(
                (value.store_kind, value.store),
                ExternalSecretContext(name="", store=value.store, store_kind=value.store_kind),
            )
            group.entries.append(ExternalEntry(env=env_name, key=value.key, property=value.property))
        elif isinstance(value, SecretRef):  # pragma: no cover - every SecretRef kind is handled above
            raise TypeError(f"unhandled secret reference {type(value).__name__}")
        else:
            plain_env.append((env_name, format_plain(value)))

    # A CronJob's run syncs and exits (no probes); an upstream image without baton-sdk's health server gets none.
    if connector.schedule:
        health_port = None
    elif isinstance(connector, Custom):
        health_port = connector.health_port
    else:
        health_port = HEALTH_PORT if connector.sdk_health_server() else None
    if health_port is not None:
        plain_env += [
            (baton_env.HEALTH_CHECK, "true"),
            (baton_env.HEALTH_CHECK_PORT, str(health_port)),
            # baton binds 127.0.0.1 by default, which kubelet probes cannot reach.
            (baton_env.HEALTH_CHECK_BIND_ADDRESS, "0.0.0.0"),
        ]
    # The bundled runtime and the upstream binaries both write a c1z (`iac connector inspect` and `baton` read it).
    plain_env += [(baton_env.FILE, f"{DATA_DIR}/sync.c1z"), (baton_env.LOG_FORMAT, "json")]
    # baton-sdk >= 0.25 writes a c1z v3 (Pebble) by default, which none of our tools nor `baton` reads.
    if (engine := connector.c1z_storage_engine()) is not None:
        plain_env.append((baton_env.STORAGE_ENGINE, engine))

    external_list = list(externals.values())
    for index, group in enumerate(external_list):
        group.name = f"{name}-ext" if len(external_list) == 1 else f"{name}-ext-{index + 1}"
        key_refs += [KeyRef(env=e.env, secret=group.name, key=e.env) for e in group.entries]

    resources = connector.resources or Resources()
    # A CronJob's artifact must outlive the run's pod: it always gets a claim (default size without storage=).
    storage = connector.storage or (Storage() if connector.schedule else None)
    return ConnectorContext(
        name=connector.name,
        integration=integration.name,
        namespace=stack.namespace,
        deployment_name=name,
        image=connector.image or stack.image or default_image(),
        labels=labels,
        selector=selector,
        pod_labels=pod_labels,
        plain_env=plain_env,
        secret_name=name if secret_data else None,
        secret_data=secret_data,
        secret_key_refs=key_refs,
        external_secrets=external_list,
        secret_checksum=_checksum(stack, connector, secret_data, key_refs, external_list),
        health_port=health_port,
        metrics_namespaces=connector.metrics_from.namespaces if connector.metrics_from else (),
        metrics_pods=connector.metrics_from.pods if connector.metrics_from else {},
        egress_ports=connector.egress_ports,
        resources={"requests": resources.requests, "limits": resources.limits},
        schedule=connector.schedule,
        cronjob_api_version=stack.cronjob_api_version(),
        storage=None if storage is None else StorageContext(claim_name=f"{name}-data", size=storage.size,
                                                            storage_class=storage.storage_class),
        working_dir=DATA_DIR if upstream else None,
    )


def check_deployable(stack: Stack, connector: Connector) -> None:
    """An upstream image without ConductorOne credentials syncs once and exits 0: as a Deployment, Kubernetes
    would restart it forever, spending the vendor's rate limit on every restart."""
    if connector.runs_upstream_image and connector.schedule is None and \
            connector.conductorone is None and stack.conductorone is None:
        raise SpecError(f"the upstream image {connector.image} syncs once and exits without ConductorOne "
                        "credentials, so a Deployment would restart it forever; set schedule='0 */6 * * *' (a "
                        "CronJob) or conductorone=ConductorOne(...)", field="image", connector=connector.name,
                        stack=stack.name)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _field_of(connector: Connector, env_name: str) -> str:
    for spec in conductorone_settings():
        if spec.env == env_name:
            return f"conductorone.{spec.name}"
    for spec in type(connector).connector_settings():
        if spec.env == env_name:
            return spec.name
    if isinstance(connector, Custom):
        return f"secret_env[{env_name!r}]"
    return env_name


def _checksum(stack: Stack, connector: Connector, secret_data: dict[str, str], key_refs: list[KeyRef],
              externals: list[ExternalSecretContext]) -> str:
    # Namespace and name salt the hash so equal credentials in two connectors hash differently.
    material: dict[str, Any] = {
        "object": f"{stack.namespace}/{connector.deployment_name}",
        "data": secret_data,
        "refs": [(r.env, r.secret, r.key) for r in key_refs],
        "external": [(e.store_kind, e.store, [(x.env, x.key, x.property) for x in e.entries]) for e in externals],
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()
    return f"sha256:{digest}"
