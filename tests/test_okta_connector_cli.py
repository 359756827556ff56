"""`iac connector okta ...` as a user runs it: a subprocess against the Okta simulator."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _connector_cli import iac, pod_env

from iac.connectors.okta import build
from iac.runtime import Artifact, SyncEngine, Wiring, load_settings, work_path_for
from iac.sim import OktaSim, serve
from iac.spec import Okta

TOKEN_SENTINEL = "00sentinelOktaToken4242424242424242424242"


def okta_env(base: str, artifact: Path, **extra: str) -> dict[str, str]:
    return pod_env(Okta, simulator=base, artifact=artifact, domain="acme.okta.com", api_token=TOKEN_SENTINEL) | extra


@pytest.fixture
def org() -> Iterator[tuple[OktaSim, str]]:
    sim = OktaSim(seed=13, users=1500, groups=30, apps=4, rate_scale=100, token=TOKEN_SENTINEL)
    with serve(sim.app) as base:
        yield sim, base


def library_sync(sim: OktaSim, base: str, path: Path) -> None:
    connector = build(load_settings(Okta, environ={}, domain="acme.okta.com", api_token=sim.token, base_url_override=base),
                      Wiring())
    try:
        SyncEngine(connector, path).run()
    finally:
        connector.close()


def running_progress(partial: Path) -> int:
    """Resources committed by the running sync in a .partial file (0 when none yet)."""
    if not partial.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{partial}?mode=ro", uri=True, timeout=0.2)) as conn:
            row = conn.execute("SELECT COUNT(*) FROM v1_resources WHERE sync_id IN "
                               "(SELECT sync_id FROM v1_sync_runs WHERE ended_at IS NULL)").fetchone()
            return int(row[0])
    except sqlite3.Error:
        return 0


def wait_for(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def test_sigkill_mid_sync_then_resume_equals_a_clean_run(org: tuple[OktaSim, str], tmp_path: Path) -> None:
    sim, base = org
    clean = tmp_path / "clean.sqlite"
    library_sync(sim, base, clean)
    artifact = tmp_path / "data" / "sync.sqlite"
    library_sync(sim, base, artifact)  # a previous good sync, which a crash must not damage
    before = artifact.read_bytes()

    sim.set_faults(latency_ms=40)
    env = okta_env(base, artifact, BATON_WORKERS="2", BATON_CHECKPOINT_INTERVAL="0.1")
    proc = subprocess.Popen([sys.executable, "-m", "iac", "connector", "okta", "sync"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = work_path_for(artifact)
    try:
        wait_for(lambda: running_progress(partial) > 0)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert artifact.read_bytes() == before, "a crash replaced the good artifact"
    assert partial.exists()

    sim.set_faults(latency_ms=0)
    result = iac("connector", "okta", "sync", "--output", "json", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["resumed"] is True
    assert not partial.exists()
    with Artifact(artifact) as a, Artifact(clean) as b:
        assert a.content() == b.content()
        assert len(a.runs()) == 2


class FarReset:
    """ASGI wrapper: every ``X-Rate-Limit-Reset`` becomes 9999999999 (a vendor clock far ahead, or a bogus header)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [(k, b"9999999999" if k.lower() == b"x-rate-limit-reset" else v)
                                                  for k, v in message["headers"]]}
            await send(message)

        await self.app(scope, receive, rewrite if scope["type"] == "http" else send)


def test_sigterm_stops_a_sync_parked_on_a_far_reset_within_seconds_and_it_resumes(tmp_path: Path) -> None:
    """Issue #13: with `X-Rate-Limit-Reset: 9999999999` the sync parked every lane and slept in the engine
    without looking at the stop event; SIGTERM was ignored for 10 minutes."""
    shape: dict[str, Any] = {"seed": 13, "users": 1500, "groups": 30, "apps": 4, "token": TOKEN_SENTINEL}
    slow = OktaSim(**shape, rate_scale=0.02)  # users: 12 a minute, so 6 pages at share 0.5, then the budget is gone
    artifact = tmp_path / "sync.sqlite"
    with serve(FarReset(slow.app)) as base:
        env = okta_env(base, artifact, BATON_WORKERS="4", BATON_CHECKPOINT_INTERVAL="0.2")
        proc = subprocess.Popen([sys.executable, "-m", "iac", "connector", "okta", "sync"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stderr: list[str] = []
        reader = threading.Thread(target=lambda: stderr.extend(proc.stderr or []), daemon=True)
        reader.start()
        try:
            wait_for(lambda: slow.stats.count("GET /api/v1/users") >= 6, timeout=30)
            settled = -1
            while settled != slow.stats.count():  # parked: nothing is sent any more
                settled = slow.stats.count()
                time.sleep(1.0)
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            reader.join(5)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
    assert proc.returncode == 3, "".join(stderr)  # stopped, resumable
    assert took < 5.0, f"SIGTERM took {took:.1f}s"
    assert 1 <= sum("beyond the" in line for line in stderr) <= 8  # the cap is logged once per bucket
    assert work_path_for(artifact).exists() and running_progress(work_path_for(artifact)) > 0

    fast = OktaSim(**shape, rate_scale=100)  # the same org (same seed), with room to finish
    with serve(fast.app) as base:
        clean = tmp_path / "clean.sqlite"
        library_sync(fast, base, clean)
        env = okta_env(base, artifact)
        result = iac("connector", "okta", "sync", "--output", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["resumed"] is True
    with Artifact(artifact) as a, Artifact(clean) as b:
        assert a.content() == b.content()


def test_grant_and_revoke_are_gated_idempotent_and_report_json(org: tuple[OktaSim, str], tmp_path: Path) -> None:
    sim, base = org
    ds = sim.dataset
    group = next(g for g in ds.groups() if g.type == "OKTA_GROUP" and 0 < g.member_count < len(ds.users()))
    user = next(u.id for u in ds.users() if u.id not in ds.group_member_ids(group.id))
    entitlement = f"group:{group.id}:member"
    env = okta_env(base, tmp_path / "s.sqlite")

    refused = iac("connector", "okta", "grant", "-e", entitlement, "-p", user, env=env)
    assert refused.returncode == 2 and "BATON_PROVISIONING=true" in refused.stderr
    assert user not in ds.group_member_ids(group.id)
    assert sim.stats.count("PUT /api/v1/groups/{groupId}/users/{userId}") == 0

    env["BATON_PROVISIONING"] = "true"
    outcomes = []
    for args in (("grant", "-e", entitlement, "-p", user), ("grant", "-e", entitlement, "-p", f"user:{user}"),
                 ("revoke", "-g", f"{entitlement}:user:{user}"), ("revoke", "-g", f"{entitlement}:user:{user}")):
        result = iac("connector", "okta", *args, "--output", "json", env=env)
        assert result.returncode == 0, result.stderr
        outcomes.append(json.loads(result.stdout))
    assert [o["outcome"] for o in outcomes] == ["granted", "already-granted", "revoked", "already-revoked"]
    assert {o["grant_id"] for o in outcomes} == {f"{entitlement}:user:{user}"}
    assert user not in ds.group_member_ids(group.id)

    bad = iac("connector", "okta", "revoke", "-g", "not-a-grant-id", env=env)
    assert bad.returncode == 2 and "not a grant id" in bad.stderr


def test_no_secret_in_logs_even_at_debug_in_json(org: tuple[OktaSim, str], tmp_path: Path) -> None:
    sim, base = org
    sim.set_faults(error_rate=0.05, rate_limit_rate=0.05)
    env = okta_env(base, tmp_path / "s.sqlite", BATON_LOG_LEVEL="debug", BATON_LOG_FORMAT="json",
                   BATON_CLIENT_ID="baton@tenant.conductor.one/abc",
                   BATON_CLIENT_SECRET="sk1:sk2:v1:c2VudGluZWwtY2xpZW50LXNlY3JldA")
    result = iac("connector", "okta", "sync", env=env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines and all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    assert any(line["level"] == "debug" for line in lines)
    for secret in (TOKEN_SENTINEL, "c2VudGluZWwtY2xpZW50LXNlY3JldA"):
        assert secret not in result.stderr and secret not in result.stdout
        assert secret.encode() not in (tmp_path / "s.sqlite").read_bytes()

    wrong = iac("connector", "okta", "sync", env={**env, "BATON_API_TOKEN": "00wrongSentinelToken999"})
    assert wrong.returncode == 2 and "E0000011" in wrong.stderr
    assert "00wrongSentinelToken999" not in wrong.stderr + wrong.stdout


def test_config_errors_exit_2_and_name_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env["BATON_API_TOKEN"] = TOKEN_SENTINEL
    result = iac("connector", "okta", "sync", "--file", str(tmp_path / "s.sqlite"), env=env)
    assert result.returncode == 2 and "BATON_DOMAIN" in result.stderr
    assert TOKEN_SENTINEL not in result.stderr
    flags = iac("connector", "okta", "sync", "--domain", "acme.okta.com", "--rate-limit-share", "2",
                env=env)
    assert flags.returncode == 2 and "BATON_RATE_LIMIT_SHARE" in flags.stderr
