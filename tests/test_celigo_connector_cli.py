"""`iac connector celigo ...` as a user runs it: a subprocess against the Celigo simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _connector_cli import iac, pod_env

from iac.sim import CeligoSim, serve
from iac.spec import Celigo


@pytest.fixture
def account() -> Iterator[tuple[CeligoSim, str]]:
    sim = CeligoSim(seed=71, users=150, integrations=6)
    with serve(sim.app) as base:
        yield sim, base


def celigo_env(token: str, base: str, artifact: Path, **extra: str) -> dict[str, str]:
    return pod_env(Celigo, simulator=base, artifact=artifact, access_token=token, region="eu") | extra


def test_sync_then_role_grant_and_revoke_are_gated_idempotent_and_report_json(account: tuple[CeligoSim, str],
                                                                             tmp_path: Path) -> None:
    sim, base = account
    ds = sim.dataset
    env = celigo_env(sim.token, base, tmp_path / "s.sqlite")
    synced = iac("connector", "celigo", "sync", "--output", "json", env=env)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["resources"] == len(ds.ashares) + len(ds.integrations) + 3

    share = next(s for s in ds.ashares if s.access_level == "monitor" and s.integration_access)
    entitlement = "role:administrator:assigned"
    refused = iac("connector", "celigo", "grant", "-e", entitlement, "-p", share.id, env=env)
    assert refused.returncode == 2 and "BATON_PROVISIONING=true" in refused.stderr
    assert sim.writes.entries() == []

    env["BATON_PROVISIONING"] = "true"
    outcomes = []
    for args in (("grant", "-e", entitlement, "-p", share.id), ("grant", "-e", entitlement, "-p", f"user:{share.id}"),
                 ("revoke", "-g", f"{entitlement}:user:{share.id}"), ("revoke", "-g", f"{entitlement}:user:{share.id}")):
        result = iac("connector", "celigo", *args, "--output", "json", env=env)
        assert result.returncode == 0, result.stderr
        outcomes.append(json.loads(result.stdout))
    assert [o["outcome"] for o in outcomes] == ["granted", "already-granted", "revoked", "already-revoked"]
    assert share.access_level is None and share.integration_access  # revoked, not demoted to monitor
    assert [w.method for w in sim.writes.entries()] == ["PUT", "PUT"]


def test_no_token_in_logs_even_at_debug_in_json_and_errors_exit_2(account: tuple[CeligoSim, str],
                                                                  tmp_path: Path) -> None:
    sim, base = account
    sim.set_faults(error_rate=0.2, rate_limit_rate=0.2)  # a handful of requests: faults must show in the logs
    env = celigo_env(sim.token, base, tmp_path / "s.sqlite", BATON_LOG_LEVEL="debug", BATON_LOG_FORMAT="json")
    result = iac("connector", "celigo", "sync", env=env)
    assert result.returncode == 0, result.stderr
    assert sim.fault_plan.injected
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(line["level"] == "debug" for line in lines)
    assert sim.token not in result.stderr + result.stdout
    assert sim.token.encode() not in (tmp_path / "s.sqlite").read_bytes()

    reader = sim.issue_token(admin=False)
    forbidden = iac("connector", "celigo", "sync", env={**env, "BATON_CELIGO_ACCESS_TOKEN": reader})
    assert forbidden.returncode == 2 and "403" in forbidden.stderr and "forbidden" in forbidden.stderr
    assert reader not in forbidden.stderr + forbidden.stdout
