"""The Coupa connector against the Coupa simulator: exact equality with the seeded instance, OAuth token
renewal, documented-limit pacing, faults, and provisioning by complete-list PUTs."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from iac.connectors.coupa import LICENSE_FLAGS, CoupaConnector, CoupaProvisioner, api_base_url, build, token_scopes
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
from iac.runtime.errors import ApiError, AuthError, BadRequestError, ConnectorConfigError, EmptyListingError
from iac.runtime.testing import RecordingTransport
from iac.sim import COUPA_RATE_LIMIT, COUPA_SCOPES, CoupaDataset, CoupaSim, serve
from iac.sim import LICENSE_FLAGS as SIM_LICENSE_FLAGS
from iac.spec import Coupa

Content = dict[str, set[tuple[str, ...]]]


def settings(sim: CoupaSim, base_url: str, **kw: Any) -> RuntimeSettings:
    # The whole documented budget keeps the tests quick; their simulators allow twice that (rate_scale=2), so
    # only the pacing test, at the real limits, is about 429s.
    kw.setdefault("rate_limit_share", 1.0)
    return load_settings(Coupa, environ={}, domain="acme.coupahost.com", client_id=sim.client_id,
                         client_secret=sim.client_secret, base_url_override=base_url, **kw)


def sync(sim: CoupaSim, base_url: str, path: Path, *, wiring: Wiring | None = None, workers: int = 6,
         **kw: Any) -> Content:
    connector = build(settings(sim, base_url, **kw), wiring or Wiring())
    try:
        SyncEngine(connector, path, workers=workers, clock=wiring.clock if wiring else None).run()
    finally:
        connector.close()
    with Artifact(path) as art:
        return art.content()


def expected_grants(ds: CoupaDataset, *, account_groups: bool = True) -> set[str]:
    out = {f"role:{r}:assigned:user:{u}" for u, r in ds.role_assignments()}
    out |= {f"group:{g}:member:user:{u}" for g, u in ds.group_memberships()}
    out |= {f"license:{flag}:assigned:user:{u}" for u, flag in ds.licenses()}
    for user in ds.users:
        out |= {f"content-group:{ds.content_groups[c].id}:member:user:{user.id}" for c in user.content_groups}
        if account_groups:
            out |= {f"account-group:{ds.account_groups[a].id}:member:user:{user.id}" for a in user.account_groups}
    return out


def ids(content: Content, kind: str) -> set[str]:
    return {rid for rtype, rid, _ in content["resources"] if rtype == kind}


@pytest.fixture(scope="module")
def instance() -> Iterator[tuple[CoupaSim, str]]:
    sim = CoupaSim(seed=11, users=420, user_groups=12, content_groups=5, account_groups=4, rate_scale=2)
    with serve(sim.app) as base_url:
        yield sim, base_url


def test_sync_equals_the_seeded_instance_exactly(instance: tuple[CoupaSim, str], tmp_path: Path) -> None:
    sim, base = instance
    ds = sim.dataset
    content = sync(sim, base, tmp_path / "s.sqlite")
    users = {rid: json.loads(data) for rtype, rid, data in content["resources"] if rtype == "user"}
    assert set(users) == {str(u.id) for u in ds.users}
    for user in ds.users:  # active → enabled; identity fields kept
        data = users[str(user.id)]
        assert data["status"] == ("enabled" if user.active else "disabled")
        assert (data["login"], data["emails"]) == (user.login, [user.email])
        assert data["display_name"] == f"{user.firstname} {user.lastname}"
        assert data["profile"]["employee_number"] == user.employee_number
    assert ids(content, "group") == {str(g.id) for g in ds.user_groups}
    assert ids(content, "role") == {str(r.id) for r in ds.roles}
    assert ids(content, "content-group") == {str(c.id) for c in ds.content_groups}
    assert ids(content, "account-group") == {str(a.id) for a in ds.account_groups}
    assert ids(content, "license") == set(LICENSE_FLAGS) == set(SIM_LICENSE_FLAGS)
    assert {gid for gid, _ in content["grants"]} == expected_grants(ds)
    entitlements = {eid for eid, _ in content["entitlements"]}
    assert len(entitlements) == len(ds.user_groups) + len(ds.roles) + len(LICENSE_FLAGS) + len(ds.content_groups) \
        + len(ds.account_groups)
    assert all(eid.endswith((":member", ":assigned")) for eid in entitlements)


def test_one_access_walk_yields_every_grant(instance: tuple[CoupaSim, str], tmp_path: Path) -> None:
    """users / 50 requests for the user list plus as many for all grants (the anchor: one query per role,
    group and license flag)."""
    sim, base = instance
    before = sim.stats.by_endpoint()
    sync(sim, base, tmp_path / "s.sqlite")
    after = sim.stats.by_endpoint()
    calls = {k: sum(v.values()) - sum(before.get(k, {}).values()) for k, v in after.items()}
    pages = math.ceil((len(sim.dataset.users) + 1) / 50)  # 420 users: the 9th page is the short one
    assert calls["GET /api/users"] == 2 * pages
    assert calls.get("GET /api/users/{userId}", 0) == 0
    assert calls["POST /oauth2/token"] == 1  # one token for the whole sync


def test_account_groups_are_left_out_without_the_accounting_scope(tmp_path: Path) -> None:
    sim = CoupaSim(seed=12, rate_scale=2, users=120, client_scopes=COUPA_SCOPES - {"core.accounting.read"})
    with serve(sim.app) as base:
        content = sync(sim, base, tmp_path / "s.sqlite")
    assert ids(content, "account-group") == set()
    assert {gid for gid, _ in content["grants"]} == expected_grants(sim.dataset, account_groups=False)
    assert sim.stats.by_endpoint()["POST /oauth2/token"] == {"400": 1, "200": 1}  # invalid_scope, then without it
    assert "GET /api/account_groups" not in sim.stats.by_endpoint()


@pytest.mark.parametrize("provisioning", [False, True])
def test_the_token_asks_for_write_scopes_only_when_provisioning_is_on(instance: tuple[CoupaSim, str],
                                                                      provisioning: bool) -> None:
    sim, base = instance
    recording = RecordingTransport()
    connector = build(settings(sim, base, provisioning=provisioning), Wiring(transport=recording))
    connector.validate()
    connector.close()
    [token_request] = [r for r in recording.requests if r.url.path == "/oauth2/token"]
    form = parse_qs(token_request.content.decode())
    scopes = set(form["scope"][0].split())
    writes = set(Coupa.integration.write_scopes)
    assert scopes == set(token_scopes(provisioning)) | {"core.accounting.read"}
    assert (writes <= scopes) is provisioning and not (writes & scopes and not provisioning)
    assert form["grant_type"] == ["client_credentials"] and "client_secret" not in form  # sent as HTTP Basic
    assert token_request.headers["authorization"].startswith("Basic ")
    api = [r for r in recording.requests if r.url.path.startswith("/api/")]
    assert api and all(r.headers["accept"] == "application/json" for r in api)
    assert all(r.headers["authorization"].startswith("Bearer ") for r in api)


class ExpireTokens(RecordingTransport):
    """Ends every token the simulator issued once the API has served the given request numbers."""

    def __init__(self, sim: CoupaSim, at: set[int]) -> None:
        super().__init__()
        self.sim = sim
        self.at = at
        self.count = 0

    def before(self, request: httpx.Request) -> None:
        if request.url.path.startswith("/api/"):
            self.count += 1
            if self.count in self.at:
                self.sim.expire_tokens()


def test_token_expiry_mid_sync_is_recovered_by_one_renewal_each_time(tmp_path: Path) -> None:
    sim = CoupaSim(seed=13, rate_scale=2, users=600)
    with serve(sim.app) as base:  # ~28 API requests; the expiries are further apart than the 6 in flight
        content = sync(sim, base, tmp_path / "s.sqlite", wiring=Wiring(transport=ExpireTokens(sim, {4, 18})))
    stats = sim.stats.by_endpoint()
    assert stats["POST /oauth2/token"] == {"200": 3}  # the first token and one renewal per expiry
    assert sum(v.get("401", 0) for v in stats.values()) >= 2
    assert {gid for gid, _ in content["grants"]} == expected_grants(sim.dataset)
    assert ids(content, "user") == {str(u.id) for u in sim.dataset.users}


def test_pacing_keeps_within_the_share_of_25_per_second_without_429s_and_renews_before_expiry(tmp_path: Path) -> None:
    """At Coupa's real limits, in virtual time shared with the simulator: no 429, wall time near the
    floor of the share's budget, and a short-lived token replaced before it expires (no 401)."""
    clock = VirtualClock()
    sim = CoupaSim(seed=14, users=1500, user_groups=60, clock=clock, token_lifetime=20.0)
    with serve(sim.app) as base:
        start = clock.time()
        content = sync(sim, base, tmp_path / "p.sqlite", wiring=Wiring(clock=clock), rate_limit_share=0.5)
        took = clock.time() - start
    stats = sim.stats.by_endpoint()
    statuses = {status for counts in stats.values() for status in counts}
    assert statuses == {"200"}, stats  # not a single 429 and not a single 401
    api = sum(n for endpoint, counts in stats.items() if "/api/" in endpoint for n in counts.values())
    burst, per_second = COUPA_RATE_LIMIT
    floor = (api - burst * 0.5) / (per_second * 0.5)
    assert floor * 0.95 <= took <= floor * 1.15, (took, floor, api)
    assert stats["POST /oauth2/token"]["200"] >= math.floor(took / 20.0) + 1  # renewed as it went
    assert {gid for gid, _ in content["grants"]} == expected_grants(sim.dataset)


def test_sync_survives_injected_faults(tmp_path: Path) -> None:
    sim = CoupaSim(seed=15, rate_scale=2, users=400)
    sim.set_faults(error_rate=0.06, reset_rate=0.04, malformed_page_rate=0.08, rate_limit_rate=0.06)
    with serve(sim.app) as base:
        content = sync(sim, base, tmp_path / "f.sqlite", http_timeout_seconds=1.0)
    assert sum(sim.fault_plan.injected.values()) >= 3, sim.fault_plan.injected
    assert {gid for gid, _ in content["grants"]} == expected_grants(sim.dataset)


def test_a_wrong_client_secret_fails_with_auth_error_and_no_artifact(instance: tuple[CoupaSim, str],
                                                                     tmp_path: Path) -> None:
    sim, base = instance
    connector = build(load_settings(Coupa, environ={}, domain="acme.coupahost.com", client_id=sim.client_id,
                                    client_secret="sentinel-wrong-secret", base_url_override=base), Wiring())
    with pytest.raises(AuthError, match="invalid_client") as info:
        connector.validate()
    assert "sentinel-wrong-secret" not in str(info.value)
    with pytest.raises(AuthError):
        SyncEngine(connector, tmp_path / "x.sqlite").run()
    connector.close()
    assert not (tmp_path / "x.sqlite").exists()


def test_settings_name_the_variable_and_the_domain_must_be_a_coupa_host() -> None:
    with pytest.raises(ConnectorConfigError, match="BATON_COUPA_DOMAIN") as info:
        load_settings(Coupa, environ={"BATON_COUPA_DOMAIN": "acme.example.com", "BATON_COUPA_CLIENT_ID": "c",
                                     "BATON_COUPA_CLIENT_SECRET": "sentinel-s"})
    assert "sentinel-s" not in str(info.value)
    with pytest.raises(ConnectorConfigError, match="BATON_COUPA_CLIENT_SECRET"):
        load_settings(Coupa, environ={"BATON_COUPA_DOMAIN": "acme.coupahost.com", "BATON_COUPA_CLIENT_ID": "c"})
    loaded = load_settings(Coupa, environ={"BATON_COUPA_DOMAIN": "https://Acme.coupahost.com/",
                                           "BATON_COUPA_CLIENT_ID": "c", "BATON_COUPA_CLIENT_SECRET": "s"})
    assert api_base_url(loaded) == "https://acme.coupahost.com"


# -- provisioning -------------------------------------------------------------------------------------


@pytest.fixture
def writable() -> Iterator[tuple[CoupaSim, CoupaConnector]]:
    sim = CoupaSim(seed=21, rate_scale=2, users=80, user_groups=8)
    with serve(sim.app) as base:
        connector = build(settings(sim, base, provisioning=True), Wiring())
        yield sim, connector
        connector.close()


def puts(sim: CoupaSim) -> list[dict[str, Any]]:
    return [w.body for w in sim.writes.entries("PUT")]


@pytest.mark.parametrize(("kind", "key"), [("role", "roles"), ("group", "user-groups")])
def test_list_changes_put_the_complete_list_once_and_are_idempotent(writable: tuple[CoupaSim, CoupaConnector],
                                                                   kind: str, key: str) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    ds = sim.dataset
    attr = "roles" if kind == "role" else "user_groups"
    records = ds.roles if kind == "role" else ds.user_groups
    user = next(u for u in ds.users if len(getattr(u, attr)) >= 2)
    held = [records[i].id for i in getattr(user, attr)]
    new = next(r.id for r in records if r.id not in held)
    principal = ResourceRef("user", str(user.id))
    ent = Entitlement(ResourceRef(kind, str(new)), "assigned" if kind == "role" else "member", "x")

    assert prov.grant(principal, ent).outcome is ProvisionOutcome.GRANTED
    assert prov.grant(principal, ent).outcome is ProvisionOutcome.ALREADY_GRANTED
    revoked = Grant(ent.resource, ent.slug, principal)
    assert prov.revoke(revoked).outcome is ProvisionOutcome.REVOKED
    assert prov.revoke(revoked).outcome is ProvisionOutcome.ALREADY_REVOKED
    first = Grant(ResourceRef(kind, str(held[0])), ent.slug, principal)
    assert prov.revoke(first).outcome is ProvisionOutcome.REVOKED

    bodies = puts(sim)
    assert [sorted(e["id"] for e in b[key]) for b in bodies] == [sorted([*held, new]), sorted(held),
                                                                 sorted(held[1:])]
    assert all(b[key] for b in bodies), "never an empty intermediate list (the anchor emptied it first)"
    assert sorted(records[i].id for i in getattr(ds.user(user.id), attr)) == sorted(held[1:])


def test_revoking_the_last_entry_writes_the_empty_list_once(writable: tuple[CoupaSim, CoupaConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    user = next(u for u in sim.dataset.users if len(u.roles) == 1)
    role = sim.dataset.roles[user.roles[0]].id
    result = prov.revoke(Grant(ResourceRef("role", str(role)), "assigned", ResourceRef("user", str(user.id))))
    assert result.outcome is ProvisionOutcome.REVOKED
    assert puts(sim) == [{"roles": []}] and sim.dataset.user(user.id).roles == ()


def test_license_flags_are_set_and_cleared_idempotently(writable: tuple[CoupaSim, CoupaConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    user = next(u for u in sim.dataset.users if u.active and not u.has_license("sourcing-user"))
    principal = ResourceRef("user", str(user.id))
    ent = Entitlement(ResourceRef("license", "sourcing-user"), "assigned", "x")
    outcomes = [prov.grant(principal, ent).outcome, prov.grant(principal, ent).outcome]
    assert sim.dataset.user(user.id).has_license("sourcing-user")
    grant = Grant(ent.resource, "assigned", principal)
    outcomes += [prov.revoke(grant).outcome, prov.revoke(grant).outcome]
    assert outcomes == [ProvisionOutcome.GRANTED, ProvisionOutcome.ALREADY_GRANTED, ProvisionOutcome.REVOKED,
                        ProvisionOutcome.ALREADY_REVOKED]
    assert not sim.dataset.user(user.id).has_license("sourcing-user")
    assert puts(sim) == [{"sourcing-user": True}, {"sourcing-user": False}]


def test_users_are_enabled_and_disabled_idempotently(writable: tuple[CoupaSim, CoupaConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    user = next(u for u in sim.dataset.users if u.active)
    ref = ResourceRef("user", str(user.id))
    assert [prov.disable_user(ref), prov.disable_user(ref)] == [True, False]
    assert sim.dataset.user(user.id).active is False
    assert [prov.enable_user(ref), prov.enable_user(ref)] == [True, False]
    assert sim.dataset.user(user.id).active is True
    assert puts(sim) == [{"active": False}, {"active": True}]


def test_provisioning_refuses_what_coupa_cannot_do(writable: tuple[CoupaSim, CoupaConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    user = ResourceRef("user", str(sim.dataset.users[0].id))
    cases: list[tuple[ResourceRef, Entitlement, str]] = [
        (ResourceRef("group", "11"), Entitlement(ResourceRef("role", "1"), "assigned", "x"), "user principals"),
        (user, Entitlement(ResourceRef("license", "no-such-user"), "assigned", "x"), "unknown Coupa license"),
        (user, Entitlement(ResourceRef("content-group", "3"), "member", "x"), "cannot provision"),
        (ResourceRef("user", "alice"), Entitlement(ResourceRef("role", "1"), "assigned", "x"), "are numbers"),
        (user, Entitlement(ResourceRef("role", "999999"), "assigned", "x"), "no match"),  # Coupa's 400 surfaces
    ]
    for principal, entitlement, message in cases:
        with pytest.raises(BadRequestError, match=message):
            prov.grant(principal, entitlement)


class DropPutRoles(RecordingTransport):
    """Answers every PUT as if Coupa had kept the user's roles unchanged."""

    def after(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method != "PUT":
            return response
        response.read()
        body = response.json()
        body["roles"] = body["roles"][:-1]
        return httpx.Response(200, json=body)


def test_a_change_coupa_did_not_apply_is_an_error_not_a_success() -> None:
    sim = CoupaSim(seed=22, rate_scale=2, users=30)
    with serve(sim.app) as base:
        connector = build(settings(sim, base, provisioning=True), Wiring(transport=DropPutRoles()))
        prov = connector.provisioner()
        assert isinstance(prov, CoupaProvisioner)
        user = sim.dataset.users[0]
        new = next(r.id for i, r in enumerate(sim.dataset.roles) if i not in user.roles)
        with pytest.raises(ApiError, match="did not apply"):
            prov.grant(ResourceRef("user", str(user.id)), Entitlement(ResourceRef("role", str(new)), "assigned", "x"))
        connector.close()


def test_a_client_that_sees_no_users_fails_the_sync_saying_so(instance: tuple[CoupaSim, str], tmp_path: Path) -> None:
    sim, base = instance

    class NoUsers(RecordingTransport):
        def after(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
            if request.url.path == "/api/users":
                response.close()  # the simulator's own answer is dropped: give its connection back
                return httpx.Response(200, json=[], headers={"content-type": "application/json"})
            return response

    with pytest.raises(EmptyListingError, match=r"Coupa listed no users at all.*core\.user\.read"):
        sync(sim, base, tmp_path / "s.sqlite", wiring=Wiring(transport=NoUsers()))
    assert not (tmp_path / "s.sqlite").exists()
