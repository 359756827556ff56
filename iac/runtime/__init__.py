"""The connector runtime: what the bundled baton Deployments run.

Layers: ``_http`` (the only code that paces, sleeps and retries; one module per concern) → connectors' clients →
``_engine`` (lanes, workers, checkpoints) → ``_store`` (the c1z artifact, ``_c1z_codec``). ``_service``
wraps the engine in a loop with health and metrics endpoints; ``_inspect`` reads artifacts for access reviews.
Helpers the HTTP layer plugs in: ``_oauth`` (access tokens renewed before expiry and on a 401),
and ``_poll`` (waiting for a vendor's asynchronous job on the injected clock). ``_clock`` is the
project's one clock, and the stop scope that makes every wait end when a sync is asked to stop.
"""

from __future__ import annotations

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
