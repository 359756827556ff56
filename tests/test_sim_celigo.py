"""The Celigo simulator: Link-header paging, full-replace PUTs, invites, tokens, limits, schema conformance, CLI."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from _sim_helpers import SPECS_DIR, iac_sim, require_spec

from iac.sim import CeligoDataset, CeligoSim, FaultSettings, ManualClock, serve

SEED = 20260604
USERS = 47
PAGE = 10
USER_SCHEMA = SPECS_DIR / "celigo-users-response.yml"


@pytest.fixture(scope="module")
def sim() -> CeligoSim:
    return CeligoSim(seed=SEED, users=USERS, integrations=6, page_size=PAGE)


@pytest.fixture(scope="module")
def client(sim: CeligoSim) -> Iterator[httpx.Client]:
    with serve(sim.app) as base_url, httpx.Client(base_url=base_url, headers=sim.auth_headers) as c:
        yield c


def fresh(**kwargs: Any) -> CeligoSim:
    return CeligoSim(**{"seed": SEED, "users": USERS, "integrations": 6, "page_size": PAGE, **kwargs})


def follow(c: httpx.Client, path: str, params: dict[str, Any] | None = None,
           ) -> tuple[list[dict[str, Any]], list[httpx.Response]]:
    """Every record of a list, following rel="next" exactly as given."""
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


def celigo_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["errors"] and body["errors"], body
    assert all(set(e) == {"code", "message"} for e in body["errors"])
    assert body["errors"][0]["code"] == code
    return str(body["errors"][0]["message"])


def share_with(sim: CeligoSim, predicate: Any) -> Any:
    return next(s for s in sim.dataset.ashares if predicate(s))


# ---- paging ---------------------------------------------------------------------------------------


def test_link_paging_returns_every_user_once_and_leaves_out_the_owner(sim: CeligoSim, client: httpx.Client) -> None:
    items, pages = follow(client, "/v1/ashares")
    ids = [s["_id"] for s in items]
    assert len(ids) == len(set(ids)) == USERS and ids == [s.id for s in sim.dataset.ashares]
    assert [len(p.json()) for p in pages] == [10, 10, 10, 10, 7]
    assert "next" not in pages[-1].links and "prev" not in pages[0].links
    assert pages[2].links["next"]["url"].endswith("/v1/ashares?skip=30&limit=10")
    assert pages[2].links["prev"]["url"].endswith("/v1/ashares?skip=10&limit=10")
    assert sim.dataset.owner_email not in {s["sharedWithUser"]["email"] for s in items}
    assert len(client.get("/v1/ashares", params={"limit": 5000}).json()) == USERS  # capped at 1000, not an error
    assert client.get("/v1/ashares", params={"skip": 500}).json() == []
    celigo_error(client.get("/v1/ashares", params={"skip": "x"}), 400, "invalid_query_params")


def test_integrations_and_their_users(sim: CeligoSim, client: httpx.Client) -> None:
    integrations, pages = follow(client, "/v1/integrations", {"limit": 4})
    assert [i["_id"] for i in integrations] == [i.id for i in sim.dataset.integrations] and len(pages) == 2
    for integration in sim.dataset.integrations:
        shares, _ = follow(client, f"/v1/integrations/{integration.id}/ashares")
        expected = {s.id: s.effective_level(integration.id) for s in sim.dataset.ashares
                    if s.effective_level(integration.id)}
        assert {s["_id"]: s["accessLevel"] for s in shares} == expected
    only = share_with(sim, lambda s: s.access_level is None and s.integration_access)
    target, level = next(iter(only.integration_access.items()))
    shared = {s["_id"]: s for s in follow(client, f"/v1/integrations/{target}/ashares")[0]}
    assert shared[only.id]["accessLevel"] == level
    assert "accessLevel" not in client.get(f"/v1/ashares/{only.id}").json()  # integration-only: no account level
    celigo_error(client.get("/v1/integrations/000000000000000000000000/ashares"), 404, "not_found")


def test_include_and_exclude_project_fields(client: httpx.Client) -> None:
    trimmed = client.get("/v1/ashares", params={"include": "accessLevel,sharedWithUser"}).json()
    assert all(set(s) <= {"_id", "accessLevel", "sharedWithUser"} and "_id" in s for s in trimmed)
    without = client.get("/v1/ashares", params={"exclude": "sharedWithUser"}).json()
    assert all("sharedWithUser" not in s and "integrationAccessLevel" in s for s in without)
    celigo_error(client.get("/v1/ashares", params={"include": "a", "exclude": "b"}), 400, "invalid_query_params")


# ---- auth -----------------------------------------------------------------------------------------


def test_bad_missing_and_expired_tokens() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock, token_lifetime=3600)
    with serve(sim.app) as base, httpx.Client(base_url=base) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": sim.token}):
            assert "Unauthorized" in celigo_error(c.get("/v1/ashares", headers=headers), 401, "unauthorized")
        assert c.get("/v1/ashares", headers=sim.auth_headers).status_code == 200
        clock.advance(3600)  # auto-purged
        assert "expired" in celigo_error(c.get("/v1/ashares", headers=sim.auth_headers), 401, "unauthorized")
        sim.token = sim.issue_token()
        assert c.get("/v1/ashares", headers=sim.auth_headers).status_code == 200
        assert c.post("/__sim/tokens/expire").json() == {"expired": 1}
        celigo_error(c.get("/v1/integrations", headers=sim.auth_headers), 401, "unauthorized")
    assert len(sim.token) == 32 and int(sim.token, 16) >= 0  # Celigo tokens are 32 hex digits


def test_a_non_admin_token_reads_integrations_but_not_users(sim: CeligoSim, client: httpx.Client) -> None:
    reader = {"Authorization": f"Bearer {sim.issue_token(admin=False)}"}
    assert client.get("/v1/integrations", headers=reader).status_code == 200
    celigo_error(client.get("/v1/ashares", headers=reader), 403, "forbidden")
    celigo_error(client.post("/v1/invite", headers=reader, json={"email": "x@example.com"}), 403, "forbidden")


# ---- writes ---------------------------------------------------------------------------------------


def test_put_is_a_full_replace() -> None:
    sim = fresh()
    share = share_with(sim, lambda s: s.access_level == "monitor" and s.integration_access and s.accepted)
    share.account_mfa_required = share.account_sso_required = True
    url = f"/v1/ashares/{share.id}"
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        record = c.get(url).json()
        record["accessLevel"] = "manage"
        assert c.put(url, json=record).status_code == 204  # GET-modify-PUT keeps the rest
        after = c.get(url).json()
        assert after["accessLevel"] == "manage" and after["integrationAccessLevel"] == record["integrationAccessLevel"]
        assert after["accountMFARequired"] is True
        assert c.put(url, json={"accessLevel": "administrator"}).status_code == 204  # omitted fields are cleared
        cleared = c.get(url).json()
        assert cleared["integrationAccessLevel"] == [] and cleared["accountMFARequired"] is False
        assert cleared["accountSSORequired"] is True  # ... except accountSSORequired [U]
        assert sim.dataset.access_levels()[share.id] == "administrator"
        # baton-celigo's literal body: its zero-valued struct fields must not break the call.
        baton: dict[str, Any] = {"_id": "", "accessLevel": "monitor", "integrationAccessLevel": None,
                                 "accountSSORequired": False, "sharedWithUser": {}}
        assert c.put(url, json=baton).status_code == 204
        assert c.get(url).json()["accountSSORequired"] is False
        integration = sim.dataset.integrations[0].id
        assert c.put(url, json={"integrationAccessLevel": [{"_integrationId": integration,
                                                            "accessLevel": "manage"}]}).status_code == 204
        assert sim.dataset.integration_grants() >= {(share.id, integration, "manage")}
        assert "accessLevel" not in c.get(url).json()
        other = sim.dataset.integrations[1].id
        assert share.id not in {s["_id"] for s in follow(c, f"/v1/integrations/{other}/ashares")[0]}
        seen = {s["_id"]: s["accessLevel"] for s in follow(c, f"/v1/integrations/{integration}/ashares")[0]}
        assert seen[share.id] == "manage"
        c.put(url, json={"accessLevel": "monitor"})  # the per-integration list follows the change
        assert share.id in {s["_id"] for s in follow(c, f"/v1/integrations/{other}/ashares")[0]}


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"accessLevel": "owner"}, 422, "invalid_value"),
    ({"integrationAccessLevel": [{"_integrationId": "000000000000000000000000", "accessLevel": "manage"}]}, 422,
     "invalid_value"),
    ({"accessLevel": "monitor", "integrationAccessLevel": [{"_integrationId": "FIRST", "accessLevel": "admin"}]},
     422, "invalid_value"),
    ({"accountSSORequired": "yes", "accessLevel": "monitor"}, 422, "invalid_value"),
    ({"integrationAccessLevel": []}, 422, "invalid_value"),
    ({"accessLevel": "monitor", "userType": "user"}, 400, "invalid_field"),
    (["not", "an", "object"], 400, "invalid_json"),
])
def test_put_rejects_bad_bodies_and_changes_nothing(body: Any, status: int, code: str) -> None:
    sim = fresh()
    share = sim.dataset.ashares[0]
    before = sim.dataset.render_ashare(share)
    if isinstance(body, dict) and body.get("integrationAccessLevel"):
        for grant in body["integrationAccessLevel"]:
            grant["_integrationId"] = grant["_integrationId"].replace("FIRST", sim.dataset.integrations[0].id)
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        celigo_error(c.put(f"/v1/ashares/{share.id}", json=body), status, code)
    assert sim.dataset.render_ashare(share) == before
    assert [w.status for w in sim.writes.entries("PUT")] == [status]


def test_delete_disable_and_invite() -> None:
    sim = fresh()
    share = share_with(sim, lambda s: not s.disabled)
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        assert c.put(f"/v1/ashares/{share.id}/disable").status_code == 204
        assert c.get(f"/v1/ashares/{share.id}").json()["disabled"] is True
        assert c.put(f"/v1/ashares/{share.id}/disable").status_code == 204  # a toggle
        assert c.get(f"/v1/ashares/{share.id}").json()["disabled"] is False
        invited = c.post("/v1/invite", json={"email": "new.person@example.com", "accessLevel": "monitor"})
        assert invited.status_code == 201
        record = invited.json()
        assert record["accepted"] is False and record["accessLevel"] == "monitor"
        assert record["sharedWithUser"]["email"] == "new.person@example.com"
        listed, _ = follow(c, "/v1/ashares")
        assert len(listed) == USERS + 1 and listed[-1]["_id"] == record["_id"]
        celigo_error(c.post("/v1/invite", json={"email": "NEW.person@example.com"}), 409, "conflict")
        celigo_error(c.post("/v1/invite", json={"email": sim.dataset.owner_email}), 409, "conflict")
        celigo_error(c.post("/v1/invite", json={"accessLevel": "monitor"}), 422, "invalid_value")
        celigo_error(c.post("/v1/invite", json={"email": "not-an-email", "accessLevel": "monitor"}), 422,
                     "invalid_value")
        celigo_error(c.post("/v1/invite", json={"email": "x@example.com", "accessLevel": "owner"}), 422,
                     "invalid_value")
        assert c.delete(f"/v1/ashares/{share.id}").status_code == 204
        celigo_error(c.delete(f"/v1/ashares/{share.id}"), 404, "not_found")
        celigo_error(c.get(f"/v1/ashares/{share.id}"), 404, "not_found")
        assert share.id not in {s["_id"] for s in follow(c, "/v1/ashares")[0]}
    assert [(w.method, w.status) for w in sim.writes.entries()] == [
        ("PUT", 204), ("PUT", 204), ("POST", 201), ("POST", 409), ("POST", 409), ("POST", 422), ("POST", 422),
        ("POST", 422), ("DELETE", 204), ("DELETE", 404)]


# ---- rate limits and faults -----------------------------------------------------------------------


def test_leaky_bucket_429_with_retry_after_then_recovery() -> None:
    clock = ManualClock(start=1_800_000_000.0)
    sim = fresh(clock=clock, rate_scale=0.005)  # 1000 -> 5 requests, 300/s -> 1.5/s
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        assert [c.get("/v1/integrations").status_code for _ in range(6)] == [200] * 5 + [429]
        limited = c.get("/v1/integrations")
        message = celigo_error(limited, 429, "rate_limited")
        assert limited.headers["retry-after"] == "1" and message == "Too many requests. Retry after 1 seconds."
        clock.advance(1)
        assert c.get("/v1/integrations").status_code == 200


def test_fault_knobs_fire() -> None:
    sim = fresh()
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers, timeout=5) as c:
        c.post("/__sim/faults", json={"error_rate": 1.0})
        celigo_error(c.get("/v1/ashares"), 500, "internal_error")
        c.post("/__sim/faults", json={"error_rate": 0.0, "rate_limit_rate": 1.0})
        assert c.get("/v1/ashares").headers["retry-after"] == "1"
        c.post("/__sim/faults", json={"rate_limit_rate": 0.0, "malformed_page_rate": 1.0})
        with pytest.raises(json.JSONDecodeError):
            c.get("/v1/integrations").json()
        c.post("/__sim/faults", json={"malformed_page_rate": 0.0, "reset_rate": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/v1/ashares")
        assert c.get("/__sim/stats").json()["faults_injected"] == {"error": 1, "rate_limit": 1, "malformed_page": 1,
                                                                   "reset": 1}
        assert c.get("/__sim/state").json()["ashares"] == USERS


# ---- conformance to the published user schema -----------------------------------------------------


# celigo-users-response.yml refers to two files that were not published with it: the shared user base
# (./base.yml#/UserBase) and the resource timestamps (../../../common/schemas/resource-response.yml).
# Stand-ins built from the notes and the docs' sample fill them in [U]; everything else is the file's own.
_USER_BASE_STAND_IN: dict[str, Any] = {
    "type": "object",
    "properties": {
        "accessLevel": {"type": "string", "enum": ["administrator", "manage", "monitor"]},
        "integrationAccessLevel": {"type": "array", "items": {
            "type": "object", "required": ["_integrationId", "accessLevel"],
            "properties": {"_integrationId": {"type": "string"},
                           "accessLevel": {"type": "string", "enum": ["manage", "monitor"]}}}},
        **{flag: {"type": "boolean"} for flag in (
            "accountSSORequired", "accountMFARequired", "allowAccessToAPIM", "allowToEditRetryData", "disabled")},
    },
}
_RESOURCE_RESPONSE_STAND_IN: dict[str, Any] = {
    "type": "object",
    "properties": {"createdAt": {"type": "string", "format": "date-time"},
                   "lastModified": {"type": "string", "format": "date-time"}},
}


def _resolve_external(node: Any) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref == "./base.yml#/UserBase":
            return _USER_BASE_STAND_IN
        if isinstance(ref, str) and ref.endswith("resource-response.yml#/ResourceResponse"):
            return _RESOURCE_RESPONSE_STAND_IN
        return {k: _resolve_external(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_external(item) for item in node]
    return node


@functools.cache
def user_validator() -> jsonschema.Draft202012Validator:
    with require_spec(USER_SCHEMA).open() as fh:
        schema = _resolve_external(yaml.safe_load(fh)["User"])
    # The schema is OpenAPI 3.1, i.e. JSON Schema 2020-12; formats (date-time, email) are checked too.
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_user_records_conform_to_the_published_schema() -> None:
    validator = user_validator()
    sim = fresh()
    with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
        records, _ = follow(c, "/v1/ashares")
        integration = sim.dataset.integrations[0].id
        records += follow(c, f"/v1/integrations/{integration}/ashares")[0]
        records.append(c.get(f"/v1/ashares/{records[0]['_id']}").json())
        records.append(c.post("/v1/invite", json={"email": "schema.check@example.com",
                                                  "integrationAccessLevel": [{"_integrationId": integration,
                                                                              "accessLevel": "monitor"}]}).json())
    for record in records:
        validator.validate(record)
    kinds = {(r.get("accessLevel"), r["accepted"], bool(r["integrationAccessLevel"])) for r in records}
    assert len(kinds) >= 6  # the generated variety is what got checked
    assert any("dismissed" in r for r in records) and any("lastSignIn" in r for r in records)


@pytest.mark.parametrize("breakage", [
    {"createdVia": "teleported"},
    {"sharedWithUser": {"email": "a@b.c", "accountSSOLinked": "sometimes"}},
    {"lastSignIn": "yesterday"},
    {"integrationAccessLevel": None},
])
def test_schema_validation_rejects_a_tampered_record(client: httpx.Client, breakage: dict[str, Any]) -> None:
    """Negative control: the conformance test would notice a wrong shape."""
    record = client.get("/v1/ashares", params={"limit": 1}).json()[0]
    user_validator().validate(record)
    with pytest.raises(jsonschema.ValidationError):
        user_validator().validate({**record, **breakage})
    missing = {k: v for k, v in record.items() if k != "createdAt"}
    with pytest.raises(jsonschema.ValidationError):
        user_validator().validate(missing)


# ---- determinism and CLI --------------------------------------------------------------------------


def _digest(ds: CeligoDataset) -> str:
    records = [ds.render_ashare(s) for s in ds.ashares] + [ds.render_integration(i) for i in ds.integrations]
    return hashlib.blake2b(json.dumps(records, sort_keys=True).encode(), digest_size=16).hexdigest()


def test_same_seed_same_account_and_token() -> None:
    a, b, other = fresh(), fresh(), fresh(seed=SEED + 1)
    assert _digest(a.dataset) == _digest(b.dataset) != _digest(other.dataset)
    assert a.token == b.token != other.token
    counts = a.dataset.counts()
    assert min(counts["administrator"], counts["manage"], counts["monitor"], counts["integration_only"],
               counts["pending_invites"]) > 0


def test_fault_sequence_replays_per_seed() -> None:
    def statuses(seed: int) -> list[int]:
        sim = fresh(seed=seed, faults=FaultSettings(error_rate=0.3, rate_limit_rate=0.1))
        with serve(sim.app) as base, httpx.Client(base_url=base, headers=sim.auth_headers) as c:
            return [c.get("/v1/ashares", params={"limit": 1 + i % 4}).status_code for i in range(40)]

    first = statuses(5)
    assert first == statuses(5) != statuses(6) and {200, 429, 500} <= set(first)


def test_cli_serves_celigo_with_a_printed_token() -> None:
    with iac_sim("celigo", "--users", "25", "--page-size", "10", "--seed", "4", "--print-credentials") as sim:
        base_url = sim.line()
        token = json.loads(sim.line())["token"]
        assert token == CeligoSim(seed=4, users=0).token
        page = httpx.get(f"{base_url}/v1/ashares", headers={"Authorization": f"Bearer {token}"})
        assert page.status_code == 200 and len(page.json()) == 10 and "next" in page.links
    stderr = sim.stderr
    assert "25 users" in stderr
