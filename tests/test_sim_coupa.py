"""The Coupa simulator: OAuth client credentials, scopes, offset paging, complete-list PUTs, limits, faults, CLI."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _sim_helpers import iac_sim

from iac.sim import COUPA_SCOPES, LICENSE_FLAGS, CoupaDataset, CoupaSim, FaultSettings, ManualClock, serve

SEED = 20260602
USERS = 137
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def sim() -> CoupaSim:
    """A read-only instance shared by the tests that do not change state (limits raised out of the way)."""
    return CoupaSim(seed=SEED, users=USERS, rate_scale=1000)


@pytest.fixture(scope="module")
def client(sim: CoupaSim) -> Iterator[httpx.Client]:
    with serve(sim.app) as base_url, httpx.Client(base_url=base_url, headers=sim.auth_headers) as c:
        yield c


def fresh(**kwargs: Any) -> CoupaSim:
    """A private instance; 25 requests/s would throttle the tests themselves, so limits are raised
    unless a test sets ``rate_scale``."""
    return CoupaSim(**{"seed": SEED, "users": USERS, "rate_scale": 1000, **kwargs})


def every_page(c: httpx.Client, path: str, params: dict[str, Any] | None = None,
               ) -> tuple[list[dict[str, Any]], list[int]]:
    """Offset paging as a Coupa client does it: stop at a short or empty page."""
    items: list[dict[str, Any]] = []
    sizes: list[int] = []
    offset = 0
    while True:
        response = c.get(path, params={**(params or {}), "offset": offset})
        assert response.status_code == 200, response.text
        page = response.json()
        sizes.append(len(page))
        items.extend(page)
        if len(page) < 50:
            return items, sizes
        offset += len(page)


def coupa_error(response: httpx.Response, status: int, key: str) -> list[str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["errors"] and list(body["errors"]) == [key], body
    messages = body["errors"][key]
    assert isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)
    return list(messages)


def token_for(c: httpx.Client, sim: CoupaSim, scope: str) -> dict[str, str]:
    response = c.post("/oauth2/token", auth=(sim.client_id, sim.client_secret),
                      data={"grant_type": "client_credentials", "scope": scope})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", **JSON}


# ---- paging and reads ---------------------------------------------------------------------------


def test_offset_paging_returns_every_user_exactly_once(sim: CoupaSim, client: httpx.Client) -> None:
    items, sizes = every_page(client, "/api/users")
    ids = [u["id"] for u in items]
    assert sizes == [50, 50, 37]
    assert len(ids) == len(set(ids)) == USERS and ids == sorted(ids)
    assert ids == [u.id for u in sim.dataset.users]
    assert ids[-1] - ids[0] > USERS  # ids are not dense: an offset is never an id
    assert client.get("/api/users", params={"offset": 137}).json() == []  # past the end: [] and 200
    assert client.get("/api/users", params={"offset": 10_000}).json() == []
    assert len(client.get("/api/users", params={"limit": 500}).json()) == 50  # the cap
    small = client.get("/api/users", params={"limit": 7, "offset": 3}).json()
    assert [u["id"] for u in small] == ids[3:10]
    coupa_error(client.get("/api/users", params={"offset": "x"}), 400, "request")
    coupa_error(client.get("/api/users", params={"offset": -1}), 400, "request")


def test_user_records_carry_access_and_licence_flags(sim: CoupaSim, client: httpx.Client) -> None:
    user = sim.dataset.users[5]
    body = client.get(f"/api/users/{user.id}").json()
    for key in ("active", "login", "email", "firstname", "lastname", "roles", "user-groups", "content-groups",
                "account-groups", *LICENSE_FLAGS):
        assert key in body, key
    assert {r["id"] for r in body["roles"]} == {sim.dataset.roles[r].id for r in user.roles}
    assert {g["id"] for g in body["user-groups"]} == {sim.dataset.user_groups[g].id for g in user.user_groups}
    assert [flag for flag in LICENSE_FLAGS if body[flag]] == user.license_names()
    everyone, _ = every_page(client, "/api/users")
    assert {False, True} <= {u["active"] for u in everyone}
    assert sum(u["expense-user"] for u in everyone) > 10
    coupa_error(client.get("/api/users/999999999"), 404, "user")


def test_filters_match_ground_truth(sim: CoupaSim, client: httpx.Client) -> None:
    ds = sim.dataset
    buyer = next(r for r in ds.roles if r.name == "Buyer")
    holders = sorted(uid for uid, rid in ds.role_assignments() if rid == buyer.id)
    for params in ({"roles[id]": buyer.id}, {"roles[name]": "Buyer"}, {"roles[id][in]": f"{buyer.id},0"}):
        found, _ = every_page(client, "/api/users", params)
        assert [u["id"] for u in found] == holders and holders
    group = ds.user_groups[0]
    in_group, _ = every_page(client, "/api/users", {"user-groups[id]": group.id})
    assert {u["id"] for u in in_group} == {uid for gid, uid in ds.group_memberships() if gid == group.id}
    inactive, _ = every_page(client, "/api/users", {"active": "false"})
    assert [u["id"] for u in inactive] == [u.id for u in ds.users if not u.active]
    above = ds.users[100].id
    assert [u["id"] for u in every_page(client, "/api/users", {"id[gt]": above})[0]] == \
        [u.id for u in ds.users[101:]]
    flagged, _ = every_page(client, "/api/users", {"expense-user": "true"})
    assert {u["id"] for u in flagged} == {uid for uid, flag in ds.licenses() if flag == "expense-user"}
    coupa_error(client.get("/api/users", params={"zodiac": "leo"}), 400, "request")
    coupa_error(client.get("/api/users", params={"active": "maybe"}), 400, "request")


def test_fields_trims_records(client: httpx.Client) -> None:
    page = client.get("/api/users", params={"limit": 3, "fields": '["id",{"roles":["id","name"]}]'}).json()
    assert all(set(u) == {"id", "roles"} and all(set(r) == {"id", "name"} for r in u["roles"]) for u in page)
    coupa_error(client.get("/api/users", params={"fields": "id,login"}), 400, "request")


def test_groups_roles_and_content_groups_list(sim: CoupaSim, client: httpx.Client) -> None:
    groups = client.get("/api/user_groups").json()
    assert [g["id"] for g in groups] == [g.id for g in sim.dataset.user_groups]
    members = {(g["id"], u["id"]) for g in groups for u in g["users"]}
    assert members == sim.dataset.group_memberships() and members
    roles = client.get("/api/roles").json()
    assert [r["name"] for r in roles] == [r.name for r in sim.dataset.roles]
    content = client.get("/api/business_groups").json()
    assert [c["id"] for c in content] == [c.id for c in sim.dataset.content_groups]
    accounts = client.get("/api/account_groups").json()
    assert [a["id"] for a in accounts] == [a.id for a in sim.dataset.account_groups]


# ---- OAuth, scopes and Accept -------------------------------------------------------------------


def test_token_endpoint_accepts_form_or_basic_credentials(sim: CoupaSim, client: httpx.Client) -> None:
    form = client.post("/oauth2/token", headers={"Authorization": ""}, data={
        "grant_type": "client_credentials", "client_id": sim.client_id, "client_secret": sim.client_secret,
        "scope": "core.user.read"})
    basic = client.post("/oauth2/token", auth=(sim.client_id, sim.client_secret),
                        data={"grant_type": "client_credentials", "scope": "core.user.read core.user.write"})
    for response in (form, basic):
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
        body = response.json()
        assert {"access_token", "token_type", "expires_in", "scope"} <= set(body)
        assert body["token_type"] == "bearer" and body["expires_in"] == 86_400
    assert basic.json()["scope"] == "core.user.read core.user.write"
    assert form.json()["access_token"] != basic.json()["access_token"]
    everything = client.post("/oauth2/token", auth=(sim.client_id, sim.client_secret),
                             data={"grant_type": "client_credentials"}).json()
    assert set(everything["scope"].split()) == COUPA_SCOPES


@pytest.mark.parametrize(("auth", "data", "status", "error"), [
    (("nobody", "x"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
    (None, {"grant_type": "client_credentials", "client_id": "CLIENT", "client_secret": "wrong"}, 401,
     "invalid_client"),
    ("OK", {"grant_type": "password"}, 400, "unsupported_grant_type"),
    ("OK", {"grant_type": "client_credentials", "scope": "core.user.read core.everything.write"}, 400,
     "invalid_scope"),
    ("OK", {"grant_type": "client_credentials", "client_id": "other", "client_secret": "x"}, 400,
     "invalid_request"),
])
def test_token_endpoint_errors(sim: CoupaSim, client: httpx.Client, auth: Any, data: dict[str, str], status: int,
                               error: str) -> None:
    data = {k: sim.client_id if v == "CLIENT" else v for k, v in data.items()}
    credentials = (sim.client_id, sim.client_secret) if auth == "OK" else auth
    response = client.post("/oauth2/token", auth=credentials, data=data)
    assert response.status_code == status and response.json()["error"] == error, response.text


def test_scopes_gate_reads_and_writes(sim: CoupaSim, client: httpx.Client) -> None:
    read_only = token_for(client, sim, "core.user.read core.user_group.read")
    user = sim.dataset.users[0].id
    assert client.get("/api/users", headers=read_only).status_code == 200
    denied = client.put(f"/api/users/{user}", headers=read_only, json={"active": True})
    assert "core.user.write" in coupa_error(denied, 403, "authorization")[0]
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
    coupa_error(client.get("/api/account_groups", headers=read_only), 403, "authorization")
    coupa_error(client.get("/api/business_groups", headers=read_only), 403, "authorization")
    accounting = token_for(client, sim, "core.accounting.read")
    assert client.get("/api/account_groups", headers=accounting).status_code == 200
    coupa_error(client.get("/api/users", headers=accounting), 403, "authorization")


def test_json_only_and_bad_tokens(sim: CoupaSim, client: httpx.Client) -> None:
    bearer = {"Authorization": client.headers["authorization"]}
    for accept in ("*/*", "application/xml", ""):
        response = httpx.get(f"{client.base_url}/api/users", headers={**bearer, "Accept": accept})
        coupa_error(response, 406, "request")
    assert httpx.get(f"{client.base_url}/api/users",
                     headers={**bearer, "Accept": "text/html, application/json;q=0.9"}).status_code == 200
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": client.headers["authorization"][7:]}):
        response = httpx.get(f"{client.base_url}/api/users", headers={**JSON, **headers})
        assert "invalid" in coupa_error(response, 401, "authorization")[0]
        assert response.headers["www-authenticate"].startswith("Bearer ")


def test_token_expiry_mid_sync_and_recovery() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock, token_lifetime=600)
    with serve(sim.app) as base, httpx.Client(base_url=base) as c:
        headers = token_for(c, sim, "core.user.read")
        assert c.get("/api/users", headers=headers).status_code == 200
        clock.advance(599)
        assert c.get("/api/users", params={"offset": 50}, headers=headers).status_code == 200
        clock.advance(1)
        expired = c.get("/api/users", params={"offset": 100}, headers=headers)
        assert coupa_error(expired, 401, "authorization") == ["The access token expired"]
        assert 'error="invalid_token"' in expired.headers["www-authenticate"]
        headers = token_for(c, sim, "core.user.read")  # a client re-authenticates and carries on
        assert c.get("/api/users", params={"offset": 100}, headers=headers).status_code == 200
        assert c.post("/__sim/tokens/expire").json() == {"expired": 1}
        coupa_error(c.get("/api/users", headers=headers), 401, "authorization")
        assert sim.expire_tokens() == 0 and sim.state_summary()["live_tokens"] == 0


# ---- rate limits --------------------------------------------------------------------------------


def test_burst_of_20_then_429_then_25_per_second() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock, rate_scale=1.0)
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        statuses = [c.get("/api/roles").status_code for _ in range(21)]
        assert statuses == [200] * 20 + [429]
        limited = c.get("/api/roles")
        assert coupa_error(limited, 429, "request")[0].startswith("Too many requests")
        assert "retry-after" not in limited.headers  # undocumented by Coupa: not sent by default
        clock.advance(0.05)  # 1.25 tokens at 25/s (0.04 s falls a hair short in float epoch arithmetic)
        assert [c.get("/api/roles").status_code for _ in range(2)] == [200, 429]
        clock.advance(1.0)  # a full second refills the burst of 20 (capped), not 25
        assert [c.get("/api/roles").status_code for _ in range(21)] == [200] * 20 + [429]
        # The token endpoint has its own bucket.
        token = c.post("/oauth2/token", auth=(sim.client_id, sim.client_secret),
                       data={"grant_type": "client_credentials"})
        assert token.status_code == 200
    retrying = fresh(clock=ManualClock(), retry_after=True, rate_scale=0.1)  # burst 2, 2.5/s
    with serve(retrying.app) as base, httpx.Client(base_url=base, headers=retrying.auth_headers) as c:
        assert [c.get("/api/roles").status_code for _ in range(3)] == [200, 200, 429]
        assert c.get("/api/roles").headers["retry-after"] == "1"


# ---- writes -------------------------------------------------------------------------------------


def test_put_replaces_complete_lists_and_sets_flags() -> None:
    sim = fresh()
    ds = sim.dataset
    user = next(u for u in ds.users if len(u.roles) >= 2 and u.user_groups and u.active)
    url = f"/api/users/{user.id}"
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        keep = ds.roles[user.roles[0]]
        admin = next(r for r in ds.roles if r.name == "Admin")
        updated = c.put(url, json={"roles": [{"id": keep.id}, {"name": "Admin"}]})
        assert updated.status_code == 200
        assert {r["id"] for r in updated.json()["roles"]} == {keep.id, admin.id}
        assert {rid for uid, rid in ds.role_assignments() if uid == user.id} == {keep.id, admin.id}
        admins = {u["id"] for u in every_page(c, "/api/users", {"roles[id]": admin.id})[0]}
        assert user.id in admins  # filtered lists see writes (their cached matches are dropped)
        group = ds.user_groups[-1]
        c.put(url, json={"user-groups": [{"id": group.id}]})
        assert [g["id"] for g in c.get(url).json()["user-groups"]] == [group.id]
        members = c.get(f"/api/user_groups/{group.id}").json()["users"]
        assert user.id in [m["id"] for m in members]
        assert c.put(url, json={"roles": []}).json()["roles"] == []  # [] removes every role
        assert user.id not in {u["id"] for u in every_page(c, "/api/users", {"roles[id]": admin.id})[0]}
        flags = c.put(url, json={"treasury_user": True, "expense-user": False, "active": False}).json()
        assert flags["treasury-user"] is True and flags["expense-user"] is False and flags["active"] is False
        assert (user.id, "treasury-user") in ds.licenses() and not ds.user(user.id).active
        before = ds.user(user.id).roles
        bad = c.put(url, json={"roles": [{"id": 999_999}], "active": "yes"})
        messages = coupa_error(bad, 400, "user")
        assert any("999999" in m for m in messages) and any("active" in m for m in messages)
        assert ds.user(user.id).roles == before  # nothing applied from a rejected body
        coupa_error(c.put(url, content=b"{nope", headers={"Content-Type": "application/json"}), 400, "user")
        coupa_error(c.put("/api/users/1", json={"active": True}), 404, "user")
    puts = sim.writes.entries("PUT", url)
    assert [w.status for w in puts] == [200, 200, 200, 200, 400, 400]
    assert puts[0].body == {"roles": [{"id": keep.id}, {"name": "Admin"}]}
    assert puts[-1].body == "{nope"  # kept as sent, even when it is not JSON


def test_write_log_exposes_an_empty_intermediate_list() -> None:
    """baton-coupa revokes by PUTting [] and then the remaining list; the log lets a test catch that."""
    sim = fresh()
    user = next(u for u in sim.dataset.users if len(u.roles) >= 2)
    roles = [{"id": sim.dataset.roles[r].id} for r in user.roles]
    url = f"/api/users/{user.id}"

    def empty_list_puts() -> list[Any]:
        return [w for w in sim.writes.entries("PUT") if isinstance(w.body, dict)
                and any(w.body.get(key) == [] for key in ("roles", "user-groups", "content-groups"))]

    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        assert c.put(url, json={"roles": roles[1:]}).status_code == 200  # a correct revoke
        assert empty_list_puts() == []
        c.put(url, json={"roles": []})  # the non-atomic revoke: remove all ...
        c.put(url, json={"roles": roles[2:] or roles[1:]})  # ... then put back the rest
        assert len(empty_list_puts()) == 1
        logged = c.get("/__sim/writes").json()
        assert [w["body"] for w in logged][1] == {"roles": []} and logged[1]["status"] == 200
        assert c.delete("/__sim/writes").status_code == 204 and sim.writes.entries() == []


def test_put_user_group_replaces_members() -> None:
    sim = fresh()
    ds = sim.dataset
    group = next(g for g, members in zip(ds.user_groups, ds.group_members, strict=True) if len(members) > 2)
    newcomers = [ds.users[0].id, ds.users[1].id]
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        body = c.put(f"/api/user_groups/{group.id}", json={"users": [{"id": i} for i in newcomers]}).json()
        assert sorted(u["id"] for u in body["users"]) == sorted(newcomers)
        assert {uid for gid, uid in ds.group_memberships() if gid == group.id} == set(newcomers)
        assert group.id in [g["id"] for g in c.get(f"/api/users/{newcomers[0]}").json()["user-groups"]]
        coupa_error(c.put(f"/api/user_groups/{group.id}", json={"users": [{"id": 5}]}), 400, "user_group")
        coupa_error(c.put("/api/user_groups/424242", json={"users": []}), 404, "user_group")


# ---- faults and determinism ---------------------------------------------------------------------


def test_fault_knobs_fire_in_coupa_format() -> None:
    sim = fresh()
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers, timeout=5) as c:
        c.post("/__sim/faults", json={"error_rate": 1.0})
        assert coupa_error(c.get("/api/users"), 500, "base")
        c.post("/__sim/faults", json={"error_rate": 0.0, "rate_limit_rate": 1.0})
        coupa_error(c.get("/api/users"), 429, "request")
        c.post("/__sim/faults", json={"rate_limit_rate": 0.0, "malformed_page_rate": 1.0})
        truncated = c.get("/api/users")
        assert truncated.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            truncated.json()
        c.post("/__sim/faults", json={"malformed_page_rate": 0.0, "reset_rate": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/api/roles")
        c.post("/__sim/faults", json={"reset_rate": 0.0, "stall_rate": 1.0, "stall_seconds": 0.2,
                                      "latency_ms": 50})
        started = time.perf_counter()
        assert c.get("/api/roles").status_code == 200
        assert time.perf_counter() - started >= 0.25
        stats = c.get("/__sim/stats").json()
        assert stats["faults_injected"] == {"error": 1, "rate_limit": 1, "malformed_page": 1, "reset": 1,
                                            "stall": 1}
        assert c.get("/__sim/state").json()["users"] == USERS


def _digest(ds: CoupaDataset) -> str:
    h = hashlib.blake2b(digest_size=16)
    for i in range(ds.user_count):
        h.update(json.dumps(ds.render_user(i), sort_keys=True).encode())
    return h.hexdigest()


def test_same_seed_same_instance_and_credentials() -> None:
    a, b, other = fresh(), fresh(), fresh(seed=SEED + 1)
    assert _digest(a.dataset) == _digest(b.dataset) != _digest(other.dataset)
    assert (a.client_id, a.client_secret) == (b.client_id, b.client_secret) != (other.client_id, other.client_secret)
    assert a.issue_token() == b.issue_token() != other.issue_token()
    roles = {len(u.roles) for u in a.dataset.users}
    assert roles <= {1, 2, 3} and len(roles) > 1


def test_faults_replay_per_seed() -> None:
    def statuses(seed: int) -> list[int]:
        sim = fresh(seed=seed, faults=FaultSettings(error_rate=0.3, rate_limit_rate=0.1))
        with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
            return [c.get("/api/users", params={"limit": 1 + i % 4}).status_code for i in range(40)]

    first = statuses(5)
    assert first == statuses(5) != statuses(6) and {200, 429, 500} <= set(first)


# ---- CLI ----------------------------------------------------------------------------------------


def test_cli_serves_coupa_with_printed_credentials() -> None:
    with iac_sim("coupa", "--users", "60", "--seed", "4", "--print-credentials") as sim:
        base_url = sim.line()
        credentials = json.loads(sim.line())
        assert credentials["client_id"] == CoupaSim(seed=4, users=1).client_id
        token = httpx.post(f"{base_url}/oauth2/token", data={"grant_type": "client_credentials", **credentials})
        assert token.status_code == 200
        users = httpx.get(f"{base_url}/api/users", params={"offset": 50},
                          headers={"Authorization": f"Bearer {token.json()['access_token']}", **JSON})
        assert users.status_code == 200 and len(users.json()) == 10
    stderr = sim.stderr
    assert "60 users" in stderr and "/__sim/tokens/expire" in stderr


# ---- GraphQL (what baton-coupa reads through) -----------------------------------------------------


def graphql(c: httpx.Client, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = c.post("/api/graphql", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_graphql_keyset_pages_users_like_rest(sim: CoupaSim, client: httpx.Client) -> None:
    """baton-coupa's user listing: `id[gt]=<last id>` pages of at most 50, ended by an empty page."""
    seen: list[dict[str, Any]] = []
    cursor = ""
    while True:
        after = f"id[gt]={cursor}&" if cursor else ""
        page = graphql(client, f'query {{ users(query: "{after}type[blank]=true") {{ id email fullname active }} }}')
        users = page["data"]["users"]
        assert len(users) <= 50
        if not users:
            break
        seen.extend(users)
        cursor = str(users[-1]["id"])
    truth = {u.id: u for u in sim.dataset.users}
    assert [u["id"] for u in seen] == sorted(truth)
    for user in seen:
        record = truth[user["id"]]
        assert user == {"id": record.id, "email": record.email, "fullname": f"{record.firstname} {record.lastname}",
                        "active": record.active}


def test_graphql_grant_queries_match_ground_truth(sim: CoupaSim, client: httpx.Client) -> None:
    ds = sim.dataset
    role = next(r for r in range(len(ds.roles)) if any(r in u.roles for u in ds.users))
    holders = graphql(client, f'query {{ users(query: "roles[id]={ds.roles[role].id}&limit=50") {{ id }} }}')
    expected = sorted(u.id for u in ds.users if role in u.roles)
    assert [u["id"] for u in holders["data"]["users"]] == expected[:50]
    licensed = graphql(client, 'query { users(query: "purchasing-user=true") { id purchasingUser } }')["data"]["users"]
    assert [u["id"] for u in licensed] == sorted(u.id for u in ds.users if u.has_license("purchasing-user"))[:50]
    assert all(u["purchasingUser"] for u in licensed)
    group = max(range(len(ds.user_groups)), key=lambda g: len(ds.group_members[g]))
    found = graphql(client, f'query {{ userGroups(query: "id={ds.user_groups[group].id}") {{ id users {{ id }} }} }}')
    members = found["data"]["userGroups"][0]["users"]  # nested lists are not paged
    assert [m["id"] for m in members] == sorted(ds.users[u].id for u in ds.group_members[group])
    user = next(u for u in ds.users if u.roles and u.user_groups)
    nested = graphql(client, f'query {{ users(query: "id={user.id}") {{ id roles {{ id name }} '
                             f'userGroups {{ id name description }} }} }}')["data"]["users"]
    assert [r["id"] for r in nested[0]["roles"]] == [ds.roles[r].id for r in user.roles]
    assert [g["id"] for g in nested[0]["userGroups"]] == [ds.user_groups[g].id for g in user.user_groups]
    roles = graphql(client, 'query { roles(query: "") { id name description } }')["data"]["roles"]
    assert [r["id"] for r in roles] == [r.id for r in ds.roles][:50]


def test_graphql_errors_follow_the_spec(sim: CoupaSim, client: httpx.Client) -> None:
    bad_filter = graphql(client, 'query { users(query: "shoe_size=9") { id } }')
    assert bad_filter["data"] == {"users": None}
    assert "Unsupported search criteria" in bad_filter["errors"][0]["message"]
    assert bad_filter["errors"][0]["path"] == ["users"]
    unknown_field = graphql(client, "query { users { id favouriteColour } }")
    assert "data" not in unknown_field and "favouriteColour" in unknown_field["errors"][0]["message"]
    syntax = graphql(client, "query { users( }")
    assert "Syntax Error" in syntax["errors"][0]["message"]
    assert client.post("/api/graphql", content=b"not json").status_code == 400
    assert client.post("/api/graphql", json={"variables": {}}).status_code == 400
    # A token without core.user_group.read reads users but not groups.
    narrow = token_for(client, sim, "core.user.read")
    mixed = graphql(client, 'query { users(query: "limit=1") { id } userGroups { id } }', headers=narrow)
    assert mixed["data"]["users"] and mixed["data"]["userGroups"] is None
    assert "core.user_group.read" in mixed["errors"][0]["message"]
    # Coupa's GraphQL has no mutations: writes go through REST.
    assert "mutation" in graphql(client, 'mutation { users { id } }')["errors"][0]["message"].lower()
