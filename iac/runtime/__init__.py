"""The connector runtime: what the bundled baton Deployments run.

Layers: ``_http`` (the only code that paces, sleeps and retries; one module per concern) → connectors' clients →
``_engine`` (lanes, workers, checkpoints) → ``_store`` (the c1z artifact, ``_c1z_codec``). ``_service``
wraps the engine in a loop with health and metrics endpoints; ``_inspect`` reads artifacts for access reviews.
Helpers the HTTP layer plugs in: ``_oauth`` (access tokens renewed before expiry and on a 401),
and ``_poll`` (waiting for a vendor's asynchronous job on the injected clock). ``_clock`` is the
project's one clock, and the stop scope that makes every wait end when a sync is asked to stop.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iac.runtime._clock import Clock, SystemClock, VirtualClock
    from iac.runtime._engine import SyncEngine, SyncResult
    from iac.runtime._http import (
        Authenticator,
        BucketBusy,
        BucketLimit,
        BucketView,
        CountingObserver,
        HttpClient,
        HttpClientFactory,
        HttpObserver,
        LimitedPacer,
        Pacer,
        RateLimitInfo,
        RetryPolicy,
        deferring,
        json_object_body,
        next_link,
        parse_rate_limit,
    )
    from iac.runtime._inspect import VIEWS, View, cell, inspect_view
    from iac.runtime._logging import configure_logging, redact, register_secret
    from iac.runtime._models import (
        Entitlement,
        Grant,
        Page,
        Resource,
        ResourceRef,
        ResourceType,
        Trait,
        UserStatus,
        parse_entitlement_id,
        parse_grant_id,
    )
    from iac.runtime._oauth import AccessToken, TokenProvider, TokenResponse, request_token
    from iac.runtime._poll import poll_until
    from iac.runtime._protocols import (
        Provisioner,
        ProvisionerRouter,
        ProvisionOutcome,
        ProvisionResult,
        ResourceSyncer,
        RuntimeConnector,
        TypeGrantsSyncer,
        UserStatusProvisioner,
        provision_once,
        write_once,
    )
    from iac.runtime._registry import ConnectorEntry, Wiring
    from iac.runtime._review import GENERIC_REVIEW, Inactive, Privileged, ReviewFacts
    from iac.runtime._service import HealthServer, Metrics, ServiceState, run_service, stop_on_signals
    from iac.runtime._settings import RuntimeSettings, comma_list, connector_config, load_settings, parse_duration
    from iac.runtime._store import SCHEMA_VERSION, Artifact, SyncRun, WorkingStore, work_path_for
    from iac.runtime._upload import upload_artifact

# Imported on first use (PEP 562): a process that needs one part (the store's process, a CLI command) does
# not pay for the others.
_EXPORTS = {
    "Clock": "iac.runtime._clock",
    "SystemClock": "iac.runtime._clock",
    "VirtualClock": "iac.runtime._clock",
    "SyncEngine": "iac.runtime._engine",
    "SyncResult": "iac.runtime._engine",
    "Authenticator": "iac.runtime._http",
    "BucketBusy": "iac.runtime._http",
    "BucketLimit": "iac.runtime._http",
    "BucketView": "iac.runtime._http",
    "CountingObserver": "iac.runtime._http",
    "HttpClient": "iac.runtime._http",
    "HttpClientFactory": "iac.runtime._http",
    "HttpObserver": "iac.runtime._http",
    "LimitedPacer": "iac.runtime._http",
    "Pacer": "iac.runtime._http",
    "RateLimitInfo": "iac.runtime._http",
    "RetryPolicy": "iac.runtime._http",
    "deferring": "iac.runtime._http",
    "json_object_body": "iac.runtime._http",
    "next_link": "iac.runtime._http",
    "parse_rate_limit": "iac.runtime._http",
    "VIEWS": "iac.runtime._inspect",
    "View": "iac.runtime._inspect",
    "cell": "iac.runtime._inspect",
    "inspect_view": "iac.runtime._inspect",
    "configure_logging": "iac.runtime._logging",
    "redact": "iac.runtime._logging",
    "register_secret": "iac.runtime._logging",
    "Entitlement": "iac.runtime._models",
    "Grant": "iac.runtime._models",
    "Page": "iac.runtime._models",
    "Resource": "iac.runtime._models",
    "ResourceRef": "iac.runtime._models",
    "ResourceType": "iac.runtime._models",
    "Trait": "iac.runtime._models",
    "UserStatus": "iac.runtime._models",
    "parse_entitlement_id": "iac.runtime._models",
    "parse_grant_id": "iac.runtime._models",
    "AccessToken": "iac.runtime._oauth",
    "TokenProvider": "iac.runtime._oauth",
    "TokenResponse": "iac.runtime._oauth",
    "request_token": "iac.runtime._oauth",
    "poll_until": "iac.runtime._poll",
    "Provisioner": "iac.runtime._protocols",
    "ProvisionerRouter": "iac.runtime._protocols",
    "ProvisionOutcome": "iac.runtime._protocols",
    "ProvisionResult": "iac.runtime._protocols",
    "ResourceSyncer": "iac.runtime._protocols",
    "RuntimeConnector": "iac.runtime._protocols",
    "TypeGrantsSyncer": "iac.runtime._protocols",
    "UserStatusProvisioner": "iac.runtime._protocols",
    "provision_once": "iac.runtime._protocols",
    "write_once": "iac.runtime._protocols",
    "ConnectorEntry": "iac.runtime._registry",
    "Wiring": "iac.runtime._registry",
    "GENERIC_REVIEW": "iac.runtime._review",
    "Inactive": "iac.runtime._review",
    "Privileged": "iac.runtime._review",
    "ReviewFacts": "iac.runtime._review",
    "HealthServer": "iac.runtime._service",
    "Metrics": "iac.runtime._service",
    "ServiceState": "iac.runtime._service",
    "run_service": "iac.runtime._service",
    "stop_on_signals": "iac.runtime._service",
    "RuntimeSettings": "iac.runtime._settings",
    "comma_list": "iac.runtime._settings",
    "connector_config": "iac.runtime._settings",
    "load_settings": "iac.runtime._settings",
    "parse_duration": "iac.runtime._settings",
    "SCHEMA_VERSION": "iac.runtime._store",
    "Artifact": "iac.runtime._store",
    "SyncRun": "iac.runtime._store",
    "WorkingStore": "iac.runtime._store",
    "work_path_for": "iac.runtime._store",
    "upload_artifact": "iac.runtime._upload",
}

__all__ = [
    "GENERIC_REVIEW",
    "SCHEMA_VERSION",
    "VIEWS",
    "AccessToken",
    "Artifact",
    "Authenticator",
    "BucketBusy",
    "BucketLimit",
    "BucketView",
    "Clock",
    "ConnectorEntry",
    "CountingObserver",
    "Entitlement",
    "Grant",
    "HealthServer",
    "HttpClient",
    "HttpClientFactory",
    "HttpObserver",
    "Inactive",
    "LimitedPacer",
    "Metrics",
    "Pacer",
    "Page",
    "Privileged",
    "ProvisionOutcome",
    "ProvisionResult",
    "Provisioner",
    "ProvisionerRouter",
    "RateLimitInfo",
    "Resource",
    "ResourceRef",
    "ResourceSyncer",
    "ResourceType",
    "RetryPolicy",
    "ReviewFacts",
    "RuntimeConnector",
    "RuntimeSettings",
    "ServiceState",
    "SyncEngine",
    "SyncResult",
    "SyncRun",
    "SystemClock",
    "TokenProvider",
    "TokenResponse",
    "Trait",
    "TypeGrantsSyncer",
    "UserStatus",
    "UserStatusProvisioner",
    "View",
    "VirtualClock",
    "Wiring",
    "WorkingStore",
    "cell",
    "comma_list",
    "configure_logging",
    "connector_config",
    "deferring",
    "inspect_view",
    "json_object_body",
    "load_settings",
    "next_link",
    "parse_duration",
    "parse_entitlement_id",
    "parse_grant_id",
    "parse_rate_limit",
    "poll_until",
    "provision_once",
    "redact",
    "register_secret",
    "request_token",
    "run_service",
    "stop_on_signals",
    "upload_artifact",
    "work_path_for",
    "write_once",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
