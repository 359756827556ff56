"""The SAP Concur simulator: refresh-token OAuth, Identity v4.1 cursors, Spend roles, Bulk provisioning, spec."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from _sim_helpers import SPECS_DIR, iac_sim, require_spec, validate_response
from openapi_core import OpenAPI
from openapi_core.validation.response.exceptions import InvalidData

from iac.sim import ConcurDataset, ConcurSim, FaultSettings, ManualClock, serve
from iac.sim._concur_data import SPEND_ROLE_SCHEMA

SEED = 20260603
USERS = 250
IDENTITY = "/profile/identity/v4.1/Users"
SPEND = "/profile/spend/v4.1/Users"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
IDENTITY_SPEC = SPECS_DIR / "concur-identity-v4.1.openapi3.json"
PROVISIONING_SPEC = SPECS_DIR / "concur-user-provisioning-v4.swagger2.json"
# The spec's servers are https://{us,eu}.api.concursolutions.com/profile/identity/v4.1.
SPEC_HOST = "https://us.api.concursolutions.com"


@pytest.fixture(scope="module")
def sim() -> ConcurSim:
    return ConcurSim(seed=SEED, users=USERS, rate_scale=100)


@pytest.fixture(scope="module")
def client(sim: ConcurSim) -> Iterator[httpx.Client]:
    with serve(sim.app) as base_url, httpx.Client(base_url=base_url, headers=sim.auth_headers) as c:
        yield c


def fresh(**kwargs: Any) -> ConcurSim:
    return ConcurSim(**{"seed": SEED, "users": USERS, "rate_scale": 100, **kwargs})


def refresh(c: httpx.Client, sim: ConcurSim, refresh_token: str) -> httpx.Response:
    return c.post("/oauth2/v0/token", headers={"Authorization": ""}, data={
        "grant_type": "refresh_token", "client_id": sim.client_id, "client_secret": sim.client_secret,
        "refresh_token": refresh_token})


def scim_error(response: httpx.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == str(status) and isinstance(body["detail"], str)
    messages = body["urn:ietf:params:scim:api:messages:concur:2.0:Error"]["messages"]
    assert messages and all({"code", "type"} <= set(m) for m in messages)
    assert body.get("scimType") == scim_type
    return dict(body)


def all_identities(c: httpx.Client, count: int, params: dict[str, Any] | None = None,
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every identity by cursor, as a client does it: follow nextCursor until it is absent."""
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        response = c.get(IDENTITY, params={**(params or {}), "count": count, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        items.extend(page["Resources"])
        cursor = page.get("nextCursor")
        if not cursor:
            return items, pages


def bulk(*operations: dict[str, Any], fail_on_errors: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [BULK], "Operations": list(operations)}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    return body


def patch(user_id: str, *ops: dict[str, Any], bulk_id: str | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"method": "PATCH", "path": f"/Users/{user_id}", "data": {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(ops)}}
    if bulk_id:
        op["bulkId"] = bulk_id
    return op


def spend_roles(c: httpx.Client, user_id: str) -> list[dict[str, Any]]:
    return list(c.get(f"{SPEND}/{user_id}").json()[SPEND_ROLE_SCHEMA]["roles"])


# ---- OAuth ----------------------------------------------------------------------------------------


def test_refresh_grant_answers_like_concur(sim: ConcurSim, client: httpx.Client) -> None:
    first = refresh(client, sim, sim.refresh_token)
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"expires_in", "scope", "token_type", "access_token", "refresh_token", "refresh_expires_in",
                         "id_token", "geolocation"}
    assert body["expires_in"] == "3600" and body["token_type"] == "Bearer"  # a string, as Concur sends it
    assert body["geolocation"] == str(client.base_url).rstrip("/")
    assert body["refresh_token"] != sim.refresh_token  # rotated
    assert isinstance(body["refresh_expires_in"], int) and body["refresh_expires_in"] > 1_700_000_000
    _, claims, signature = body["id_token"].split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    assert decoded["aud"] == sim.client_id and decoded["iss"] == body["geolocation"] and signature
    token = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get(IDENTITY, headers=token, params={"count": 1}).status_code == 200
    assert "concur-correlationid" in first.headers


def test_refresh_tokens_rotate_with_a_grace_period() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock, refresh_grace_seconds=30)
    with serve(sim.app) as base, httpx.Client(base_url=base) as c:
        original = sim.refresh_token
        rotated = refresh(c, sim, original).json()["refresh_token"]
        assert rotated != original
        clock.advance(30)  # a retry inside the grace period gets the same successor, not a fork
        assert refresh(c, sim, original).json()["refresh_token"] == rotated
        clock.advance(1)
        stale = refresh(c, sim, original)
        assert stale.status_code == 400
        assert stale.json() == {"code": 108, "error": "invalid_grant",
                                "error_description": "Refresh token is invalid or expired", "geolocation": base}
        newer = refresh(c, sim, rotated).json()["refresh_token"]
        assert newer not in (rotated, original) and refresh(c, sim, newer).status_code == 200
    fixed = fresh(rotate_refresh_tokens=False)
    with serve(fixed.app) as base, httpx.Client(base_url=base) as c:
        assert refresh(c, fixed, fixed.refresh_token).json()["refresh_token"] == fixed.refresh_token
        assert refresh(c, fixed, fixed.refresh_token).status_code == 200


def test_token_endpoint_errors(sim: ConcurSim, client: httpx.Client) -> None:
    wrong_secret = client.post("/oauth2/v0/token", data={"grant_type": "refresh_token", "client_id": sim.client_id,
                                                         "client_secret": "nope", "refresh_token": sim.refresh_token})
    assert wrong_secret.status_code == 401 and wrong_secret.json()["code"] == 61
    password = client.post("/oauth2/v0/token", data={"grant_type": "password", "client_id": sim.client_id,
                                                     "client_secret": sim.client_secret})
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    garbage = refresh(client, sim, "not-a-token")
    assert garbage.status_code == 400 and garbage.json()["code"] == 108
    assert all("concur-correlationid" in r.headers for r in (wrong_secret, password, garbage))


def test_expired_access_token_is_401_and_a_refresh_recovers() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock)
    with serve(sim.app) as base, httpx.Client(base_url=base) as c:
        grant = refresh(c, sim, sim.refresh_token).json()
        headers = {"Authorization": f"Bearer {grant['access_token']}"}
        first = c.get(IDENTITY, headers=headers, params={"count": 100}).json()
        clock.advance(3600)  # the hour is up between two pages
        expired = c.get(IDENTITY, headers=headers, params={"count": 100, "cursor": first["nextCursor"]})
        assert scim_error(expired, 401)["detail"] == "The access token has expired"
        assert expired.headers["www-authenticate"].startswith("Bearer ")
        grant = refresh(c, sim, grant["refresh_token"]).json()
        headers = {"Authorization": f"Bearer {grant['access_token']}"}
        resumed = c.get(IDENTITY, headers=headers, params={"count": 100, "cursor": first["nextCursor"]})
        assert resumed.status_code == 200 and len(resumed.json()["Resources"]) == 100
        assert c.post("/__sim/tokens/expire").json() == {"expired": 1}
        assert scim_error(c.get(IDENTITY, headers=headers), 401)["detail"] == "The access token has expired"
        assert scim_error(c.get(IDENTITY), 401)["detail"] == "The access token is missing or invalid"


# ---- Identity v4.1 --------------------------------------------------------------------------------


def test_cursor_paging_returns_every_user_exactly_once(sim: ConcurSim, client: httpx.Client) -> None:
    items, pages = all_identities(client, 37)
    ids = [u["id"] for u in items]
    assert len(ids) == len(set(ids)) == USERS and ids == [u.id for u in sim.dataset.users]
    assert [len(p["Resources"]) for p in pages] == [37] * 6 + [28]
    assert all(p["totalResults"] == USERS and p["itemsPerPage"] == len(p["Resources"]) for p in pages)
    assert "nextCursor" not in pages[-1] and all("nextCursor" in p for p in pages[:-1])
    exact, exact_pages = all_identities(client, 50)  # 250 / 50: the fifth page is the last, no empty sixth
    assert len(exact) == USERS and len(exact_pages) == 5
    assert len(client.get(IDENTITY).json()["Resources"]) == 100  # default count
    whole = client.get(IDENTITY, params={"count": 1000}).json()
    assert len(whole["Resources"]) == USERS and "nextCursor" not in whole
    assert {False, True} == {u["active"] for u in items}


def test_bad_count_and_cursor(client: httpx.Client) -> None:
    scim_error(client.get(IDENTITY, params={"count": 1001}), 400, "invalidValue")
    scim_error(client.get(IDENTITY, params={"count": "ten"}), 400, "invalidValue")
    cursor = client.get(IDENTITY, params={"count": 5}).json()["nextCursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    scim_error(client.get(IDENTITY, params={"cursor": tampered}), 400, "invalidCursor")
    scim_error(client.get(f"{IDENTITY}/00000000-0000-4000-8000-000000000000"), 404, "noTarget")


def test_identity_attributes_and_projection(sim: ConcurSim, client: httpx.Client) -> None:
    ds = sim.dataset
    terminated = next(i for i, u in enumerate(ds.users) if not u.active)
    body = client.get(f"{IDENTITY}/{ds.users[terminated].id}").json()
    extension = body[ENTERPRISE]
    assert extension["employeeNumber"] == ds.users[terminated].employee_number
    assert {"companyId", "costCenter", "startDate", "terminationDate"} <= set(extension)
    assert body["emails"][0]["value"] == body["userName"] and body["name"]["givenName"]
    active = next(u for u in ds.users if u.active and u.manager >= 0)
    live = client.get(f"{IDENTITY}/{active.id}").json()[ENTERPRISE]
    assert "terminationDate" not in live and live["manager"]["value"] == ds.users[active.manager].id
    attributes = f"userName,name.familyName,{ENTERPRISE}:costCenter"
    trimmed = client.get(IDENTITY, params={"count": 2, "attributes": attributes})
    for user in trimmed.json()["Resources"]:
        assert set(user) == {"id", "schemas", "userName", "name", ENTERPRISE}
        assert set(user["name"]) == {"familyName"} and set(user[ENTERPRISE]) == {"costCenter"}
    without = client.get(IDENTITY, params={"count": 1, "excludedAttributes": f"emails,{ENTERPRISE}"}).json()
    assert "emails" not in without["Resources"][0] and ENTERPRISE not in without["Resources"][0]
    no_enterprise = {"Authorization": f"Bearer {sim.issue_token({'identity.user.core.read'})}"}
    assert ENTERPRISE not in client.get(f"{IDENTITY}/{active.id}", headers=no_enterprise).json()


def test_scopes_gate_identity_spend_and_provisioning(sim: ConcurSim, client: httpx.Client) -> None:
    identity_only = {"Authorization": f"Bearer {sim.issue_token({'identity.user.core.read'})}"}
    assert client.get(IDENTITY, headers=identity_only).status_code == 200
    denied = client.get(SPEND, headers=identity_only)
    assert denied.status_code == 403 and denied.json()["status"] == 403  # Spend's status is an integer
    scim_error(client.post("/profile/v4/Bulk", headers=identity_only, json=bulk()), 403)


# ---- Spend roles ----------------------------------------------------------------------------------


def test_spend_users_page_by_start_index_with_roles(sim: ConcurSim, client: httpx.Client) -> None:
    seen: list[dict[str, Any]] = []
    start = 1
    while True:
        page = client.get(SPEND, params={"startIndex": start, "count": 100}).json()
        assert page["startIndex"] == start and page["totalResults"] == USERS
        seen.extend(page["Resources"])
        if start - 1 + page["itemsPerPage"] >= page["totalResults"]:
            break
        start += page["itemsPerPage"]
    assert [u["id"] for u in seen] == [u.id for u in sim.dataset.users]
    pairs = {(u["id"], r["roleName"]) for u in seen for r in u[SPEND_ROLE_SCHEMA]["roles"]}
    assert pairs == sim.dataset.role_assignments() and len(pairs) > USERS
    grouped = [r for u in seen for r in u[SPEND_ROLE_SCHEMA]["roles"] if "roleGroups" in r]
    assert grouped and all(isinstance(r["roleGroups"], list) for r in grouped)
    too_many = client.get(SPEND, params={"count": 101})
    assert too_many.status_code == 400 and too_many.json()["status"] == 400
    missing = client.get(f"{SPEND}/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and missing.json()["status"] == 404


# ---- User Provisioning v4 -------------------------------------------------------------------------


def test_bulk_patch_is_asynchronous_and_changes_roles_and_entitlements() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock, provision_delay=2.0)
    ds = sim.dataset
    user = next(u for u in ds.users if u.active and "Travel" in u.entitlements and len(u.roles) >= 2)
    dropped = user.roles[0][0]
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        request = bulk(patch(user.id, {"op": "add", "path": f"{SPEND_ROLE_SCHEMA}:roles",
                                       "value": [{"roleName": "SHD_BUDGET_ADMIN"}]},
                             {"op": "remove", "path": f'{SPEND_ROLE_SCHEMA}:roles[roleName eq "{dropped}"]'},
                             {"op": "remove", "path": 'entitlements[value eq "Travel"]'}, bulk_id="b1"))
        accepted = c.post("/profile/v4/Bulk", json=request)
        assert accepted.status_code == 202
        status = accepted.json()
        assert status["status"] == {"completed": False}
        assert status["operationsCount"] == {"total": 1, "success": 0, "failed": 0, "pending": 1}
        location = status["meta"]["location"]
        assert location.endswith(f"/profile/v4/provisions/{status['id']}/status")
        names = {r["roleName"] for r in spend_roles(c, user.id)}
        assert "SHD_BUDGET_ADMIN" not in names and dropped in names  # not yet
        clock.advance(2)
        done = c.get(location, params={"attributes": "operations"}).json()
        assert done["status"] == {"completed": True, "success": True}
        assert done["operationsCount"] == {"total": 1, "success": 1, "failed": 0, "pending": 0}
        operation = done["operations"][0]
        assert operation["bulkId"] == "b1" and operation["resource"] == {"id": user.id, "type": "User"}
        results = {e["name"]: e["status"]["result"] for e in operation["extensions"]}
        assert results[SPEND_ROLE_SCHEMA] == "success" and results[ENTERPRISE] == "no-op"
        names = {r["roleName"] for r in spend_roles(c, user.id)}
        assert "SHD_BUDGET_ADMIN" in names and dropped not in names
        assert "Travel" not in c.get(f"{IDENTITY}/{user.id}").json()["entitlements"]
        assert (user.id, "SHD_BUDGET_ADMIN") in ds.role_assignments()
        assert (user.id, "Travel") not in ds.entitlement_assignments()
    assert [w.status for w in sim.writes.entries("POST", "/profile/v4/Bulk")] == [202]


def test_bulk_replace_deactivate_and_create() -> None:
    sim = fresh(provision_delay=0)
    ds = sim.dataset
    user = next(u for u in ds.users if u.active)
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        created = {"method": "POST", "path": "/Users", "bulkId": "new", "data": {
            "userName": "grace.new@example.com", "active": True, "name": {"givenName": "Grace", "familyName": "New"},
            "emails": [{"value": "grace.new@example.com", "type": "work"}], "entitlements": ["Expense"],
            ENTERPRISE: {"employeeNumber": "N-1", "companyId": ds.company_id},
            SPEND_ROLE_SCHEMA: {"roles": [{"roleName": "EXP_USER"}]}}}
        response = c.post("/profile/v4/Bulk", json=bulk(
            patch(user.id, {"op": "replace", "path": f"{SPEND_ROLE_SCHEMA}:roles",
                            "value": [{"roleName": "EXP_PROCESSOR", "roleGroups": ["US-WA"]}]},
                  {"op": "replace", "path": "active", "value": False}),
            created))
        assert response.status_code == 202 and response.json()["status"] == {"completed": True, "success": True}
        assert spend_roles(c, user.id) == [{"roleName": "EXP_PROCESSOR", "roleGroups": ["US-WA"]}]
        deactivated = c.get(f"{IDENTITY}/{user.id}").json()
        assert deactivated["active"] is False and "terminationDate" in deactivated[ENTERPRISE]
        listed = c.get(IDENTITY, params={"count": 1000}).json()
        assert listed["totalResults"] == USERS + 1 and listed["Resources"][-1]["userName"] == "grace.new@example.com"
        new_id = listed["Resources"][-1]["id"]
        assert spend_roles(c, new_id) == [{"roleName": "EXP_USER"}]
        operations = c.get(response.json()["meta"]["location"], params={"attributes": "operations"}).json()
        assert operations["operations"][1]["resource"]["id"] == new_id
        replaced = c.post("/profile/v4/Bulk", json=bulk({"method": "PUT", "path": f"/Users/{new_id}", "data": {
            "id": new_id, "userName": "grace.new@example.com", "active": True, "entitlements": ["Travel"]}}))
        assert replaced.json()["status"]["success"] is True
        again = c.get(f"{IDENTITY}/{new_id}").json()
        assert again["entitlements"] == ["Travel"] and spend_roles(c, new_id) == [{"roleName": "EXP_USER"}]
        duplicate = c.post("/profile/v4/Bulk", json=bulk(created)).json()
        assert duplicate["status"] == {"completed": True, "success": False}


def test_bulk_operation_failures_are_reported_per_operation() -> None:
    sim = fresh(provision_delay=0)
    user = next(u for u in sim.dataset.users if u.active)
    roles_before = user.roles
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        def run(*operations: dict[str, Any], headers: dict[str, str] | None = None,
                fail_on_errors: int | None = None) -> dict[str, Any]:
            response = c.post("/profile/v4/Bulk", json=bulk(*operations, fail_on_errors=fail_on_errors),
                              headers=headers)
            assert response.status_code == 202, response.text
            return dict(c.get(response.json()["meta"]["location"], params={"attributes": "operations"}).json())

        role = f"{SPEND_ROLE_SCHEMA}:roles"
        cases = [
            (patch("00000000-0000-4000-8000-000000000000", {"op": "replace", "path": "active", "value": True}), "404"),
            (patch(user.id, {"op": "add", "path": role, "value": [{"roleName": "WIZARD"}]}), "400"),
            (patch(user.id, {"op": "add", "path": role, "value": [{"roleName": "EXP_PROCESSOR"}]}), "400"),
            (patch(user.id, {"op": "add", "path": role, "value": [{"roleName": "EXP_APPROVER"}]},
                   {"op": "replace", "path": "nickName", "value": "x"}), "400"),  # all-or-nothing
        ]
        for operation, code in cases:
            status = run(operation)
            extension = status["operations"][0]["extensions"][0]
            assert status["status"] == {"completed": True, "success": False}
            assert extension["status"]["result"] == "error" and extension["status"]["code"] == code
            assert extension["messages"]["type"] == "error"
        no_spend_write = {"Authorization": f"Bearer {sim.issue_token({'user.provision.write', 'user.provision.read'})}"}
        denied = run(patch(user.id, {"op": "add", "path": role, "value": [{"roleName": "EXP_APPROVER"}]}),
                     headers=no_spend_write)
        assert denied["operations"][0]["extensions"][0]["status"]["code"] == "403"
        assert sim.dataset.user(user.id).roles == roles_before
        gave_up = run(cases[0][0], cases[1][0], patch(user.id, {"op": "replace", "path": "active", "value": False}),
                      fail_on_errors=2)
        assert gave_up["operationsCount"] == {"total": 3, "success": 0, "failed": 3, "pending": 0}
        assert gave_up["operations"][2]["extensions"][0]["status"]["result"] == "not-processed"
        assert sim.dataset.user(user.id).active  # the third operation never ran
        failed_only = c.get(gave_up["meta"]["location"], params={"attributes": "operations", "state": "failed",
                                                                 "count": 1, "startIndex": 2}).json()
        assert failed_only["totalResults"] == 3 and [o["id"] for o in failed_only["operations"]] == ["2"]


def test_bulk_request_validation() -> None:
    sim = fresh()
    user = sim.dataset.users[0].id
    op = patch(user, {"op": "replace", "path": "active", "value": True})
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        scim_error(c.post("/profile/v4/Bulk", json={"Operations": [op]}), 400, "invalidSyntax")
        scim_error(c.post("/profile/v4/Bulk", json=bulk()), 400, "invalidSyntax")
        scim_error(c.post("/profile/v4/Bulk", json=bulk(*[op] * 101)), 413, "tooMany")
        scim_error(c.post("/profile/v4/Bulk", json=bulk({"method": "DELETE", "path": f"/Users/{user}"})), 400,
                   "invalidSyntax")
        scim_error(c.post("/profile/v4/Bulk", content=b"{", headers={"Content-Type": "application/json"}), 400,
                   "invalidSyntax")
        scim_error(c.get("/profile/v4/provisions/nope/status"), 404, "noTarget")
    assert [w.status for w in sim.writes.entries("POST")] == [400, 400, 413, 400, 400]


# ---- rate limits, faults, headers -----------------------------------------------------------------


def test_rate_limit_429_with_retry_after_then_recovery() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock, rate_scale=1.0, rate_limits={"api": (3, 0.5)})
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        assert [c.get(IDENTITY, params={"count": 1}).status_code for _ in range(4)] == [200, 200, 200, 429]
        limited = c.get(IDENTITY)
        scim_error(limited, 429)
        assert limited.headers["retry-after"] == "2" and "concur-correlationid" in limited.headers
        clock.advance(2)
        assert c.get(IDENTITY, params={"count": 1}).status_code == 200


def test_every_response_has_a_correlation_id(sim: ConcurSim, client: httpx.Client) -> None:
    responses = [client.get(IDENTITY, params={"count": 1}), client.get(f"{IDENTITY}/nope"), client.get("/nowhere"),
                 httpx.get(f"{client.base_url}{SPEND}"), refresh(client, sim, "bad")]
    ids = [r.headers["concur-correlationid"] for r in responses]
    assert len(set(ids)) == len(ids) and all(len(i) == 36 for i in ids)


def test_fault_knobs_fire() -> None:
    sim = fresh()
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers, timeout=5) as c:
        sim.set_faults(error_rate=1.0)
        scim_error(c.get(IDENTITY), 500)
        sim.set_faults(error_rate=0.0, malformed_page_rate=1.0)
        with pytest.raises(json.JSONDecodeError):
            c.get(IDENTITY).json()
        assert c.get(f"{IDENTITY}/{sim.dataset.users[0].id}").status_code == 200  # not a list page
        sim.set_faults(malformed_page_rate=0.0, reset_rate=1.0)
        with pytest.raises(httpx.RemoteProtocolError):
            c.get(SPEND)
        sim.set_faults(reset_rate=0.0, rate_limit_rate=1.0)
        assert c.get(SPEND).status_code == 429
    assert dict(sim.fault_plan.injected) == {"error": 1, "malformed_page": 1, "reset": 1, "rate_limit": 1}


def test_fault_sequence_replays_per_seed() -> None:
    def statuses(seed: int) -> list[int]:
        sim = fresh(seed=seed, faults=FaultSettings(error_rate=0.3, rate_limit_rate=0.1))
        with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
            return [c.get(IDENTITY, params={"count": 1 + i % 4}).status_code for i in range(40)]

    first = statuses(5)
    assert first == statuses(5) != statuses(6) and {200, 429, 500} <= set(first)


# ---- conformance to the official specs ------------------------------------------------------------


@functools.cache
def identity_openapi() -> OpenAPI:
    with require_spec(IDENTITY_SPEC).open() as fh:
        return OpenAPI.from_dict(json.load(fh))  # the spec itself validates, so it is checked too


def test_identity_responses_conform_to_the_official_spec() -> None:
    openapi = identity_openapi()
    sim = fresh(provision_delay=0)
    ds = sim.dataset
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        user = ds.users[0].id
        c.post("/profile/v4/Bulk", json=bulk(patch(user, {"op": "replace", "path": "active", "value": False})))
        checked = 0
        cursor = None
        while True:  # every user, as every page renders them
            page = c.get(IDENTITY, params={"count": 100, **({"cursor": cursor} if cursor else {})})
            validate_response(openapi, page, SPEC_HOST)
            checked += len(page.json()["Resources"])
            if not (cursor := page.json().get("nextCursor")):
                break
        assert checked == USERS
        for response in (c.get(f"{IDENTITY}/{user}"), c.get(f"{IDENTITY}/nope"),
                         c.get(IDENTITY, params={"cursor": "bogus"}), httpx.get(f"{base}{IDENTITY}")):
            validate_response(openapi, response, SPEC_HOST)
        assert c.get(f"{IDENTITY}/{user}").json()[ENTERPRISE]["terminationDate"]


def test_identity_spec_validation_rejects_a_tampered_response(client: httpx.Client) -> None:
    """Negative control: the conformance test would notice a wrong shape."""
    openapi = identity_openapi()
    good = client.get(IDENTITY, params={"count": 2})
    validate_response(openapi, good, SPEC_HOST)
    for breakage in ({"active": "yes"}, {"emails": [{"value": "a@b.c", "type": "pigeon"}]}):
        page = good.json()
        page["Resources"][0].update(breakage)
        with pytest.raises(InvalidData):
            validate_response(openapi, httpx.Response(200, json=page, request=good.request), SPEC_HOST)
    page = good.json()
    del page["Resources"][1]["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["startDate"]
    with pytest.raises(InvalidData):
        validate_response(openapi, httpx.Response(200, json=page, request=good.request), SPEC_HOST)


def test_provision_status_conforms_to_the_user_provisioning_spec() -> None:
    with require_spec(PROVISIONING_SPEC).open() as fh:
        definitions = json.load(fh)["definitions"]
    validator = jsonschema.Draft4Validator({**definitions["ProvisionStatus"], "definitions": definitions})
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock)
    user = sim.dataset.users[1].id
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        accepted = c.post("/profile/v4/Bulk", json=bulk(
            patch(user, {"op": "add", "path": "entitlements", "value": ["Invoice"]}),
            patch("00000000-0000-4000-8000-000000000000", {"op": "replace", "path": "active", "value": True})))
        location = accepted.json()["meta"]["location"]
        bodies = [accepted.json(), c.get(location, params={"attributes": "operations"}).json()]
        clock.advance(1)
        bodies.append(c.get(location, params={"attributes": "operations"}).json())
    for body in bodies:
        validator.validate(body)
    assert bodies[-1]["operationsCount"] == {"total": 2, "success": 1, "failed": 1, "pending": 0}
    broken = {**bodies[-1], "operationsCount": {"total": 2}}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


# ---- determinism and CLI --------------------------------------------------------------------------


def _digest(ds: ConcurDataset) -> str:
    h = hashlib.blake2b(digest_size=16)
    for i in range(ds.user_count):
        h.update(json.dumps([ds.render_identity(i, "x"), ds.render_spend(i, "x")], sort_keys=True).encode())
    return h.hexdigest()


def test_same_seed_same_company_and_credentials() -> None:
    a, b, other = fresh(), fresh(), fresh(seed=SEED + 1)
    assert _digest(a.dataset) == _digest(b.dataset) != _digest(other.dataset)
    assert (a.client_id, a.client_secret, a.refresh_token) == (b.client_id, b.client_secret, b.refresh_token)
    assert a.refresh_token != other.refresh_token and a.issue_token() == b.issue_token()


def test_cli_serves_concur_with_printed_credentials() -> None:
    with iac_sim("concur", "--users", "40", "--seed", "4", "--print-credentials", "--no-rotate-refresh-tokens") as sim:
        base_url = sim.line()
        credentials = json.loads(sim.line())
        grant = httpx.post(f"{base_url}/oauth2/v0/token", data={"grant_type": "refresh_token", **credentials})
        assert grant.status_code == 200 and grant.json()["refresh_token"] == credentials["refresh_token"]
        users = httpx.get(f"{grant.json()['geolocation']}{IDENTITY}",
                          headers={"Authorization": f"Bearer {grant.json()['access_token']}"})
        assert users.status_code == 200 and users.json()["totalResults"] == 40
    stderr = sim.stderr
    assert "40 users" in stderr
