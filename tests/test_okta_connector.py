"""The Okta connector against the Okta simulator: exact equality with the seeded org, filters, pacing,
faults and provisioning."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from iac.connectors.okta import api_base_url, build, okta_bucket
from iac.runtime import (
    Artifact,
    Entitlement,
    Grant,
    ProvisionOutcome,
    ResourceRef,
    RuntimeSettings,
    SyncEngine,
    UserStatus,
    VirtualClock,
    Wiring,
    inspect_view,
    load_settings,
)
from iac.runtime.errors import (
    AuthError,
    BadRequestError,
    ConnectorConfigError,
    EmptyListingError,
    PagingError,
    PermissionDeniedError,
)
from iac.runtime.testing import RecordingTransport
from iac.sim import OKTA_RATE_LIMITS, OktaSim, serve
from iac.spec import Okta


class SharedClock(VirtualClock):
    """One virtual time for the simulator's rate-limit windows and the runtime's pacing."""

    def now(self) -> float:
        return self.time()


@pytest.fixture(scope="module")
def org() -> Iterator[tuple[OktaSim, str]]:
    sim = OktaSim(seed=11, users=600, groups=40, apps=8, rate_scale=100)
    with serve(sim.app) as base_url:
        yield sim, base_url


def settings(sim: OktaSim, base_url: str, **kw: Any) -> RuntimeSettings:
    return load_settings(Okta, environ={}, domain="acme.okta.com", api_token=sim.token, base_url_override=base_url,
                         **kw)


def sync(sim: OktaSim, base_url: str, path: Path, *, wiring: Wiring | None = None, workers: int = 6,
         **kw: Any) -> dict[str, set[tuple[str, ...]]]:
    connector = build(settings(sim, base_url, **kw), wiring or Wiring())
    try:
        SyncEngine(connector, path, workers=workers, clock=wiring.clock if wiring else None).run()
    finally:
        connector.close()
    with Artifact(path) as art:
        return art.content()


def grants_of(content: dict[str, set[tuple[str, ...]]], prefix: str, slug: str, ptype: str) -> set[tuple[str, str]]:
    """{(resource id, principal id)} of grants ``<prefix>:<rid>:<slug>:<ptype>:<pid>``."""
    out = set()
    for gid, _ in content["grants"]:
        if gid.startswith(f"{prefix}:"):
            head, principal_type, principal_id = gid.rsplit(":", 2)
            resource_id, grant_slug = head[len(prefix) + 1:].rsplit(":", 1)
            if grant_slug == slug and principal_type == ptype:
                out.add((resource_id, principal_id))
    return out


def test_sync_equals_the_seeded_org_exactly(org: tuple[OktaSim, str], tmp_path: Path) -> None:
    sim, base = org
    ds = sim.dataset
    content = sync(sim, base, tmp_path / "s.sqlite", sync_custom_roles=True)
    resources = {(r[0], r[1]): r[2] for r in content["resources"]}

    users = ds.users()
    assert {rid for kind, rid in resources if kind == "user"} == {u.id for u in users}
    import json
    for u in users:  # DEPROVISIONED included; status mapped; emails and login kept
        data = json.loads(resources[("user", u.id)])
        assert data["login"] == u.login and data["profile"]["status"] == u.status
        expected_status = {"DEPROVISIONED": "deleted", "STAGED": "disabled", "SUSPENDED": "disabled"}.get(
            u.status, "enabled")
        assert data["status"] == expected_status
        assert data["emails"] == [u.email] + ([u.second_email] if u.second_email else [])
    assert {rid for kind, rid in resources if kind == "group"} == {g.id for g in ds.groups()}
    assert {rid for kind, rid in resources if kind == "app"} == {a.id for a in ds.apps()}

    assert grants_of(content, "group", "member", "user") == ds.memberships(include_everyone=True)
    app_users = {(a.id, u) for a in ds.apps() for u in ds.app_user_ids(a.id)}
    app_groups = {(a.id, g) for a in ds.apps() for g in ds.app_group_ids(a.id)}
    assert grants_of(content, "app", "access", "user") == app_users
    assert grants_of(content, "app", "access", "group") == app_groups

    standard = [a for a in ds.role_assignments() if a.type != "CUSTOM"]
    assert grants_of(content, "role", "assigned", "user") == {
        (a.type, a.principal_id) for a in standard if a.principal_type == "USER"}
    assert grants_of(content, "role", "assigned", "group") == {
        (a.type, a.principal_id) for a in standard if a.principal_type == "GROUP"}
    bindings = ds.binding_members()
    expected_bindings = {(f"{rs}:{role}", m.principal_id, m.principal_type.lower())
                         for (rs, role), members in bindings.items() for m in members}
    found = {(rid, pid, ptype) for ptype in ("user", "group")
             for rid, pid in grants_of(content, "resourceset-binding", "member", ptype)}
    assert found == expected_bindings
    assert {rid for kind, rid in resources if kind == "custom-role"} == {
        role for (_, role) in bindings} | {r for kind, r in resources if kind == "custom-role"}
    # a role held by a group reaches the group's members through `expandable`
    for gid, data in content["grants"]:
        if gid.startswith("role:") and ":group:" in gid:
            assert json.loads(data)["expandable"] == [f"group:{gid.rsplit(':', 1)[1]}:member"]


def test_a_principal_bound_in_two_resource_sets_gets_one_stable_custom_role_grant(tmp_path: Path) -> None:
    """A principal holding one custom role through two resource sets has one `custom-role:…:assigned` grant; its
    content must not depend on which binding's walk wrote it last, or `inspect diff` of an unchanged org shows
    "changed" rows."""
    sim = OktaSim(seed=16, users=200, groups=20, apps=3, rate_scale=100)
    holders: dict[tuple[str, str], set[str]] = {}
    for (resource_set, role), members in sim.dataset.binding_members().items():
        for member in members:
            holders.setdefault((role, member.principal_id), set()).add(resource_set)
    assert any(len(sets) > 1 for sets in holders.values())  # the seeded org has the case
    path = tmp_path / "twice.c1z"
    with serve(sim.app) as base:
        first = sync(sim, base, path, sync_custom_roles=True)
        second = sync(sim, base, path, workers=1, sync_custom_roles=True)  # another order of the binding walks
    assert first == second
    with Artifact(path) as art:
        assert list(inspect_view(art, "diff").rows) == []
    # whichever walk wrote it, the grant names all of the principal's resource sets or none of them
    grants = dict(second["grants"])
    for (role, principal), sets in holders.items():
        if len(sets) > 1:
            data = next(d for gid, d in grants.items()
                        if gid.startswith(f"custom-role:{role}:assigned:") and gid.endswith(f":{principal}"))
            assert len({rs for rs in sets if rs in data}) in (0, len(sets)), data


def test_requests_use_documented_page_maxima_and_skip_empty_groups(org: tuple[OktaSim, str],
                                                                    tmp_path: Path) -> None:
    sim, base = org
    recording = RecordingTransport()
    sync(sim, base, tmp_path / "s.sqlite", wiring=Wiring(transport=recording))
    seen = recording.urls
    limits = {(u.path.rsplit("/", 1)[-1] if "/apps/" in u.path else u.path.split("/")[3], u.params.get("limit"))
              for u in seen if "after" not in u.params}
    assert ("users", "200") in limits and ("groups", "10000") in limits
    assert {"500", "200"} <= {lim for path, lim in limits if path in ("users", "groups") and lim in ("500", "200")}
    empty = [g.id for g in sim.dataset.groups() if g.member_count == 0]
    assert empty, "the seed should have empty groups"
    asked = {u.path for u in seen}
    assert not any(f"/api/v1/groups/{gid}/users" in asked for gid in empty)
    users_pages = [u for u in seen if u.path == "/api/v1/users" and u.params.get("limit") == "200"]
    assert len(users_pages) == math.ceil(len(sim.dataset.users()) / 200)
    with_roles = {a.principal_id for a in sim.dataset.role_assignments() if a.principal_type == "GROUP"
                  and a.type != "CUSTOM"}
    role_calls = {u.path.split("/")[4] for u in seen if u.path.endswith("/roles") and "/groups/" in u.path}
    assert role_calls == with_roles  # groups without an admin role cost no role call


def test_filters_skip_app_groups_inactive_apps_secondary_emails_and_domains(org: tuple[OktaSim, str],
                                                                           tmp_path: Path) -> None:
    sim, base = org
    ds = sim.dataset
    content = sync(sim, base, tmp_path / "f.sqlite", skip_app_groups=True, sync_inactive_apps=False,
                   skip_secondary_emails=True, filter_email_domains="corp.example.com, @Contractors.example.net")
    import json
    resources = {(r[0], r[1]): json.loads(r[2]) for r in content["resources"]}
    kept_users = {u.id for u in ds.users()
                  if any(x and x.rsplit("@", 1)[1] in ("corp.example.com", "contractors.example.net")
                         for x in (u.email, u.second_email, u.login))}
    assert {rid for kind, rid in resources if kind == "user"} == kept_users and kept_users
    assert all(len(resources[("user", u)]["emails"]) == 1 for u in kept_users)
    assert {rid for kind, rid in resources if kind == "group"} == {
        g.id for g in ds.groups() if g.type != "APP_GROUP"}
    assert {rid for kind, rid in resources if kind == "app"} == {a.id for a in ds.apps() if a.status == "ACTIVE"}
    principals = {(gid.rsplit(":", 2)[1], gid.rsplit(":", 1)[1]) for gid, _ in content["grants"]}
    assert {pid for kind, pid in principals if kind == "user"} <= kept_users
    assert not {pid for kind, pid in principals if kind == "group"} & {
        g.id for g in ds.groups() if g.type == "APP_GROUP"}


def test_pacing_stays_within_the_share_without_429s_near_the_floor(tmp_path: Path) -> None:
    clock = SharedClock()
    scale = 0.1  # integral budgets: apps 10/min → 5 per window at share 0.5
    sim = OktaSim(seed=4, users=2000, groups=30, apps=4, rate_scale=scale, clock=clock)
    remaining: dict[str, list[tuple[int, int]]] = {}

    class Spy(RecordingTransport):
        def after(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
            family = okta_bucket(request.method, request.url.path)
            if "x-rate-limit-remaining" in response.headers:
                remaining.setdefault(family, []).append(
                    (int(response.headers["x-rate-limit-limit"]), int(response.headers["x-rate-limit-remaining"])))
            return response

    with serve(sim.app) as base:
        start = clock.time()
        sync(sim, base, tmp_path / "p.sqlite", wiring=Wiring(transport=Spy(), clock=clock), workers=6)
        took = clock.time() - start
    statuses = {status for counts in sim.stats.by_endpoint().values() for status in counts}
    assert statuses == {"200"}, sim.stats.by_endpoint()  # not a single 429
    for family, seen in remaining.items():  # the other half of every bucket stays untouched
        limit = seen[0][0]
        assert min(r for _, r in seen) >= math.floor(limit * 0.5), family
    per_family = {f: len(v) for f, v in remaining.items()}
    floor = max(n / math.floor(OKTA_RATE_LIMITS[f] * scale * 0.5) * 60 for f, n in per_family.items())
    assert took <= floor * 1.15, (took, floor, per_family)


def test_sync_survives_injected_faults(tmp_path: Path) -> None:
    sim = OktaSim(seed=8, users=500, groups=25, apps=5, rate_scale=100)
    sim.set_faults(error_rate=0.05, reset_rate=0.03, malformed_page_rate=0.05, rate_limit_rate=0.03)
    with serve(sim.app) as base:  # a cut connection is noticed by the read timeout
        content = sync(sim, base, tmp_path / "f.sqlite", http_timeout_seconds=1.0)
    injected = sim.fault_plan.injected
    assert sum(injected.values()) >= 5, injected
    assert grants_of(content, "group", "member", "user") == sim.dataset.memberships(include_everyone=True)
    assert grants_of(content, "app", "access", "user") == {
        (a.id, u) for a in sim.dataset.apps() for u in sim.dataset.app_user_ids(a.id)}


def test_a_wrong_token_fails_with_auth_error_and_no_artifact(org: tuple[OktaSim, str], tmp_path: Path) -> None:
    _sim, base = org
    connector = build(load_settings(Okta, environ={}, domain="acme.okta.com", api_token="00-wrong-token",
                                    base_url_override=base), Wiring())
    with pytest.raises(AuthError, match="E0000011"):
        connector.validate()
    with pytest.raises(AuthError):
        SyncEngine(connector, tmp_path / "x.sqlite").run()
    connector.close()
    assert not (tmp_path / "x.sqlite").exists()


def test_a_token_whose_admin_has_no_admin_role_sees_no_users_and_the_sync_fails_saying_so(
        org: tuple[OktaSim, str], tmp_path: Path) -> None:
    """Okta answers /api/v1/users with [] (not 403) when the token's admin holds no admin role."""
    sim, base = org

    class NoAdminRole(RecordingTransport):
        def after(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
            if request.url.path == "/api/v1/users":
                response.close()  # the simulator's own answer is dropped: give its connection back
                return httpx.Response(200, json=[], headers={"content-type": "application/json"})
            return response

    connector = build(settings(sim, base), Wiring(transport=NoAdminRole()))
    try:
        with pytest.raises(EmptyListingError, match=r"no users at all.*administrator role") as info:
            SyncEngine(connector, tmp_path / "s.sqlite").run()
    finally:
        connector.close()
    assert "GET /api/v1/users" in str(info.value)
    assert not (tmp_path / "s.sqlite").exists()


def test_a_group_member_walk_whose_next_link_cycles_is_a_clear_error(org: tuple[OktaSim, str]) -> None:
    sim, base = org
    group = max(sim.dataset.groups(), key=lambda g: g.member_count)

    class Cycling(RecordingTransport):
        """Every page of members links to the next, and the second page back to the first (A→B→A)."""

        def after(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
            if request.url.path.endswith(f"/groups/{group.id}/users"):
                page = "b" if request.url.params.get("after") == "a" else "a"
                link = f'<{base}/api/v1/groups/{group.id}/users?limit=1&after={page}>; rel="next"'
                response.close()  # the simulator's own answer is dropped: give its connection back
                return httpx.Response(200, json=[], headers={"content-type": "application/json", "link": link})
            return response

    transport = Cycling()
    connector = build(settings(sim, base, provisioning=True), Wiring(transport=transport))
    try:
        with pytest.raises(PagingError, match="paging cycle") as info:
            connector.client.is_group_member(group.id, "00u-nobody")
    finally:
        connector.close()
    assert f"GET /api/v1/groups/{group.id}/users" in str(info.value)
    assert len(transport.requests) == 3  # first page, a, b: then a again is refused before it is fetched


def test_settings_errors_name_the_env_var_and_never_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("BATON_DOMAIN", "BATON_API_TOKEN", "BATON_CLIENT_ID", "BATON_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ConnectorConfigError, match="BATON_DOMAIN") as info:
        load_settings(Okta, api_token="sentinel-token-x")
    assert "sentinel-token-x" not in str(info.value)
    with pytest.raises(ConnectorConfigError, match="BATON_DOMAIN"):
        load_settings(Okta, domain="acme.okta.com/path?x=1", api_token="t")
    monkeypatch.setenv("BATON_CLIENT_ID", "baton@tenant.conductor.one/abc")
    monkeypatch.setenv("BATON_CLIENT_SECRET", "sentinel-not-the-shape")
    with pytest.raises(ConnectorConfigError, match="BATON_CLIENT_SECRET") as bad:
        load_settings(Okta, domain="acme.okta.com", api_token="t")
    assert "sentinel-not-the-shape" not in str(bad.value)
    monkeypatch.setenv("BATON_CLIENT_SECRET", "k1:k2:v1:c2VjcmV0LWtleS1ieXRlcw")
    monkeypatch.setenv("BATON_FILTER_EMAIL_DOMAINS", "a.com, B.com")
    monkeypatch.setenv("BATON_SYNC_INACTIVE_APPS", "false")
    s = load_settings(Okta, domain="https://Acme.okta.com/", api_token="t", rate_limit_share=0.25)
    config = s.config_as(Okta)
    assert config.domain == "acme.okta.com" and config.filter_email_domains == ("a.com", "b.com")
    assert config.sync_inactive_apps is False and s.rate_limit_share == 0.25
    assert api_base_url(s) == "https://acme.okta.com"
    with pytest.raises(ConnectorConfigError, match="BATON_RATE_LIMIT_SHARE"):
        load_settings(Okta, domain="acme.okta.com", api_token="t", rate_limit_share=1.5)


def test_bucket_classes_follow_oktas_rate_limit_table() -> None:
    assert okta_bucket("GET", "/api/v1/users") == "users"
    assert okta_bucket("GET", "/api/v1/users/00u1") == "user"
    assert okta_bucket("GET", "/api/v1/users/00u1/roles") == "user-writes"
    assert okta_bucket("GET", "/api/v1/groups") == "groups"
    assert okta_bucket("GET", "/api/v1/groups/00g1/users") == "group"
    assert okta_bucket("GET", "/api/v1/apps") == "apps"
    assert okta_bucket("GET", "/api/v1/apps/0oa1") == "app"
    assert okta_bucket("GET", "/api/v1/apps/0oa1/users") == "apps"
    assert okta_bucket("GET", "/api/v1/iam/assignees/users") == "other"


# -- provisioning -------------------------------------------------------------------------------------


@pytest.fixture
def writable() -> Iterator[tuple[OktaSim, str]]:
    sim = OktaSim(seed=21, users=120, groups=12, apps=4, rate_scale=100)
    with serve(sim.app) as base_url:
        yield sim, base_url


@pytest.fixture
def provisioner(writable: tuple[OktaSim, str]) -> Iterator[Any]:
    sim, base = writable
    connector = build(settings(sim, base, provisioning=True), Wiring())
    prov = connector.provisioner()
    assert prov is not None
    yield prov
    connector.close()


def test_group_membership_grant_and_revoke_are_idempotent(writable: tuple[OktaSim, str], provisioner: Any) -> None:
    sim, _base = writable
    prov = provisioner
    ds = sim.dataset
    group = next(g for g in ds.groups() if g.type == "OKTA_GROUP" and 0 < g.member_count < len(ds.users()))
    user = next(u.id for u in ds.users() if u.id not in ds.group_member_ids(group.id))
    ent = Entitlement(ResourceRef("group", group.id), "member", "member")
    assert prov.grant(ResourceRef("user", user), ent).outcome is ProvisionOutcome.GRANTED
    assert user in ds.group_member_ids(group.id)
    assert prov.grant(ResourceRef("user", user), ent).outcome is ProvisionOutcome.ALREADY_GRANTED
    grant = Grant(ent.resource, "member", ResourceRef("user", user))
    assert prov.revoke(grant).outcome is ProvisionOutcome.REVOKED
    assert user not in ds.group_member_ids(group.id)
    assert prov.revoke(grant).outcome is ProvisionOutcome.ALREADY_REVOKED
    assert sim.stats.count("PUT /api/v1/groups/{groupId}/users/{userId}") == 1
    assert sim.stats.count("DELETE /api/v1/groups/{groupId}/users/{userId}") == 1


def test_app_assignment_for_users_and_groups_is_idempotent(writable: tuple[OktaSim, str], provisioner: Any) -> None:
    sim, _base = writable
    prov = provisioner
    ds = sim.dataset
    app = ds.apps()[0]
    user = next(u.id for u in ds.users() if u.id not in ds.app_user_ids(app.id))
    group = next(g.id for g in ds.groups()[1:] if g.id not in ds.app_group_ids(app.id))
    ent = Entitlement(ResourceRef("app", app.id), "access", "access")
    for principal, members in ((ResourceRef("user", user), ds.app_user_ids),
                               (ResourceRef("group", group), ds.app_group_ids)):
        assert prov.grant(principal, ent).outcome is ProvisionOutcome.GRANTED
        assert principal.id in members(app.id)
        assert prov.grant(principal, ent).outcome is ProvisionOutcome.ALREADY_GRANTED
        grant = Grant(ent.resource, "access", principal)
        assert prov.revoke(grant).outcome is ProvisionOutcome.REVOKED
        assert principal.id not in members(app.id)
        assert prov.revoke(grant).outcome is ProvisionOutcome.ALREADY_REVOKED


def test_role_assignment_for_users_and_groups_is_idempotent(writable: tuple[OktaSim, str], provisioner: Any) -> None:
    sim, _base = writable
    prov = provisioner
    ds = sim.dataset
    held = {(a.principal_id, a.type) for a in ds.role_assignments()}
    user = next(u.id for u in ds.users() if (u.id, "REPORT_ADMIN") not in held)
    group = next(g.id for g in ds.groups()[1:] if (g.id, "REPORT_ADMIN") not in held)
    ent = Entitlement(ResourceRef("role", "REPORT_ADMIN"), "assigned", "assigned")
    for principal in (ResourceRef("user", user), ResourceRef("group", group)):
        assert prov.grant(principal, ent).outcome is ProvisionOutcome.GRANTED
        assert (principal.id, "REPORT_ADMIN") in {(a.principal_id, a.type) for a in ds.role_assignments()}
        assert prov.grant(principal, ent).outcome is ProvisionOutcome.ALREADY_GRANTED
        grant = Grant(ent.resource, "assigned", principal)
        assert prov.revoke(grant).outcome is ProvisionOutcome.REVOKED
        assert (principal.id, "REPORT_ADMIN") not in {(a.principal_id, a.type) for a in ds.role_assignments()}
        assert prov.revoke(grant).outcome is ProvisionOutcome.ALREADY_REVOKED


def test_provisioning_refuses_what_okta_refuses_or_cannot_be_granted(writable: tuple[OktaSim, str], provisioner: Any) -> None:
    sim, _base = writable
    prov = provisioner
    ds = sim.dataset
    app_group = next((g for g in ds.groups() if g.type == "APP_GROUP"), None)
    user = ds.users()[0].id
    if app_group is not None:
        ent = Entitlement(ResourceRef("group", app_group.id), "member", "member")
        if user not in ds.group_member_ids(app_group.id):
            with pytest.raises(PermissionDeniedError, match="E0000006"):
                prov.grant(ResourceRef("user", user), ent)
    with pytest.raises(BadRequestError, match="cannot provision"):
        prov.grant(ResourceRef("user", user), Entitlement(ResourceRef("user", user), "x", "x"))
    with pytest.raises(BadRequestError, match="user principals"):
        prov.grant(ResourceRef("group", ds.groups()[1].id),
                   Entitlement(ResourceRef("group", ds.groups()[2].id), "member", "member"))


def test_user_status_mapping_covers_every_okta_status() -> None:
    from iac.connectors.okta import map_user_status

    assert map_user_status("DEPROVISIONED") is UserStatus.DELETED
    assert map_user_status("STAGED") is UserStatus.DISABLED
    assert map_user_status("SUSPENDED") is UserStatus.DISABLED
    for status in ("ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"):
        assert map_user_status(status) is UserStatus.ENABLED
    assert map_user_status("SOMETHING_NEW") is UserStatus.UNSPECIFIED
