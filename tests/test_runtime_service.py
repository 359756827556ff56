"""Service mode as the Deployment runs it: `iac connector okta service` in a subprocess against the
Okta simulator — probes, Prometheus metrics, SIGTERM when idle and mid-sync."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iac.connectors.okta import build
from iac.runtime import Artifact, Metrics, ServiceState, SyncEngine, Wiring, load_settings, work_path_for
from iac.runtime._service import health_app
from iac.sim import OktaSim, serve
from iac.spec import Okta

TOKEN = "00serviceSentinelToken77777777777777777777"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def org() -> Iterator[tuple[OktaSim, str]]:
    sim = OktaSim(seed=17, users=1500, groups=25, apps=4, rate_scale=100, token=TOKEN)
    with serve(sim.app) as base:
        yield sim, base


def start_service(base: str, artifact: Path, port: int, **extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update({"BATON_DOMAIN": "acme.okta.com", "BATON_API_TOKEN": TOKEN, "BATON_BASE_URL": base,
                "BATON_FILE": str(artifact), "BATON_HEALTH_CHECK_PORT": str(port), "BATON_LOG_FORMAT": "json",
                **extra})
    return subprocess.Popen([sys.executable, "-m", "iac", "connector", "okta", "service", "--interval", "1h"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def get(port: int, path: str) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    except httpx.TransportError:
        return None


def wait_until(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    return proc.returncode, stderr


def test_probes_metrics_and_a_clean_sigterm(org: tuple[OktaSim, str], tmp_path: Path) -> None:
    sim, base = org
    sim.set_faults(rate_limit_rate=0.05, error_rate=0.03)
    port = free_port()
    artifact = tmp_path / "sync.sqlite"
    proc = start_service(base, artifact, port)
    try:
        wait_until(lambda: (r := get(port, "/ready")) is not None and r.status_code == 200)
        wait_until(lambda: (r := get(port, "/metrics")) is not None
                   and (metric(r.text, "baton_sync_last_success_timestamp_seconds") or 0) > 0)
        live, health = get(port, "/live"), get(port, "/health")
        assert live is not None and live.status_code == 200
        assert health is not None and health.status_code == 200 and health.json() == {"status": "ok"}
        text = get(port, "/metrics").text  # type: ignore[union-attr]
        assert metric(text, "baton_sync_duration_seconds_count", connector="okta") == 1
        assert (metric(text, "baton_http_requests_total", bucket="users", status="200") or 0) >= 8
        assert metric(text, "baton_syncs_total", outcome="success") == 1
        assert (metric(text, "baton_http_rate_limited_total", bucket="users") or 0) + sum(
            metric(text, "baton_http_rate_limited_total", bucket=b) or 0
            for b in ("groups", "group", "apps", "user-writes", "other")) >= 1
        assert (metric(text, "baton_http_retries_total", reason="rate_limited") or 0) >= 1
        with Artifact(artifact) as art:
            assert metric(text, "baton_sync_objects", kind="grants") == art.stats(art.latest().sync_id)["grants"]["total"]
        assert artifact.exists() and not work_path_for(artifact).exists()
    finally:
        code, stderr = stop(proc)
    assert code == 0, stderr
    assert "service stopped" in stderr and TOKEN not in stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/live", timeout=1)


def test_sigterm_mid_sync_checkpoints_exits_0_and_the_next_run_resumes(org: tuple[OktaSim, str],
                                                                        tmp_path: Path) -> None:
    sim, base = org
    clean = tmp_path / "clean.sqlite"
    connector = build(load_settings(Okta, environ={}, domain="acme.okta.com", api_token=TOKEN, base_url_override=base),
                      Wiring())
    SyncEngine(connector, clean).run()
    connector.close()

    sim.set_faults(latency_ms=40)
    artifact = tmp_path / "sync.sqlite"
    partial = work_path_for(artifact)
    proc = start_service(base, artifact, free_port(), BATON_WORKERS="2", BATON_CHECKPOINT_INTERVAL="0.2")
    try:
        wait_until(lambda: partial.exists() and partial.stat().st_size > 0 and sim.stats.count() > 20)
    finally:
        code, stderr = stop(proc)
    assert code == 0, stderr
    assert not artifact.exists() and partial.exists()  # nothing half-done was published
    messages = [json.loads(line)["msg"] for line in stderr.splitlines() if line.startswith("{")]
    assert any("received SIGTERM" in m for m in messages)

    sim.set_faults(latency_ms=0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env.update({"BATON_DOMAIN": "acme.okta.com", "BATON_API_TOKEN": TOKEN, "BATON_BASE_URL": base,
                "BATON_FILE": str(artifact)})
    result = subprocess.run([sys.executable, "-m", "iac", "connector", "okta", "sync", "-o", "json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["resumed"] is True
    with Artifact(artifact) as a, Artifact(clean) as b:
        assert a.content() == b.content()


def test_bad_credentials_make_ready_and_health_fail_but_not_live(org: tuple[OktaSim, str], tmp_path: Path) -> None:
    _sim, base = org
    port = free_port()
    proc = start_service(base, tmp_path / "s.sqlite", port, BATON_API_TOKEN="00wrongServiceToken1234")
    try:
        wait_until(lambda: (r := get(port, "/ready")) is not None and r.status_code == 503
                   and r.json().get("status") == "error")
        health, ready = get(port, "/health"), get(port, "/ready")
        assert health is not None and health.status_code == 503 and health.json() == {"status": "error"}
        assert ready is not None and ready.json() == {"status": "error"}  # why is in the log, not the answer
        live = get(port, "/live")
        assert live is not None and live.status_code == 200
        metrics = get(port, "/metrics")
        assert metrics is not None and metric(metrics.text, "baton_syncs_total", outcome="failure") == 1
    finally:
        code, stderr = stop(proc)
    assert code == 0
    assert "00wrongServiceToken1234" not in stderr
    assert "E0000011" in stderr  # the detail is logged


def test_health_endpoints_in_process() -> None:
    from starlette.testclient import TestClient

    state = ServiceState(live_after=600)
    app = health_app(state, Metrics("okta"))  # no connector: probes never call the vendor
    with TestClient(app) as client:
        assert client.get("/ready").status_code == 503  # not started yet
        state.started = True
        assert client.get("/ready").json() == {"status": "ok"}
        assert client.get("/health").status_code == 200 and client.get("/health").json() == {"status": "ok"}
        state.fatal_error = "GET /api/v1/users: HTTP 401: Invalid token provided [E0000011]"
        for path in ("/ready", "/health"):
            answer = client.get(path)
            assert answer.status_code == 503 and answer.json() == {"status": "error"}, path
        state.fatal_error = None
        state.heartbeat -= 601
        assert client.get("/live").status_code == 503
        assert client.get("/health").json() == {"status": "stalled"}
        assert "baton_sync_duration_seconds" in client.get("/metrics").text
