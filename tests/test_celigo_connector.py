"""The Celigo connector against the Celigo simulator: exact equality with the seeded account, Link-header
paging, 429 Retry-After, errors that surface, and account-role provisioning (grant sets the level, revoke
removes the access)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from iac.connectors.celigo import CeligoConnector, api_base_url, build
from iac.connectors.celigo.resources import ROLE_REACH
from iac.runtime import (
    Artifact,
    Entitlement,
    Grant,
    ProvisionOutcome,
    ResourceRef,
    RuntimeSettings,
    SyncEngine,
    VirtualClock,
    Wiring,
    load_settings,
)
from iac.runtime.errors import AuthError, BadRequestError, ConnectorConfigError, NotFoundError, PermissionDeniedError
from iac.runtime.testing import RecordingTransport
from iac.sim import CeligoSim, serve
from iac.spec import Celigo

Content = dict[str, set[tuple[str, ...]]]
LEVEL_SLUG = {"administrator": "manage", "manage": "manage", "monitor": "monitor"}


def settings(token: str, base_url: str, **kw: Any) -> RuntimeSettings:
    return load_settings(Celigo, environ={}, access_token=token, base_url_override=base_url, **kw)


def sync(sim: CeligoSim, base_url: str, path: Path, *, wiring: Wiring | None = None, token: str | None = None,
         **kw: Any) -> Content:
    connector = build(settings(token or sim.token, base_url, **kw), wiring or Wiring())
    try:
        SyncEngine(connector, path, workers=6, clock=wiring.clock if wiring else None).run()
    finally:
        connector.close()
    with Artifact(path) as art:
        return art.content()


def expected_grants(sim: CeligoSim) -> set[str]:
    """Account roles and per-integration access as the account holds them, plus each integration's three
    role edges (an account role reaches every integration by expansion)."""
    ds = sim.dataset
    out = {f"role:{level}:assigned:user:{share}" for share, level in ds.access_levels().items() if level}
    out |= {f"integration:{integration}:{level}:user:{share}" for share, integration, level in ds.integration_grants()}
    for integration in ds.integrations:
        out |= {f"integration:{integration.id}:{slug}:role:{role}" for role, slug in ROLE_REACH.items()}
    return out


def effective(content: Content, share: str, integration: str) -> set[str]:
    """What the user may do on the integration: direct grants, and those reached through a role it holds."""
    grants = {gid: json.loads(data) for gid, data in content["grants"]}
    held = {gid.rsplit(":", 2)[0] for gid in grants if gid.endswith(f":user:{share}")}
    return {gid.split(":")[2] for gid, data in grants.items() if gid.startswith(f"integration:{integration}:")
            and (gid.endswith(f":user:{share}") or set(data.get("expandable", [])) & held)}


@pytest.fixture(scope="module")
def account() -> Iterator[tuple[CeligoSim, str]]:
    sim = CeligoSim(seed=61, users=300, integrations=9)
    with serve(sim.app) as base_url:
        yield sim, base_url


def test_sync_equals_the_seeded_account_exactly(account: tuple[CeligoSim, str], tmp_path: Path) -> None:
    sim, base = account
    ds = sim.dataset
    content = sync(sim, base, tmp_path / "s.sqlite")
    resources = {(t, rid): json.loads(data) for t, rid, data in content["resources"]}
    users = {rid: data for (t, rid), data in resources.items() if t == "user"}
    assert set(users) == {s.id for s in ds.ashares}
    assert ds.owner_email not in {data["login"] for data in users.values()}  # the owner is not a share
    for share in ds.ashares:
        data = users[share.id]
        assert (data["login"], data["display_name"]) == (share.email, share.name)
        assert data["status"] == ("enabled" if share.accepted and not share.disabled else "disabled")
        assert data["profile"]["access_level"] == share.access_level
    assert {rid for (t, rid) in resources if t == "integration"} == {i.id for i in ds.integrations}
    assert {rid for (t, rid) in resources if t == "role"} == {"administrator", "manage", "monitor"}
    assert {gid for gid, _ in content["grants"]} == expected_grants(sim)
    for share in ds.ashares:  # expansion gives each user exactly Celigo's effective access
        for integration in ds.integrations:
            level = share.effective_level(integration.id)
            reached = effective(content, share.id, integration.id)
            assert (level is None and not reached) or LEVEL_SLUG[level] in reached, (share.id, integration.id)
            if level is not None and reached - {LEVEL_SLUG[level]}:  # a lower level alongside a higher one
                assert reached == {"manage", "monitor"}


class CappedPages(RecordingTransport):
    """A server that serves at most ``cap`` records a page, whatever ``limit`` asks for."""

    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def before(self, request: httpx.Request) -> None:
        if "limit" in request.url.params:
            limit = min(int(request.url.params["limit"]), self.cap)
            request.url = request.url.copy_set_param("limit", str(limit))


def test_link_paging_follows_rel_next_to_the_last_page(tmp_path: Path) -> None:
    """Small pages everywhere: every user and every integration past the first page is kept (the anchor
    reused the raw Link header and inverted the integrations' next-page check); the sync asks only the
    documented list endpoints, never the per-integration user lists."""
    sim = CeligoSim(seed=62, users=40, integrations=12)
    capped = CappedPages(cap=5)
    with serve(sim.app) as base:
        content = sync(sim, base, tmp_path / "s.sqlite", wiring=Wiring(transport=capped))
    assert {u.path for u in capped.urls} == {"/v1/ashares", "/v1/integrations"}
    assert {rid for t, rid, _ in content["resources"] if t == "integration"} == {i.id for i in sim.dataset.integrations}
    assert {gid for gid, _ in content["grants"]} == expected_grants(sim)
    pages = [u for u in capped.urls if u.path == "/v1/integrations"]
    assert [u.params.get("skip", "0") for u in pages] == ["0", "5", "10"]
    users = [u for u in capped.urls if u.path == "/v1/ashares"]
    assert len(users) == 2 * 8  # 40 users in pages of 5: the user list and the access walk
    assert {u.params["limit"] for u in capped.urls if u.path.startswith("/v1/")} == {"5"}


def test_429_retry_after_is_honoured_and_the_sync_completes(tmp_path: Path) -> None:
    clock = VirtualClock()
    sim = CeligoSim(seed=63, users=120, integrations=6, clock=clock)
    sim.set_faults(rate_limit_rate=0.3)
    sent: list[tuple[float, int]] = []

    class Timed(CappedPages):  # pages of 10: some 25 requests
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            at = clock.time()
            response = super().handle_request(request)
            sent.append((at, response.status_code))
            return response

    with serve(sim.app) as base:
        content = sync(sim, base, tmp_path / "s.sqlite", wiring=Wiring(transport=Timed(cap=10), clock=clock))
    assert {gid for gid, _ in content["grants"]} == expected_grants(sim)
    limited = [at for at, status in sent if status == 429]
    assert limited, "no 429 was injected"
    for at in limited:  # Retry-After: 1 — nothing was sent in the second after a 429
        assert not [t for t, _ in sent if at < t < at + 1.0], at


def test_errors_surface_instead_of_being_swallowed(account: tuple[CeligoSim, str], tmp_path: Path) -> None:
    sim, base = account
    with pytest.raises(PermissionDeniedError, match="forbidden"):
        sync(sim, base, tmp_path / "x.sqlite", token=sim.issue_token(admin=False))
    assert not (tmp_path / "x.sqlite").exists()
    connector = build(settings("0123456789abcdef0123456789abcdef", base), Wiring())
    with pytest.raises(AuthError, match="unauthorized"):
        connector.validate()
    connector.close()
    connector = build(settings(sim.token, base, provisioning=True), Wiring())
    with pytest.raises(NotFoundError):
        connector.provisioner().grant(ResourceRef("user", "000000000000000000000000"),
                                      Entitlement(ResourceRef("role", "manage"), "assigned", "x"))
    connector.close()


def test_region_picks_the_api_origin_and_nothing_else_is_accepted() -> None:
    assert api_base_url(load_settings(Celigo, environ={"BATON_CELIGO_ACCESS_TOKEN": "t"})) == \
        "https://api.integrator.io"
    assert api_base_url(load_settings(Celigo, environ={"BATON_CELIGO_ACCESS_TOKEN": "t", "BATON_REGION": "eu"})) == \
        "https://api.eu.integrator.io"
    with pytest.raises(ConnectorConfigError, match="BATON_REGION"):
        load_settings(Celigo, environ={"BATON_CELIGO_ACCESS_TOKEN": "sentinel-t", "BATON_REGION": "apac"})


# -- provisioning -------------------------------------------------------------------------------------


@pytest.fixture
def writable() -> Iterator[tuple[CeligoSim, CeligoConnector]]:
    sim = CeligoSim(seed=64, users=60, integrations=5)
    with serve(sim.app) as base:
        connector = build(settings(sim.token, base, provisioning=True), Wiring())
        yield sim, connector
        connector.close()


def test_grant_sets_the_level_and_sends_back_every_other_field(writable: tuple[CeligoSim, CeligoConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    share = next(s for s in sim.dataset.ashares if s.access_level == "monitor" and s.integration_access)
    share.account_mfa_required = True  # a setting a careless full-replace PUT would clear
    integrations = dict(share.integration_access)
    principal = ResourceRef("user", share.id)
    ent = Entitlement(ResourceRef("role", "manage"), "assigned", "x")
    first = prov.grant(principal, ent)
    assert first.outcome is ProvisionOutcome.GRANTED and "monitor → manage" in first.detail
    assert prov.grant(principal, ent).outcome is ProvisionOutcome.ALREADY_GRANTED
    assert (share.access_level, share.integration_access, share.account_mfa_required) == ("manage", integrations, True)
    [put] = sim.writes.entries("PUT")
    assert put.body["accessLevel"] == "manage" and put.body["accountMFARequired"] is True
    assert not {"_id", "sharedWithUser", "userType"} & set(put.body)


def test_revoke_removes_the_account_level_and_keeps_per_integration_access(
        writable: tuple[CeligoSim, CeligoConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    share = next(s for s in sim.dataset.ashares if s.access_level == "monitor" and s.integration_access)
    integrations = dict(share.integration_access)
    grant = Grant(ResourceRef("role", "monitor"), "assigned", ResourceRef("user", share.id))
    result = prov.revoke(grant)
    assert result.outcome is ProvisionOutcome.REVOKED and "per-integration access kept" in result.detail
    assert (share.access_level, share.integration_access) == (None, integrations)
    assert prov.revoke(grant).outcome is ProvisionOutcome.ALREADY_REVOKED
    [put] = sim.writes.entries("PUT")
    assert "accessLevel" not in put.body  # removed — not demoted to monitor as the anchor did


def test_revoking_a_users_only_access_removes_them_from_the_account(
        writable: tuple[CeligoSim, CeligoConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    share = next(s for s in sim.dataset.ashares if s.access_level == "administrator" and not s.integration_access)
    grant = Grant(ResourceRef("role", "administrator"), "assigned", ResourceRef("user", share.id))
    result = prov.revoke(grant)
    assert result.outcome is ProvisionOutcome.REVOKED and "removed from the account" in result.detail
    assert sim.dataset.ashare(share.id) is None
    assert prov.revoke(grant).outcome is ProvisionOutcome.ALREADY_REVOKED  # gone: nothing left to revoke
    assert [w.method for w in sim.writes.entries()] == ["DELETE"]
    assert not [w for w in sim.writes.entries("PUT") if w.body.get("accessLevel") == "monitor"]


def test_revoking_a_level_the_user_does_not_hold_writes_nothing(writable: tuple[CeligoSim, CeligoConnector]) -> None:
    sim, connector = writable
    share = next(s for s in sim.dataset.ashares if s.access_level == "manage")
    result = connector.provisioner().revoke(Grant(ResourceRef("role", "administrator"), "assigned",
                                                  ResourceRef("user", share.id)))
    assert result.outcome is ProvisionOutcome.ALREADY_REVOKED
    assert share.access_level == "manage" and sim.writes.entries() == []


def test_provisioning_refuses_unknown_levels_and_other_entitlements(
        writable: tuple[CeligoSim, CeligoConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    user = ResourceRef("user", sim.dataset.ashares[0].id)
    for principal, entitlement, message in [
        (user, Entitlement(ResourceRef("role", "owner"), "assigned", "x"), "unknown Celigo account role"),
        (user, Entitlement(ResourceRef("integration", sim.dataset.integrations[0].id), "manage", "x"),
         "cannot provision"),
        (ResourceRef("group", "g"), Entitlement(ResourceRef("role", "manage"), "assigned", "x"), "user principals"),
    ]:
        with pytest.raises(BadRequestError, match=message):
            prov.grant(principal, entitlement)
    assert sim.writes.entries() == []


def test_inspect_access_reaches_integrations_through_the_account_role(account: tuple[CeligoSim, str],
                                                                       tmp_path: Path) -> None:
    """`inspect access` expands role grants like Okta's group grants: a share with an account-level role sees,
    per integration, the access that role reaches (via role:<level>), besides its own direct grants."""
    from iac.runtime import inspect_view

    sim, base = account
    path = tmp_path / "s.sqlite"
    content = sync(sim, base, path)
    share = next(s for s in sim.dataset.ashares if s.access_level)
    with Artifact(path) as art:
        rows = list(inspect_view(art, "access", principal=f"user:{share.id}").rows)
    assert [r["via"] for r in rows if r["via"] == "direct"] and rows[0]["via"] == "direct"
    for integration in sim.dataset.integrations:
        shown = {r["slug"] for r in rows if r["resource_type"] == "integration" and r["resource_id"] == integration.id}
        assert shown == effective(content, share.id, integration.id), integration.id
    via_role = {r["via"] for r in rows if r["via"] != "direct"}
    assert via_role == {f"role:{share.access_level}"}
