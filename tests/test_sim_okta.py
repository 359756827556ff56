"""The Okta simulator: paging, caps, errors, rate limits, writes, faults, spec conformance, scale, CLI."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _sim_helpers import OKTA_SPEC, iac_sim, okta_openapi, require_spec, validate_response
from openapi_core.validation.response.exceptions import InvalidData

from iac.sim import OKTA_PAGE_SIZES, FaultSettings, ManualClock, OktaDataset, OktaSim, serve
from iac.sim._faults import Fault, FaultPlan
from iac.sim._okta_data import APP_SIGN_ON_MODES

SEED = 20260601


@pytest.fixture(scope="module")
def sim() -> OktaSim:
    """A read-only org shared by the tests that do not change state."""
    return OktaSim(seed=SEED, users=300, groups=40, apps=12)


@pytest.fixture(scope="module")
def client(sim: OktaSim) -> Iterator[httpx.Client]:
    with serve(sim.app) as base_url, httpx.Client(base_url=base_url, headers=sim.auth_headers) as c:
        yield c


def fresh(**kwargs: Any) -> OktaSim:
    return OktaSim(**{"seed": SEED, "users": 300, "groups": 40, "apps": 12, **kwargs})


def follow_pages(c: httpx.Client, path: str, params: dict[str, Any] | None = None,
                 ) -> tuple[list[dict[str, Any]], list[httpx.Response]]:
    """Every item of a list, following rel="next" URLs exactly as given."""
    items: list[dict[str, Any]] = []
    pages: list[httpx.Response] = []
    response = c.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response)
        items.extend(response.json())
        next_url = response.links.get("next", {}).get("url")
        if not next_url:
            return items, pages
        response = c.get(next_url)


def okta_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}
    assert body["errorCode"] == code and body["errorLink"] == code
    assert isinstance(body["errorCauses"], list)
    return dict(body)


def ok_group(sim: OktaSim) -> str:
    """An editable group that has members and non-members."""
    return next(g.id for g in sim.dataset.groups()
                if g.type == "OKTA_GROUP" and 2 < g.member_count < sim.dataset.user_count)


# ---- paging -----------------------------------------------------------------------------------


def test_user_pages_return_every_user_exactly_once(sim: OktaSim, client: httpx.Client) -> None:
    items, pages = follow_pages(client, "/api/v1/users", {"search": "status pr", "limit": 37})
    ids = [u["id"] for u in items]
    assert len(ids) == len(set(ids)) == 300
    assert set(ids) == {u.id for u in sim.dataset.users()}
    assert [len(p.json()) for p in pages] == [37] * 8 + [4]
    assert "next" not in pages[-1].links
    assert {"ACTIVE", "DEPROVISIONED", "STAGED", "SUSPENDED", "PROVISIONED"} <= {u["status"] for u in items}
    # Okta sends one Link header line per relation, and echoes the query in rel="self".
    assert len(pages[1].headers.get_list("link")) == 2
    assert "search=status+pr" in pages[0].links["self"]["url"] and "limit=37" in pages[0].links["self"]["url"]


def test_cursors_are_opaque_and_only_valid_for_their_list(sim: OktaSim, client: httpx.Client) -> None:
    first = client.get("/api/v1/users", params={"search": "status pr", "limit": 5})
    cursor = httpx.URL(first.links["next"]["url"]).params["after"]
    last_id = first.json()[-1]["id"]
    assert not cursor.isdigit() and last_id not in cursor  # neither an offset nor the last id
    second_cursor = httpx.URL(client.get(first.links["next"]["url"]).links["next"]["url"]).params["after"]
    assert len(cursor) == len(second_cursor) and cursor[:4] != second_cursor[:4]  # no readable counter

    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    err = okta_error(client.get("/api/v1/users", params={"limit": 5, "after": tampered}), 400, "E0000001")
    assert "after" in err["errorSummary"]
    group = ok_group(sim)
    okta_error(client.get(f"/api/v1/groups/{group}/users", params={"after": cursor}), 400, "E0000001")


def test_default_user_list_leaves_out_deprovisioned_users(sim: OktaSim, client: httpx.Client) -> None:
    items, _ = follow_pages(client, "/api/v1/users")
    expected = {u.id for u in sim.dataset.users() if u.status != "DEPROVISIONED"}
    assert {u["id"] for u in items} == expected and len(expected) < 300
    active, _ = follow_pages(client, "/api/v1/users", {"filter": 'status eq "SUSPENDED"'})
    assert {u["id"] for u in active} == {u.id for u in sim.dataset.users() if u.status == "SUSPENDED"}
    okta_error(client.get("/api/v1/users", params={"search": "profile.zodiac eq \"leo\""}), 400, "E0000031")


def test_group_members_pages_match_ground_truth(sim: OktaSim, client: httpx.Client) -> None:
    for group in sim.dataset.groups()[:12]:
        items, _ = follow_pages(client, f"/api/v1/groups/{group.id}/users", {"limit": 25})
        assert [u["id"] for u in items] == sim.dataset.group_member_ids(group.id)


def test_page_size_caps_and_floors_per_endpoint(sim: OktaSim, client: httpx.Client) -> None:
    users = client.get("/api/v1/users", params={"search": "status pr", "limit": 1000})
    assert len(users.json()) == OKTA_PAGE_SIZES["users"].maximum == 200 and "next" in users.links
    assert len(client.get("/api/v1/users", params={"search": "status pr"}).json()) == 200  # default
    app = next(a for a in sim.dataset.apps() if len(sim.dataset.app_user_ids(a.id)) > 60)
    assert len(client.get(f"/api/v1/apps/{app.id}/users").json()) == 50  # default
    assert len(client.get(f"/api/v1/apps/{app.id}/users", params={"limit": 9}).json()) == 9
    all_apps = client.get("/api/v1/apps")  # default limit -1: everything, no paging
    assert len(all_apps.json()) == 12 and "next" not in all_apps.links
    assert len(client.get("/api/v1/apps", params={"limit": 500}).json()) == 12
    assert len(client.get("/api/v1/apps", params={"limit": 5}).json()) == 5
    okta_error(client.get("/api/v1/users", params={"limit": "many"}), 400, "E0000001")
    # Caps that a 300-user org cannot reach over HTTP are checked on the rules themselves.
    assert OKTA_PAGE_SIZES["group-users"].resolve("5000") == 1000
    assert OKTA_PAGE_SIZES["groups"].resolve(None) == 10_000
    assert OKTA_PAGE_SIZES["app-users"].resolve("2000") == 500
    assert OKTA_PAGE_SIZES["app-groups"].resolve("1") == 20
    assert OKTA_PAGE_SIZES["app-groups"].resolve("999") == 200
    assert OKTA_PAGE_SIZES["apps"].resolve("-1") is None


def test_groups_expand_stats_and_types(sim: OktaSim, client: httpx.Client) -> None:
    groups, _ = follow_pages(client, "/api/v1/groups", {"expand": "stats", "limit": 7})
    truth = {g.id: g for g in sim.dataset.groups()}
    assert {g["id"] for g in groups} == set(truth)
    apps_of = Counter(gid for app in sim.dataset.apps() for gid in sim.dataset.app_group_ids(app.id))
    for g in groups:
        assert g["_embedded"]["stats"]["usersCount"] == truth[g["id"]].member_count
        assert g["_embedded"]["stats"]["appsCount"] == apps_of[g["id"]]
    assert sum(apps_of.values()) > 0
    assert {g["type"] for g in groups} == {"OKTA_GROUP", "APP_GROUP", "BUILT_IN"}
    assert any(g["_embedded"]["stats"]["usersCount"] == 0 for g in groups)  # connectors skip these
    assert "_embedded" not in client.get("/api/v1/groups", params={"limit": 1}).json()[0]
    app_groups = client.get("/api/v1/groups", params={"filter": 'type eq "APP_GROUP"'}).json()
    assert app_groups and {g["type"] for g in app_groups} == {"APP_GROUP"}


def test_apps_filter_active(sim: OktaSim, client: httpx.Client) -> None:
    active = client.get("/api/v1/apps", params={"filter": 'status eq "ACTIVE"'}).json()
    expected = [a.id for a in sim.dataset.apps() if a.status == "ACTIVE"]
    assert [a["id"] for a in active] == expected and 0 < len(expected) < 12


def test_iam_lists_page_through_bindings_and_assignees(sim: OktaSim, client: httpx.Client) -> None:
    assignees = client.get("/api/v1/iam/assignees/users").json()
    holders = {a.principal_id for a in sim.dataset.role_assignments() if a.principal_type == "USER"}
    assert {v["id"] for v in assignees["value"]} == holders
    roles = client.get("/api/v1/iam/roles").json()["roles"]
    assert [r["id"] for r in roles] == [r.id for r in sim.dataset.custom_roles]
    truth = sim.dataset.binding_members()
    seen: dict[tuple[str, str], list[str]] = {}
    for rs in client.get("/api/v1/iam/resource-sets").json()["resource-sets"]:
        for binding in client.get(f"/api/v1/iam/resource-sets/{rs['id']}/bindings").json()["roles"]:
            body = client.get(binding["_links"]["members"]["href"]).json()
            seen[(rs["id"], binding["id"])] = [m["id"] for m in body["members"]]
    assert seen == {key: [m.id for m in members] for key, members in truth.items()}


# ---- auth and errors --------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "SSWS wrong"}, {"Authorization": "Bearer x"}])
def test_bad_or_missing_token_gets_401_E0000011(client: httpx.Client, headers: dict[str, str]) -> None:
    response = httpx.get(f"{client.base_url}/api/v1/users", headers=headers)
    body = okta_error(response, 401, "E0000011")
    assert body["errorSummary"] == "Invalid token provided"
    assert "x-rate-limit-remaining" not in response.headers


def test_unknown_resources_get_404_E0000007(sim: OktaSim, client: httpx.Client) -> None:
    for path, ident in [("/api/v1/users/00uNOSUCHUSER0000000", "00uNOSUCHUSER0000000"),
                        ("/api/v1/groups/00gNOSUCHGROUP000000/users", "00gNOSUCHGROUP000000"),
                        ("/api/v1/apps/0oaNOSUCHAPP00000000/users", "0oaNOSUCHAPP00000000")]:
        body = okta_error(client.get(path), 404, "E0000007")
        assert body["errorSummary"].startswith("Not found: Resource not found: ")
        assert ident in body["errorSummary"]
    login = sim.dataset.users()[3].login
    assert client.get(f"/api/v1/users/{login}").json()["profile"]["login"] == login


# ---- rate limits ------------------------------------------------------------------------------


def test_rate_limit_counts_down_then_429_then_recovers_after_reset() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(rate_scale=0.03, clock=clock)  # apps: 100/min -> 3; users: 600/min -> 18
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        seen = [c.get("/api/v1/apps") for _ in range(3)]
        assert [r.headers["x-rate-limit-remaining"] for r in seen] == ["2", "1", "0"]
        assert {r.headers["x-rate-limit-limit"] for r in seen} == {"3"}
        assert {r.headers["x-rate-limit-reset"] for r in seen} == {"1800000060"}
        limited = c.get("/api/v1/apps")
        body = okta_error(limited, 429, "E0000047")
        assert body["errorSummary"] == "API call exceeded rate limit due to too many requests."
        assert limited.headers["x-rate-limit-remaining"] == "0"
        assert limited.headers["x-rate-limit-reset"] == "1800000060"
        assert "retry-after" not in limited.headers  # Okta documents none; clients use the reset
        users = c.get("/api/v1/users", params={"limit": 1})  # another family has its own bucket
        assert users.status_code == 200 and users.headers["x-rate-limit-limit"] == "18"
        clock.advance(59)
        assert c.get("/api/v1/apps").status_code == 429
        clock.advance(1)
        recovered = c.get("/api/v1/apps")
        assert recovered.status_code == 200 and recovered.headers["x-rate-limit-remaining"] == "2"
        assert recovered.headers["x-rate-limit-reset"] == "1800000120"
    assert sim.stats.count("GET /api/v1/apps", 429) == 2 and sim.stats.count("GET /api/v1/apps", 200) == 4


# ---- writes -----------------------------------------------------------------------------------


def test_group_membership_writes_change_state() -> None:
    sim = fresh()
    ds = sim.dataset
    group = ok_group(sim)
    outsider = next(u.id for u in ds.users() if u.id not in set(ds.group_member_ids(group)))
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        members = f"/api/v1/groups/{group}/users"
        assert c.put(f"{members}/{outsider}").status_code == 204
        assert c.put(f"{members}/{outsider}").status_code == 204  # already a member: still 204
        listed = [u["id"] for u in follow_pages(c, members, {"limit": 10})[0]]
        assert listed.count(outsider) == 1 and (group, outsider) in ds.memberships()
        assert c.delete(f"{members}/{outsider}").status_code == 204
        assert c.delete(f"{members}/{outsider}").status_code == 204  # not a member: still 204
        assert outsider not in [u["id"] for u in follow_pages(c, members)[0]]
        assert outsider not in ds.group_member_ids(group)
        okta_error(c.put(f"{members}/00uNOSUCHUSER0000000"), 404, "E0000007")
        built_in = ds.groups()[0]
        assert built_in.type == "BUILT_IN"
        okta_error(c.put(f"/api/v1/groups/{built_in.id}/users/{outsider}"), 403, "E0000006")
        app_group = next(g.id for g in ds.groups() if g.type == "APP_GROUP")
        okta_error(c.delete(f"/api/v1/groups/{app_group}/users/{outsider}"), 403, "E0000006")


def test_app_assignment_writes_change_state() -> None:
    sim = fresh()
    ds = sim.dataset
    app = ds.apps()[0].id
    user = next(u for u in ds.users() if u.id not in set(ds.app_user_ids(app)))
    group = next(g.id for g in ds.groups()[1:] if g.id not in set(ds.app_group_ids(app)))
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        assigned = c.post(f"/api/v1/apps/{app}/users",
                          json={"id": user.id, "scope": "USER", "credentials": {"userName": user.email}})
        assert assigned.status_code == 200 and assigned.json()["id"] == user.id
        assert user.id in ds.app_user_ids(app)
        assert c.get(f"/api/v1/apps/{app}/users/{user.id}").json()["scope"] == "USER"
        assert c.delete(f"/api/v1/apps/{app}/users/{user.id}").status_code == 204
        okta_error(c.delete(f"/api/v1/apps/{app}/users/{user.id}"), 404, "E0000007")
        okta_error(c.get(f"/api/v1/apps/{app}/users/{user.id}"), 404, "E0000007")
        okta_error(c.post(f"/api/v1/apps/{app}/users", content=b"{not json"), 400, "E0000003")

        def apps_count() -> int:
            page = c.get("/api/v1/groups", params={"filter": f'id eq "{group}"', "expand": "stats"}).json()
            return int(page[0]["_embedded"]["stats"]["appsCount"])

        before = apps_count()
        assert c.put(f"/api/v1/apps/{app}/groups/{group}", json={}).status_code == 200
        assert c.put(f"/api/v1/apps/{app}/groups/{group}", json={}).status_code == 200  # upsert
        assert group in [g["id"] for g in follow_pages(c, f"/api/v1/apps/{app}/groups")[0]]
        assert apps_count() == before + 1
        assert c.delete(f"/api/v1/apps/{app}/groups/{group}").status_code == 204
        assert group not in ds.app_group_ids(app) and apps_count() == before
        okta_error(c.delete(f"/api/v1/apps/{app}/groups/{group}"), 404, "E0000007")


def test_role_assignment_writes_change_state() -> None:
    sim = fresh()
    ds = sim.dataset
    holders = {a.principal_id for a in ds.role_assignments()}
    user = next(u.id for u in ds.users() if u.id not in holders)
    rs, role = next(iter(ds.binding_members()))
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        assert c.get(f"/api/v1/users/{user}/roles").json() == []
        created = c.post(f"/api/v1/users/{user}/roles", json={"type": "USER_ADMIN"})
        assert created.status_code == 201 and created.json()["label"] == "Group Administrator"
        okta_error(c.post(f"/api/v1/users/{user}/roles", json={"type": "USER_ADMIN"}), 409, "E0000090")
        okta_error(c.post(f"/api/v1/users/{user}/roles", json={"type": "WIZARD"}), 400, "E0000001")
        custom = c.post(f"/api/v1/users/{user}/roles",
                        json={"type": "CUSTOM", "role": role, "resource-set": rs})
        assert custom.status_code == 201 and custom.json()["role"] == role
        assert user in [v["id"] for v in c.get("/api/v1/iam/assignees/users").json()["value"]]
        assert {m.principal_id for m in ds.binding_members()[(rs, role)]} >= {user}
        types = [r["type"] for r in c.get(f"/api/v1/users/{user}/roles").json()]
        assert types == ["USER_ADMIN", "CUSTOM"]
        for assignment in (created.json()["id"], custom.json()["id"]):
            assert c.delete(f"/api/v1/users/{user}/roles/{assignment}").status_code == 204
            okta_error(c.delete(f"/api/v1/users/{user}/roles/{assignment}"), 404, "E0000007")
        assert c.get(f"/api/v1/users/{user}/roles").json() == []
        assert user not in {a.principal_id for a in ds.role_assignments()}


# ---- faults -----------------------------------------------------------------------------------


def test_fault_plan_fires_at_configured_rates_and_replays_per_seed() -> None:
    settings = FaultSettings(error_rate=0.1, rate_limit_rate=0.05, reset_rate=0.02, stall_rate=0.03,
                             malformed_page_rate=0.2)

    def run(seed: int) -> list[Fault | None]:
        plan = FaultPlan(seed, settings)
        return [plan.draw("GET", f"/api/v1/users?after={i % 500}", is_page=True) for i in range(10_000)]

    first = run(1)
    counts = Counter(first)
    # Faults are tried in order, so each rate applies to what earlier faults left over.
    expected = {Fault.RESET: 0.02, Fault.STALL: 0.98 * 0.03, Fault.SERVER_ERROR: 0.98 * 0.97 * 0.1}
    for fault, rate in expected.items():
        assert abs(counts[fault] / 10_000 - rate) < 0.01, (fault, counts[fault])
    assert 0.13 < counts[Fault.MALFORMED_PAGE] / 10_000 < 0.19
    assert run(1) == first and run(2) != first
    # The n-th arrival of a given request always meets the same fate, whatever else was asked between.
    plan = FaultPlan(1, settings)
    plan.draw("GET", "/api/v1/groups", is_page=True)
    assert [plan.draw("GET", f"/api/v1/users?after={i % 500}", is_page=True) for i in range(10_000)] == first


def test_faults_over_http_and_admin_endpoints() -> None:
    sim = fresh()
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers, timeout=5) as c:
        assert c.post("/__sim/faults", json={"error_rate": 1.0}).json()["error_rate"] == 1.0
        okta_error(c.get("/api/v1/groups"), 500, "E0000009")
        c.post("/__sim/faults", json={"error_rate": 0.0, "rate_limit_rate": 1.0})
        limited = c.get("/api/v1/groups")
        okta_error(limited, 429, "E0000047")
        assert int(limited.headers["x-rate-limit-reset"]) <= int(time.time()) + 2  # injected: resets soon
        c.post("/__sim/faults", json={"rate_limit_rate": 0.0, "malformed_page_rate": 1.0})
        truncated = c.get("/api/v1/groups")
        assert truncated.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            truncated.json()
        assert c.get(f"/api/v1/users/{sim.dataset.users()[0].id}").status_code == 200  # not a page
        c.post("/__sim/faults", json={"malformed_page_rate": 0.0, "reset_rate": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/api/v1/users")
        c.post("/__sim/faults", json={"reset_rate": 0.0, "stall_rate": 1.0, "stall_seconds": 0.3})
        started = time.perf_counter()
        assert c.get("/api/v1/apps").status_code == 200
        assert time.perf_counter() - started >= 0.3
        rejected = c.post("/__sim/faults", json={"stall_rate": 2})
        assert rejected.status_code == 400 and "at most 1" in rejected.json()["error"]
        assert c.post("/__sim/faults", json={"typo_rate": 0.1}).status_code == 400

        stats = c.get("/__sim/stats").json()
        assert stats["by_endpoint"]["GET /api/v1/groups"] == {"200": 1, "429": 1, "500": 1}
        assert stats["by_endpoint"]["GET /api/v1/users"] == {"0": 1}  # a reset has no status
        assert stats["faults_injected"] == {"error": 1, "rate_limit": 1, "malformed_page": 1, "reset": 1,
                                            "stall": 1}
        assert c.get("/__sim/state").json() == sim.dataset.counts()
        assert c.delete("/__sim/stats").status_code == 204
        assert sim.stats.count() == 0


def test_fault_sequence_is_reproducible_across_servers() -> None:
    def statuses(seed: int) -> list[int]:
        sim = fresh(seed=seed, faults=FaultSettings(error_rate=0.3, rate_limit_rate=0.1))
        with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
            return [c.get("/api/v1/groups", params={"limit": 1 + i % 4}).status_code for i in range(40)]

    first = statuses(5)
    assert first == statuses(5) and first != statuses(6)
    assert {200, 429, 500} <= set(first)


# ---- conformance to the official spec ---------------------------------------------------------


@pytest.fixture(scope="module")
def openapi() -> Any:
    require_spec(OKTA_SPEC)  # skips locally, fails in CI
    return okta_openapi()


def _conformance_requests(sim: OktaSim) -> list[tuple[str, str, dict[str, Any] | None, Any]]:
    ds = sim.dataset
    users = ds.users()
    apps = ds.apps()
    group = ok_group(sim)
    with_roles = next(a.principal_id for a in ds.role_assignments() if a.principal_type == "GROUP")
    rs, role = next(iter(ds.binding_members()))
    app_group = next(a.id for a in apps if ds.app_group_ids(a.id))
    user, newcomer = users[0].id, users[1].id
    return [
        ("GET", "/api/v1/org", None, None),
        ("GET", "/api/v1/devices", {"limit": 200}, None),
        ("GET", "/api/v1/devices", {"expand": "user", "limit": 5}, None),
        ("GET", "/api/v1/devices", {"expand": "userSummary", "search": 'status eq "ACTIVE"'}, None),
        ("GET", "/api/v1/users", {"search": "status pr", "limit": 50}, None),
        ("GET", f"/api/v1/users/{user}", None, None),
        ("GET", "/api/v1/groups", {"expand": "stats"}, None),
        ("GET", f"/api/v1/groups/{group}/users", None, None),
        ("PUT", f"/api/v1/groups/{group}/users/{newcomer}", None, None),
        ("DELETE", f"/api/v1/groups/{group}/users/{newcomer}", None, None),
        ("GET", f"/api/v1/groups/{with_roles}/roles", None, None),
        ("POST", f"/api/v1/groups/{group}/roles", None, {"type": "HELP_DESK_ADMIN"}),
        ("GET", "/api/v1/apps", {"filter": 'status eq "ACTIVE"'}, None),
        ("GET", "/api/v1/apps", None, None),
        ("GET", f"/api/v1/apps/{apps[1].id}", None, None),
        ("GET", f"/api/v1/apps/{apps[0].id}/users", None, None),
        ("POST", f"/api/v1/apps/{apps[0].id}/users", None, {"id": newcomer, "scope": "USER"}),
        ("GET", f"/api/v1/apps/{apps[0].id}/users/{newcomer}", None, None),
        ("DELETE", f"/api/v1/apps/{apps[0].id}/users/{newcomer}", None, None),
        ("GET", f"/api/v1/apps/{app_group}/groups", None, None),
        ("PUT", f"/api/v1/apps/{apps[0].id}/groups/{group}", None, {}),
        ("GET", f"/api/v1/apps/{apps[0].id}/groups/{group}", None, None),
        ("DELETE", f"/api/v1/apps/{apps[0].id}/groups/{group}", None, None),
        ("GET", "/api/v1/iam/assignees/users", None, None),
        ("POST", f"/api/v1/users/{newcomer}/roles", None, {"type": "READ_ONLY_ADMIN"}),
        ("POST", f"/api/v1/users/{newcomer}/roles", None,
         {"type": "CUSTOM", "role": role, "resource-set": rs}),
        ("GET", f"/api/v1/users/{newcomer}/roles", None, None),
        ("GET", "/api/v1/iam/roles", None, None),
        ("GET", "/api/v1/iam/resource-sets", None, None),
        ("GET", f"/api/v1/iam/resource-sets/{rs}/bindings", None, None),
        ("GET", f"/api/v1/iam/resource-sets/{rs}/bindings/{role}/members", None, None),
        ("GET", "/api/v1/users/00uNOSUCHUSER0000000", None, None),  # 404 E0000007
    ]


def test_responses_conform_to_the_official_okta_spec(openapi: Any) -> None:
    sim = fresh(apps=8)  # 8 apps cover every sign-on mode the sim generates
    checked: Counter[str] = Counter()
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        modes: set[str] = set()
        for method, path, params, body in _conformance_requests(sim):
            response = c.request(method, path, params=params, json=body)
            assert response.status_code < 500, (method, path, response.text)
            validate_response(openapi, response)
            checked[str(response.status_code)] += 1
            if path == "/api/v1/apps" and params is None:
                modes = {app["signOnMode"] for app in response.json()}
        c.post("/__sim/faults", json={"rate_limit_rate": 1.0})
        limited = c.get("/api/v1/users")
        assert limited.status_code == 429
        validate_response(openapi, limited)
    assert checked["200"] >= 19 and checked["204"] >= 3 and checked["201"] == 2 and checked["404"] == 1
    assert modes == set(APP_SIGN_ON_MODES)


def test_devices_page_with_their_users_embedded_on_request(sim: OktaSim, client: httpx.Client) -> None:
    truth = {d.id: d for d in sim.dataset.devices()}
    assert len(truth) == sim.dataset.user_count // 4 and any(len(d.user_ids) == 2 for d in truth.values())
    items, pages = follow_pages(client, "/api/v1/devices", {"limit": 7, "expand": "user"})
    assert len(pages) == -(-len(truth) // 7) and len({d["id"] for d in items}) == len(truth) == len(items)
    for device in items:
        expected = truth[device["id"]]
        assert device["profile"]["displayName"] == expected.display_name
        assert device["status"] == expected.status and device["profile"]["platform"] == expected.platform
        assert tuple(u["user"]["id"] for u in device["_embedded"]["users"]) == expected.user_ids
    plain = client.get("/api/v1/devices").json()
    assert len(plain) == min(200, len(truth)) and "_embedded" not in plain[0]
    active = follow_pages(client, "/api/v1/devices", {"search": 'status eq "ACTIVE"'})[0]
    assert {d["id"] for d in active} == {i for i, d in truth.items() if d.status == "ACTIVE"} != set(truth)
    assert client.get("/api/v1/devices", params={"expand": "apps"}).status_code == 400


def test_org_settings_name_the_subdomain_the_client_used(sim: OktaSim, client: httpx.Client) -> None:
    org = client.get("/api/v1/org", headers={"Host": "globex.okta.com"}).json()
    assert org["subdomain"] == "globex" and org["status"] == "ACTIVE"
    assert org["_links"]["contacts"]["href"] == "http://globex.okta.com/api/v1/org/contacts"
    assert client.get("/api/v1/org", headers={"Authorization": "SSWS wrong"}).status_code == 401


def test_spec_validation_rejects_a_tampered_response(openapi: Any, sim: OktaSim,
                                                     client: httpx.Client) -> None:
    """Negative control: the conformance test would notice a wrong shape."""
    good = client.get("/api/v1/groups", params={"limit": 2})
    validate_response(openapi, good)
    page = good.json()
    page[0]["type"] = "MAGIC_GROUP"
    bad = httpx.Response(200, headers={"content-type": "application/json"}, content=json.dumps(page).encode(),
                         request=good.request)
    with pytest.raises(InvalidData):
        validate_response(openapi, bad)
    user = client.get(f"/api/v1/users/{sim.dataset.users()[0].id}")
    broken_user = {**user.json(), "status": "HAPPY"}
    with pytest.raises(InvalidData):
        validate_response(openapi, httpx.Response(200, json=broken_user, request=user.request))


# ---- scale and determinism (in-process, no HTTP) ----------------------------------------------


def _digest(ds: OktaDataset) -> str:
    h = hashlib.blake2b(digest_size=16)
    for g in range(ds.group_count):
        h.update(ds.group_ids.encode(g).encode())
        h.update(bytes(ds.group_members[g]))
    for a in range(ds.app_count):
        h.update(bytes(ds.app_users[a]) + bytes(ds.app_groups[a]))
    h.update(bytes(ds.status) + bytes(ds.first_name) + bytes(ds.created))
    return h.hexdigest()


def test_100k_users_generate_deterministically_with_the_requested_shape() -> None:
    big = OktaDataset.generate(seed=SEED, users=100_000, groups=5_000, apps=500, memberships=1_000_000)
    counts = big.counts()
    assert (counts["users"], counts["groups"], counts["apps"]) == (100_000, 5_000, 500)
    assert abs(counts["memberships"] - 1_000_000) < 10_000
    assert all(list(m) == sorted(set(m)) for m in big.group_members)  # sorted, no duplicates
    assert max(len(m) for m in big.group_members[1:]) <= 90_000  # only Everyone holds everyone
    statuses = Counter(big.status)
    assert len(statuses) == 8 and statuses[0] > 70_000  # every Okta status, mostly ACTIVE
    logins = {big.login(i) for i in range(0, 100_000, 7)}
    assert len(logins) == len(range(0, 100_000, 7))
    for i in (0, 1, 99_999, 54_321):
        ident = big.user_ids.encode(i)
        assert re.fullmatch(r"00u[0-9A-Za-z]{17}", ident) and big.user_index(ident) == i
        assert big.user_index(big.login(i)) == i
    assert big.user_index("00u" + "Z" * 17) is None
    assert _digest(big) == _digest(OktaDataset.generate(seed=SEED, users=100_000, groups=5_000, apps=500,
                                                        memberships=1_000_000))
    small = dict(users=300, groups=40, apps=12)
    assert _digest(OktaDataset.generate(seed=1, **small)) != _digest(OktaDataset.generate(seed=2, **small))


# ---- CLI ----------------------------------------------------------------------------------------


def test_cli_serves_until_interrupted_and_prints_url_and_token() -> None:
    with iac_sim("okta", "--users", "50", "--groups", "5", "--apps", "2", "--seed", "9", "--print-token") as sim:
        base_url = sim.line()
        token = sim.line()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        assert token == OktaSim(seed=9, users=1, groups=1, apps=0).token
        deadline = time.monotonic() + 10
        while True:
            try:
                response = httpx.get(f"{base_url}/api/v1/users", headers={"Authorization": f"SSWS {token}"})
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.status_code == 200 and len(response.json()) > 0
    stderr = sim.stderr
    assert "50 users" in stderr and "Ctrl-C" in stderr
