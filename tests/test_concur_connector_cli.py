"""`iac connector concur ...` as a user runs it: a subprocess against the Concur simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _connector_cli import TokenTap, iac, pod_env

from iac.sim import ConcurSim, serve
from iac.spec import Concur

SECRET_SENTINEL = "sentinel-concur-client-secret-4242"


@pytest.fixture
def company() -> Iterator[tuple[ConcurSim, TokenTap, str]]:
    sim = ConcurSim(seed=51, users=300, client_secret=SECRET_SENTINEL, provision_delay=0.2)
    tap = TokenTap(sim.app, "/oauth2/v0/token")
    with serve(tap) as base:
        yield sim, tap, base


def concur_env(sim: ConcurSim, base: str, artifact: Path, **extra: str) -> dict[str, str]:
    return pod_env(Concur, simulator=base, artifact=artifact, base_url="https://us2.api.concursolutions.com",
                   client_id=sim.client_id, client_secret=sim.client_secret, refresh_token=sim.refresh_token) | extra


def test_sync_then_role_grant_and_revoke_are_gated_idempotent_and_report_json(
        company: tuple[ConcurSim, TokenTap, str], tmp_path: Path) -> None:
    sim, _tap, base = company
    ds = sim.dataset
    env = concur_env(sim, base, tmp_path / "s.sqlite")
    synced = iac("connector", "concur", "sync", "--output", "json", env=env)
    assert synced.returncode == 0, synced.stderr
    summary = json.loads(synced.stdout)
    assert summary["grants"] == len(ds.role_assignments()) + len(ds.entitlement_assignments())
    assert "BATON_CONCUR_REFRESH_TOKEN" in synced.stderr  # Concur rotated it: the operator is told

    user = next(u for u in ds.users if "REQ_APPROVER" not in dict(u.roles))
    entitlement = "role:spend:REQ_APPROVER:assigned"
    refused = iac("connector", "concur", "grant", "-e", entitlement, "-p", user.id, env=env)
    assert refused.returncode == 2 and "BATON_PROVISIONING=true" in refused.stderr
    assert sim.writes.entries() == []

    env["BATON_PROVISIONING"] = "true"
    outcomes = []
    for args in (("grant", "-e", entitlement, "-p", user.id), ("grant", "-e", entitlement, "-p", f"user:{user.id}"),
                 ("revoke", "-g", f"{entitlement}:user:{user.id}"), ("revoke", "-g", f"{entitlement}:user:{user.id}")):
        result = iac("connector", "concur", *args, "--output", "json", env=env)
        assert result.returncode == 0, result.stderr
        outcomes.append(json.loads(result.stdout))
    assert [o["outcome"] for o in outcomes] == ["granted", "already-granted", "revoked", "already-revoked"]
    assert len(sim.writes.entries("POST", "/profile/v4/Bulk")) == 2
    assert "REQ_APPROVER" not in dict(ds.user(user.id).roles)


def test_no_secret_or_token_in_logs_even_at_debug_in_json(company: tuple[ConcurSim, TokenTap, str],
                                                          tmp_path: Path) -> None:
    sim, tap, base = company
    original_refresh = sim.refresh_token
    sim.set_faults(error_rate=0.05, rate_limit_rate=0.05)
    env = concur_env(sim, base, tmp_path / "s.sqlite", BATON_LOG_LEVEL="debug", BATON_LOG_FORMAT="json")
    result = iac("connector", "concur", "sync", env=env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(line["level"] == "warning" and "BATON_CONCUR_REFRESH_TOKEN" in line["msg"] for line in lines)
    assert any(line["level"] == "debug" for line in lines)
    assert tap.secrets, "the simulator handed out no token"
    for secret in (SECRET_SENTINEL, original_refresh, *tap.secrets):
        assert secret not in result.stderr and secret not in result.stdout
        assert secret.encode() not in (tmp_path / "s.sqlite").read_bytes()

    wrong = iac("connector", "concur", "sync", env={**env, "BATON_CONCUR_REFRESH_TOKEN": "sentinelWrongRefresh99"})
    assert wrong.returncode == 2 and "invalid_grant" in wrong.stderr
    assert "sentinelWrongRefresh99" not in wrong.stderr + wrong.stdout
