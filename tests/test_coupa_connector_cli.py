"""`iac connector coupa ...` as a user runs it: a subprocess against the Coupa simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from _connector_cli import TokenTap, iac, pod_env

from iac.runtime import Artifact
from iac.sim import CoupaSim, serve
from iac.spec import Coupa

SECRET_SENTINEL = "sentinelCoupaClientSecret4242424242"

@pytest.fixture
def instance() -> Iterator[tuple[CoupaSim, TokenTap, str]]:
    sim = CoupaSim(seed=31, users=150, rate_scale=2, client_secret=SECRET_SENTINEL)
    tap = TokenTap(sim.app, "/oauth2/token")
    with serve(tap) as base:
        yield sim, tap, base


def coupa_env(sim: CoupaSim, base: str, artifact: Path, **extra: str) -> dict[str, str]:
    return pod_env(Coupa, simulator=base, artifact=artifact, domain="acme.coupahost.com", client_id=sim.client_id,
                   client_secret=sim.client_secret, rate_limit_share=1) | extra


def test_sync_then_grant_and_revoke_are_gated_idempotent_and_report_json(
        instance: tuple[CoupaSim, TokenTap, str], tmp_path: Path) -> None:
    sim, _tap, base = instance
    ds = sim.dataset
    env = coupa_env(sim, base, tmp_path / "s.sqlite")
    synced = iac("connector", "coupa", "sync", "--output", "json", env=env)
    assert synced.returncode == 0, synced.stderr
    summary = json.loads(synced.stdout)
    counts = ds.counts()
    assert summary["resources"] == (counts["users"] + counts["roles"] + counts["user_groups"] + 13
                                    + counts["content_groups"] + counts["account_groups"])
    with Artifact(tmp_path / "s.sqlite") as art:
        assert art.latest().stats["grants"]["by_type"]["role"] == counts["role_assignments"]

    user = next(u for u in ds.users if len(u.roles) >= 1)
    role = next(r.id for i, r in enumerate(ds.roles) if i not in user.roles)
    entitlement = f"role:{role}:assigned"
    refused = iac("connector", "coupa", "grant", "-e", entitlement, "-p", str(user.id), env=env)
    assert refused.returncode == 2 and "BATON_PROVISIONING=true" in refused.stderr
    assert sim.writes.entries() == []

    env["BATON_PROVISIONING"] = "true"
    outcomes = []
    for args in (("grant", "-e", entitlement, "-p", str(user.id)), ("grant", "-e", entitlement, "-p", f"user:{user.id}"),
                 ("revoke", "-g", f"{entitlement}:user:{user.id}"), ("revoke", "-g", f"{entitlement}:user:{user.id}")):
        result = iac("connector", "coupa", *args, "--output", "json", env=env)
        assert result.returncode == 0, result.stderr
        outcomes.append(json.loads(result.stdout))
    assert [o["outcome"] for o in outcomes] == ["granted", "already-granted", "revoked", "already-revoked"]
    assert {o["grant_id"] for o in outcomes} == {f"{entitlement}:user:{user.id}"}
    assert len(sim.writes.entries("PUT")) == 2
    assert sorted(ds.user(user.id).roles) == sorted(user.roles)

    unsupported = iac("connector", "coupa", "grant", "-e", "content-group:3:member", "-p", str(user.id), env=env)
    assert unsupported.returncode == 2 and "cannot provision" in unsupported.stderr


def test_no_secret_or_token_in_logs_even_at_debug_in_json(instance: tuple[CoupaSim, TokenTap, str],
                                                          tmp_path: Path) -> None:
    sim, tap, base = instance
    sim.set_faults(error_rate=0.05, rate_limit_rate=0.05)
    env = coupa_env(sim, base, tmp_path / "s.sqlite", BATON_LOG_LEVEL="debug", BATON_LOG_FORMAT="json")
    result = iac("connector", "coupa", "sync", env=env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(line["level"] == "debug" and "access token" in line["msg"] for line in lines)
    assert tap.secrets, "the simulator handed out no token"
    for secret in (SECRET_SENTINEL, *tap.secrets):
        assert secret not in result.stderr and secret not in result.stdout
        assert secret.encode() not in (tmp_path / "s.sqlite").read_bytes()

    wrong = iac("connector", "coupa", "sync", env={**env, "BATON_COUPA_CLIENT_SECRET": "sentinelWrongSecret99"})
    assert wrong.returncode == 2 and "invalid_client" in wrong.stderr
    assert "sentinelWrongSecret99" not in wrong.stderr + wrong.stdout


def test_enable_and_disable_user_are_gated_idempotent_and_change_coupa(
        instance: tuple[CoupaSim, TokenTap, str], tmp_path: Path) -> None:
    sim, _tap, base = instance
    user = next(u for u in sim.dataset.users if u.active)
    env = coupa_env(sim, base, tmp_path / "s.sqlite")
    refused = iac("connector", "coupa", "disable-user", "--user", str(user.id), env=env)
    assert refused.returncode == 2 and "BATON_PROVISIONING=true" in refused.stderr
    env["BATON_PROVISIONING"] = "true"
    outcomes = []
    for command in ("disable-user", "disable-user", "enable-user", "enable-user"):
        result = iac("connector", "coupa", command, "--user", str(user.id), "--output", "json", env=env)
        assert result.returncode == 0, result.stderr
        outcomes.append(json.loads(result.stdout)["outcome"])
        if command == "disable-user":
            assert sim.dataset.user(user.id).active is False
    assert outcomes == ["disabled", "already-disabled", "enabled", "already-enabled"]
    assert sim.dataset.user(user.id).active is True
    okta = iac("connector", "okta", "enable-user", "--user", "00u1", env={
        **env, "BATON_DOMAIN": "acme.okta.com", "BATON_API_TOKEN": "t", "BATON_BASE_URL": base})
    assert okta.returncode == 2 and "cannot enable or disable users" in okta.stderr
