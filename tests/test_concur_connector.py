"""The SAP Concur connector against the Concur simulator: exact equality with the seeded company, the
token's geolocation, refresh-token rotation, token renewal, faults, and role provisioning through User
Provisioning's asynchronous Bulk requests."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from iac.connectors.concur import SPEND_ROLES, ConcurConnector, build, checked_geolocation
from iac.connectors.concur.auth import ConcurSession
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
from iac.runtime.errors import ApiError, AuthError, BadRequestError, EmptyListingError, FatalApiError
from iac.runtime.testing import RecordingTransport, json_response
from iac.sim import CONCUR_SCOPES, ConcurSim, serve
from iac.sim._concur_data import ENTITLEMENTS
from iac.sim._concur_data import SPEND_ROLES as SIM_SPEND_ROLES
from iac.spec import Concur

Content = dict[str, set[tuple[str, ...]]]
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GEO = "https://us2.api.concursolutions.com"


def settings(sim: ConcurSim, base_url: str | None, **kw: Any) -> RuntimeSettings:
    return load_settings(Concur, environ={}, base_url=GEO, client_id=sim.client_id, client_secret=sim.client_secret,
                         refresh_token=sim.refresh_token, base_url_override=base_url, **kw)


def sync(sim: ConcurSim, base_url: str, path: Path, *, wiring: Wiring | None = None, **kw: Any) -> Content:
    connector = build(settings(sim, base_url, **kw), wiring or Wiring())
    try:
        SyncEngine(connector, path, workers=6).run()
    finally:
        connector.close()
    with Artifact(path) as art:
        return art.content()


def expected_grants(sim: ConcurSim) -> set[str]:
    ds = sim.dataset
    return ({f"role:spend:{code}:assigned:user:{u}" for u, code in ds.role_assignments()}
            | {f"role:concur:{p}:assigned:user:{u}" for u, p in ds.entitlement_assignments()})


@pytest.fixture(scope="module")
def company() -> Iterator[tuple[ConcurSim, str]]:
    sim = ConcurSim(seed=41, users=1300)
    with serve(sim.app) as base_url:
        yield sim, base_url


def test_sync_equals_the_seeded_company_exactly(company: tuple[ConcurSim, str], tmp_path: Path) -> None:
    sim, base = company
    ds = sim.dataset
    content = sync(sim, base, tmp_path / "s.sqlite")
    resources = {(t, rid): json.loads(data) for t, rid, data in content["resources"]}
    users = {rid: data for (t, rid), data in resources.items() if t == "user"}
    assert set(users) == {u.id for u in ds.users}
    for i, user in enumerate(ds.users):  # Veza's attribute set and the names, as Concur renders them
        truth = ds.render_identity(i, base)
        enterprise = truth[ENTERPRISE]
        data = users[user.id]
        assert data["profile"] == {
            "user_name": user.user_name, "display_name": truth["displayName"], "given_name": user.given_name,
            "family_name": user.family_name, "is_active": user.active, "email": user.email,
            "employee_number": user.employee_number, "cost_center": user.cost_center,
            "start_date": enterprise["startDate"], "termination_date": enterprise.get("terminationDate")}
        assert data["status"] == ("enabled" if user.active else "disabled")
        assert (data["login"], data["emails"]) == (user.user_name, [user.email])
    roles = {rid for (t, rid) in resources if t == "role"}
    assert {f"concur:{p}" for p in ENTITLEMENTS} | {f"spend:{code}" for code in SIM_SPEND_ROLES} <= roles
    assert len(roles) == len(ENTITLEMENTS) + len(SPEND_ROLES)
    grants = {gid: json.loads(data) for gid, data in content["grants"]}
    assert set(grants) == expected_grants(sim)
    for user in ds.users:  # group-aware roles keep their groups
        for code, groups in user.roles:
            data = grants[f"role:spend:{code}:assigned:user:{user.id}"]
            assert data.get("data", {}).get("role_groups", []) == list(groups)
    for code, aware in SIM_SPEND_ROLES.items():
        assert SPEND_ROLES[code].group_aware is aware, code


def test_pages_are_the_documented_maxima_and_spend_pages_fan_out(company: tuple[ConcurSim, str],
                                                                 tmp_path: Path) -> None:
    sim, base = company
    recording = RecordingTransport()
    sync(sim, base, tmp_path / "s.sqlite", wiring=Wiring(transport=recording))
    seen = recording.urls
    users = len(sim.dataset.users)
    identity = [u for u in seen if u.path == "/profile/identity/v4.1/Users"]
    spend = [u for u in seen if u.path == "/profile/spend/v4.1/Users"]
    assert {u.params["count"] for u in identity} == {"1000"} and {u.params["count"] for u in spend} == {"100"}
    assert len(identity) == 2 * math.ceil(users / 1000)  # the user walk and the product walk
    assert sorted(int(u.params["startIndex"]) for u in spend) == list(range(1, users + 1, 100))
    assert {u.params["attributes"] for u in identity} == {
        "id,entitlements", f"id,userName,active,displayName,name,emails,{ENTERPRISE}"}


class Counted:
    """ASGI wrapper counting requests by path; ``geolocation`` rewrites the one token answers name."""

    def __init__(self, app: Any, geolocation: str | None = None) -> None:
        self.app = app
        self.geolocation = geolocation
        self.paths: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.paths.append(scope["path"])
        if self.geolocation is None or scope["path"] != "/oauth2/v0/token":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body = bytearray()

        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            data = json.loads(bytes(body))
            data["geolocation"] = self.geolocation
            payload = json.dumps(data).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(payload)).encode())]})
            await send({"type": "http.response.body", "body": payload})

        await self.app(scope, receive, rewrite)


def test_every_call_after_the_first_token_goes_to_the_geolocation_it_names(tmp_path: Path) -> None:
    sim = ConcurSim(seed=42, users=250)
    company_host = Counted(sim.app)
    with serve(company_host) as geo:
        login_host = Counted(sim.app, geolocation=geo)
        with serve(login_host) as first:
            connector = build(settings(sim, first), Wiring())
            engine = SyncEngine(connector, tmp_path / "s.sqlite", workers=4)
            connector.session.tokens.current()
            sim.expire_tokens()  # the renewal must go to the geolocation too
            engine.run()
            connector.close()
    assert login_host.paths == ["/oauth2/v0/token"]
    assert company_host.paths.count("/oauth2/v0/token") == 1
    assert any(p.startswith("/profile/") for p in company_host.paths)
    assert connector.session.geolocation == geo
    with Artifact(tmp_path / "s.sqlite") as art:
        assert {gid for gid, _ in art.content()["grants"]} == expected_grants(sim)


def test_a_geolocation_outside_concur_is_never_followed_without_base_url() -> None:
    hosts: list[str] = []

    def vendor(named: str) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            hosts.append(request.url.host)
            if request.url.path == "/oauth2/v0/token":
                return json_response({"access_token": "a", "expires_in": "3600", "refresh_token": "r",
                                      "geolocation": named})
            return json_response({"Resources": [], "totalResults": 0})
        return httpx.MockTransport(handle)

    sim = ConcurSim(seed=43, users=1)
    connector = build(settings(sim, None), Wiring(transport=vendor("https://attacker.example.net")))
    with pytest.raises(FatalApiError, match="not a Concur geolocation"):
        connector.validate()
    connector.close()
    assert hosts == ["us2.api.concursolutions.com"]  # the token request, and nothing after it

    hosts.clear()
    connector = build(settings(sim, None), Wiring(transport=vendor("https://us.api.concursolutions.com/")))
    connector.validate()
    connector.close()
    assert hosts == ["us2.api.concursolutions.com", "us.api.concursolutions.com"]
    assert checked_geolocation("https://127.0.0.1:9", trust_any=True) == "https://127.0.0.1:9"
    with pytest.raises(FatalApiError, match="invalid geolocation"):
        checked_geolocation("https://us.api.concursolutions.com/profile", trust_any=True)


class ExpireTokens(RecordingTransport):
    def __init__(self, sim: ConcurSim, at: set[int]) -> None:
        super().__init__()
        self.sim = sim
        self.at = at
        self.count = 0

    def before(self, request: httpx.Request) -> None:
        if request.url.path.startswith("/profile/"):
            self.count += 1
            if self.count in self.at:
                self.sim.expire_tokens()


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_token_expiry_mid_sync_is_recovered_with_the_rotated_refresh_token(tmp_path: Path) -> None:
    """The simulator rotates the refresh token on every refresh and, with no grace period, refuses the old
    one at once: the second and third refreshes only work if the connector kept the rotated token."""
    sim = ConcurSim(seed=44, users=1300, refresh_grace_seconds=0)
    original = sim.refresh_token
    handler = Collect()
    announced = handler.records
    auth_log = logging.getLogger("iac.connectors.concur.auth")
    auth_log.addHandler(handler)
    try:
        with serve(sim.app) as base:
            connector = build(settings(sim, base), Wiring(transport=ExpireTokens(sim, {3, 12})))
            SyncEngine(connector, tmp_path / "s.sqlite", workers=6).run()
            connector.close()
    finally:
        auth_log.removeHandler(handler)
    assert sim.stats.by_endpoint()["POST /oauth2/v0/token"] == {"200": 3}
    assert connector.session.rotations == 3
    assert not sim.refresh_tokens.is_valid(original)
    warnings = [r.getMessage() for r in announced if r.levelno == logging.WARNING]
    assert len(warnings) == 3 and all("BATON_CONCUR_REFRESH_TOKEN" in w for w in warnings)
    assert all(original not in w for w in warnings)
    with Artifact(tmp_path / "s.sqlite") as art:
        assert {gid for gid, _ in art.content()["grants"]} == expected_grants(sim)


class ExpireAgainBeforeTheRetry(RecordingTransport):
    """The flaky interleaving, forced: every token ends at the 3rd API request; the retry of the first request
    refused then waits while another request uses the renewed token, and that token ends too just before
    the retry goes out (as when a starved worker's retry lands after the next expiry)."""

    def __init__(self, sim: ConcurSim) -> None:
        super().__init__()
        self.sim = sim
        self.session: ConcurSession | None = None
        self.lock = threading.Lock()
        self.count = 0
        self.refused_thread: int | None = None  # the thread of the first 401
        self.held = False
        self.other_request_worked = False
        self.held_retry_refused = False

    def before(self, request: httpx.Request) -> None:
        if not request.url.path.startswith("/profile/"):
            return
        with self.lock:
            self.count += 1
            if self.count == 3:
                self.sim.expire_tokens()
            hold = self.refused_thread == threading.get_ident() and not self.held
            self.held = self.held or hold
        if hold:  # this is the retry, carrying the renewed token
            other = threading.Thread(target=self._use_the_current_token)
            other.start()
            other.join(30)
            self.sim.expire_tokens()

    def _use_the_current_token(self) -> None:
        assert self.session is not None
        self.session.api().get_json("/profile/identity/v4.1/Users", params={"count": 1})
        self.other_request_worked = True

    def after(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.url.path.startswith("/profile/") and response.status_code == 401:
            with self.lock:
                if self.refused_thread is None:
                    self.refused_thread = threading.get_ident()
                elif self.refused_thread == threading.get_ident() and self.held:
                    self.held_retry_refused = True
        return response


def test_a_token_that_expires_again_before_a_renewed_retry_is_answered_is_renewed_again(tmp_path: Path) -> None:
    sim = ConcurSim(seed=47, users=1300, refresh_grace_seconds=0)
    transport = ExpireAgainBeforeTheRetry(sim)
    with serve(sim.app) as base:
        connector = build(settings(sim, base), Wiring(transport=transport))
        transport.session = connector.session
        try:
            SyncEngine(connector, tmp_path / "s.sqlite", workers=6).run()
        finally:
            connector.close()
    assert transport.other_request_worked and transport.held_retry_refused  # the interleaving happened
    assert sim.stats.by_endpoint()["POST /oauth2/v0/token"] == {"200": 3}
    assert connector.session.rotations == 3
    with Artifact(tmp_path / "s.sqlite") as art:
        assert {gid for gid, _ in art.content()["grants"]} == expected_grants(sim)


def test_the_access_token_is_renewed_before_its_hour_is_up() -> None:
    clock = VirtualClock()
    sim = ConcurSim(seed=45, users=5, clock=clock)
    with serve(sim.app) as base:
        connector = build(settings(sim, base), Wiring(clock=clock))
        connector.validate()
        clock.advance(3600 - 301)
        connector.validate()
        clock.advance(2)  # inside the last five minutes: renewed although the token still works
        connector.validate()
        connector.close()
    assert sim.stats.by_endpoint()["POST /oauth2/v0/token"] == {"200": 2}
    assert all("401" not in counts for counts in sim.stats.by_endpoint().values())


def test_sync_survives_injected_faults(tmp_path: Path) -> None:
    sim = ConcurSim(seed=46, users=900)
    sim.set_faults(error_rate=0.08, reset_rate=0.05, malformed_page_rate=0.1, rate_limit_rate=0.05)
    with serve(sim.app) as base:
        content = sync(sim, base, tmp_path / "f.sqlite", http_timeout_seconds=1.0)
    assert sum(sim.fault_plan.injected.values()) >= 2, sim.fault_plan.injected
    assert {gid for gid, _ in content["grants"]} == expected_grants(sim)


def test_a_wrong_refresh_token_fails_with_auth_error_and_no_artifact(company: tuple[ConcurSim, str],
                                                                     tmp_path: Path) -> None:
    sim, base = company
    connector = build(load_settings(Concur, environ={}, base_url=GEO, client_id=sim.client_id,
                                    client_secret=sim.client_secret, refresh_token="sentinel-wrong-refresh",
                                    base_url_override=base), Wiring())
    with pytest.raises(AuthError, match="invalid_grant") as info:
        connector.validate()
    assert "sentinel-wrong-refresh" not in str(info.value)
    with pytest.raises(AuthError):
        SyncEngine(connector, tmp_path / "x.sqlite").run()
    connector.close()
    assert not (tmp_path / "x.sqlite").exists()


# -- provisioning -------------------------------------------------------------------------------------


def provisioned(**kw: Any) -> Iterator[tuple[ConcurSim, ConcurConnector]]:
    sim = ConcurSim(seed=47, users=40, provision_delay=0.3, **kw)
    with serve(sim.app) as base:
        connector = build(settings(sim, base, provisioning=True), Wiring())
        yield sim, connector
        connector.close()


@pytest.fixture
def writable() -> Iterator[tuple[ConcurSim, ConcurConnector]]:
    yield from provisioned()


@pytest.mark.parametrize("code", ["EXP_APPROVER", "EXP_PROCESSOR"])  # plain, and group-aware
def test_spend_roles_are_granted_and_revoked_idempotently_once_concur_applied_them(
        writable: tuple[ConcurSim, ConcurConnector], code: str) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    user = next(u for u in sim.dataset.users if code not in dict(u.roles))
    principal = ResourceRef("user", user.id)
    ent = Entitlement(ResourceRef("role", f"spend:{code}"), "assigned", "x")
    assert prov.grant(principal, ent).outcome is ProvisionOutcome.GRANTED
    assert dict(sim.dataset.user(user.id).roles)[code] == (("",) if SIM_SPEND_ROLES[code] else ())
    assert prov.grant(principal, ent).outcome is ProvisionOutcome.ALREADY_GRANTED
    grant = Grant(ent.resource, "assigned", principal)
    assert prov.revoke(grant).outcome is ProvisionOutcome.REVOKED
    assert code not in dict(sim.dataset.user(user.id).roles)
    assert prov.revoke(grant).outcome is ProvisionOutcome.ALREADY_REVOKED
    bulks = [w.body for w in sim.writes.entries("POST", "/profile/v4/Bulk")]
    assert len(bulks) == 2
    assert [b["Operations"][0]["data"]["Operations"][0]["op"] for b in bulks] == ["add", "remove"]
    assert sim.stats.count("GET /profile/v4/provisions/{provisionId}/status") >= 4  # waited for each


def test_base_products_are_granted_and_revoked_idempotently(writable: tuple[ConcurSim, ConcurConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    user = next(u for u in sim.dataset.users if "Invoice" not in u.entitlements)
    principal = ResourceRef("user", user.id)
    ent = Entitlement(ResourceRef("role", "concur:Invoice"), "assigned", "x")
    grant = Grant(ent.resource, "assigned", principal)
    outcomes = [prov.grant(principal, ent).outcome, prov.grant(principal, ent).outcome]
    assert "Invoice" in sim.dataset.user(user.id).entitlements
    outcomes += [prov.revoke(grant).outcome, prov.revoke(grant).outcome]
    assert outcomes == [ProvisionOutcome.GRANTED, ProvisionOutcome.ALREADY_GRANTED, ProvisionOutcome.REVOKED,
                        ProvisionOutcome.ALREADY_REVOKED]
    assert "Invoice" not in sim.dataset.user(user.id).entitlements
    assert set(sim.dataset.user(user.id).entitlements) == set(user.entitlements)


def test_a_change_concur_refuses_surfaces_with_its_message() -> None:
    for sim, connector in provisioned(scopes=CONCUR_SCOPES - {"spend.user.general.writeonly"}):
        user = next(u for u in sim.dataset.users if "EXP_APPROVER" not in dict(u.roles))
        with pytest.raises(ApiError, match=r"lacks the scope spend\.user\.general\.writeonly"):
            connector.provisioner().grant(ResourceRef("user", user.id),
                                          Entitlement(ResourceRef("role", "spend:EXP_APPROVER"), "assigned", "x"))
        assert "EXP_APPROVER" not in dict(sim.dataset.user(user.id).roles)


def test_provisioning_refuses_unknown_roles_and_non_users(writable: tuple[ConcurSim, ConcurConnector]) -> None:
    sim, connector = writable
    prov = connector.provisioner()
    user = ResourceRef("user", sim.dataset.users[0].id)
    for principal, entitlement, message in [
        (user, Entitlement(ResourceRef("role", "spend:NOT_A_ROLE"), "assigned", "x"), "unknown Concur role"),
        (user, Entitlement(ResourceRef("role", "EXP_USER"), "assigned", "x"), "unknown Concur role"),
        (user, Entitlement(ResourceRef("user", "x"), "member", "x"), "cannot provision"),
        (ResourceRef("group", "g"), Entitlement(ResourceRef("role", "spend:EXP_USER"), "assigned", "x"), "user"),
    ]:
        with pytest.raises(BadRequestError, match=message):
            prov.grant(principal, entitlement)
    assert sim.writes.entries() == []


def test_a_token_that_sees_no_users_fails_the_sync_saying_so(company: tuple[ConcurSim, str], tmp_path: Path) -> None:
    sim, base = company

    class NoUsers(RecordingTransport):
        def after(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
            if request.url.path == "/profile/identity/v4.1/Users" and "cursor" not in request.url.params:
                response.close()  # the simulator's own answer is dropped: give its connection back
                return json_response({"Resources": [], "totalResults": 0})
            return response

    with pytest.raises(EmptyListingError, match="SAP Concur listed no users at all"):
        sync(sim, base, tmp_path / "s.sqlite", wiring=Wiring(transport=NoUsers()))
    assert not (tmp_path / "s.sqlite").exists()
