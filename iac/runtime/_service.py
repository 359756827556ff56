"""Service mode: sync every ``interval``, serve health probes and Prometheus metrics, stop cleanly.

Endpoints on ``BATON_HEALTH_CHECK_BIND_ADDRESS:BATON_HEALTH_CHECK_PORT`` (127.0.0.1:8081 by default;
the rendered manifests set 0.0.0.0 so kubelet probes reach it):

``/live``     200 while the sync loop is making progress (its heartbeat is recent), else 503.
``/ready``    200 once the loop runs and the last sync did not fail on credentials or config.
``/health``   200 when both hold, else 503.
``/metrics``  Prometheus text: sync duration, requests, 429s, retries, last success time.

Probes answer from what the sync loop recorded: they never call the vendor (a probe flood cannot spend the
org's rate limit or lock the token out) and never say why (the reason is in the log, not in an answer any
caller allowed by the NetworkPolicy could read): ``{"status": "ok" | "starting" | "error" | "stalled"}``.

SIGTERM or SIGINT sets the stop event: a running sync stops taking new work, ends every wait at once,
gives requests already sent a moment (the engine's ``stop_grace``), checkpoints (the next start resumes it)
and the process exits 0.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from iac.errors import IacError
from iac.runtime._engine import SyncEngine, SyncResult
from iac.runtime._protocols import RuntimeConnector
from iac.runtime._settings import RuntimeSettings
from iac.runtime._upload import upload_artifact
from iac.runtime.errors import ApiError, AuthError, FatalApiError, SyncInterruptedError

__all__ = ["HealthServer", "Metrics", "ServiceState", "run_service", "stop_on_signals"]

log = logging.getLogger(__name__)


class Metrics:
    """The runtime's Prometheus metrics, in their own registry. Also an :class:`HttpObserver`."""

    def __init__(self, connector: str) -> None:
        self.registry = CollectorRegistry()
        self.connector = connector
        labels = {"connector": connector}
        self.sync_duration = Histogram(
            "baton_sync_duration_seconds", "Duration of complete syncs", ["connector"], registry=self.registry,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)).labels(**labels)
        self.syncs = Counter("baton_syncs_total", "Syncs by outcome", ["connector", "outcome"],
                             registry=self.registry)
        self.requests = Counter("baton_http_requests_total", "Vendor API requests by bucket and status",
                                ["connector", "bucket", "status"], registry=self.registry)
        self.rate_limited = Counter("baton_http_rate_limited_total", "Vendor API responses with HTTP 429",
                                    ["connector", "bucket"], registry=self.registry)
        self.retries = Counter("baton_http_retries_total", "Vendor API retries by reason",
                               ["connector", "reason"], registry=self.registry)
        self.last_success = Gauge("baton_sync_last_success_timestamp_seconds",
                                  "Unix time of the last complete sync", ["connector"],
                                  registry=self.registry).labels(**labels)
        self.objects = Gauge("baton_sync_objects", "Objects in the last complete sync", ["connector", "kind"],
                             registry=self.registry)

    @staticmethod
    def _bucket(bucket: str) -> str:
        return bucket.split(" ", 1)[-1]  # drop the host: one series per rate-limit class

    def on_response(self, bucket: str, method: str, status: int, elapsed: float) -> None:
        b = self._bucket(bucket)
        self.requests.labels(self.connector, b, str(status)).inc()
        if status == 429:
            self.rate_limited.labels(self.connector, b).inc()

    def on_retry(self, bucket: str, reason: str, delay: float) -> None:
        self.retries.labels(self.connector, reason).inc()

    def sync_done(self, result: SyncResult, finished_at: float) -> None:
        self.sync_duration.observe(result.duration)
        self.syncs.labels(self.connector, "success").inc()
        self.last_success.set(finished_at)
        for kind in ("resources", "entitlements", "grants"):
            self.objects.labels(self.connector, kind).set(result.stats[kind]["total"])

    def render(self) -> bytes:
        return generate_latest(self.registry)


@dataclass
class ServiceState:
    """What the probes report; written by the sync loop, read by the health server."""

    started: bool = False
    fatal_error: str | None = None
    heartbeat: float = field(default_factory=time.monotonic)
    live_after: float = 600.0

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def live(self) -> bool:
        return time.monotonic() - self.heartbeat < self.live_after


def health_app(state: ServiceState, metrics: Metrics) -> Starlette:
    async def live(request: Request) -> Response:
        ok = state.live()
        return JSONResponse({"status": "ok" if ok else "stalled"}, status_code=200 if ok else 503)

    async def ready(request: Request) -> Response:
        if not state.started:
            return JSONResponse({"status": "starting"}, status_code=503)
        if state.fatal_error:
            return JSONResponse({"status": "error"}, status_code=503)  # the reason is in the log
        return JSONResponse({"status": "ok"})

    async def health(request: Request) -> Response:
        if not state.live():
            return JSONResponse({"status": "stalled"}, status_code=503)
        return await ready(request)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/live", live), Route("/ready", ready), Route("/health", health),
                             Route("/metrics", metrics_endpoint)])


class HealthServer:
    """uvicorn in a background thread (it installs no signal handlers off the main thread)."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="health-server")

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise IacError("the health server did not start (is the port free?)")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (main thread only); previous handlers come back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("received %s: finishing in-flight work, checkpointing, then exiting",
                 signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_service(connector: RuntimeConnector, settings: RuntimeSettings, metrics: Metrics, *,
                stop: threading.Event | None = None, max_syncs: int | None = None,
                on_ready: Callable[[str], None] | None = None) -> int:
    """Run the sync loop until ``stop``; returns the exit code (0 on a clean stop)."""
    stop = stop or threading.Event()
    state = ServiceState(live_after=max(600.0, 3 * settings.interval))
    server: HealthServer | None = None
    if settings.health_check is not False:
        server = HealthServer(health_app(state, metrics),
                              settings.health_check_bind_address, settings.health_check_port)
        server.start()
        sock = server.server.servers[0].sockets[0].getsockname() if server.server.servers else None
        where = f"{sock[0]}:{sock[1]}" if sock else f"{settings.health_check_bind_address}:" \
                                                     f"{settings.health_check_port}"
        log.info("health and metrics on http://%s (/live /ready /health /metrics)", where)
        if on_ready is not None:
            on_ready(where)
    if settings.client_id:
        log.info("ConductorOne upload is not reachable offline; artifacts stay at %s%s", settings.file,
                 " and are PUT to the configured upload URL" if settings.upload_url else "")
    state.started = True
    runs = 0
    try:
        while not stop.is_set():
            state.beat()
            engine = SyncEngine(connector, settings.file, workers=settings.workers, stop=stop,
                                checkpoint_interval=settings.checkpoint_interval, host_id=settings.host_id,
                                heartbeat=state.beat)
            try:
                result = engine.run()
            except SyncInterruptedError:
                metrics.syncs.labels(metrics.connector, "interrupted").inc()
                break
            except (AuthError, FatalApiError) as exc:
                state.fatal_error = str(exc)
                metrics.syncs.labels(metrics.connector, "failure").inc()
                log.error("sync failed: %s", exc)
            except (ApiError, IacError) as exc:
                metrics.syncs.labels(metrics.connector, "failure").inc()
                log.error("sync failed (will retry next interval): %s", exc)
            else:
                state.fatal_error = None
                metrics.sync_done(result, time.time())
                _maybe_upload(settings, result)
            runs += 1
            if max_syncs is not None and runs >= max_syncs:
                break
            deadline = time.monotonic() + settings.interval
            while not stop.is_set() and time.monotonic() < deadline:
                state.beat()
                stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))
    finally:
        if server is not None:
            server.stop()
    log.info("service stopped")
    return 0


def _maybe_upload(settings: RuntimeSettings, result: SyncResult) -> None:
    if not settings.upload_url:
        return
    token = settings.upload_token.get_secret_value() if settings.upload_token else None
    try:
        upload_artifact(settings.file, settings.upload_url.get_secret_value(), sync_id=result.sync_id, token=token)
    except IacError as exc:
        log.error("artifact upload failed (the artifact stays at %s): %s", settings.file, exc)
