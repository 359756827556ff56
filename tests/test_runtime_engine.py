"""The sync engine and the SQLite artifact, with a small fake vendor over MockTransport in virtual time."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from iac.runtime import (
    Artifact,
    Entitlement,
    Grant,
    HttpClient,
    Page,
    Provisioner,
    Resource,
    ResourceRef,
    ResourceSyncer,
    ResourceType,
    SyncEngine,
    Trait,
    TypeGrantsSyncer,
    VirtualClock,
    next_link,
    work_path_for,
)
from iac.runtime.errors import ArtifactError, AuthError, NotFoundError, PagingError, SyncInterruptedError
from iac.runtime.testing import MockVendor, json_response

BASE = "https://acme.example"


@dataclass
class AcmeOrg:
    users: list[str]
    groups: dict[str, list[str]]
    admins: dict[str, list[str]]  # user → roles
    page: int = 10
    vanished_groups: set[str] = field(default_factory=set)


def make_org(users: int = 95, groups: int = 12) -> AcmeOrg:
    uids = [f"u{i:04d}" for i in range(users)]
    gmap = {f"g{g:03d}": [u for i, u in enumerate(uids) if i % (g + 2) == 0] for g in range(groups)}
    gmap["g-empty"] = []
    gmap["g-dangling"] = ["u-not-synced", uids[0]]
    admins = {uids[i]: ["ADMIN"] if i % 2 else ["ADMIN", "AUDITOR"] for i in range(0, users, 9)}
    return AcmeOrg(uids, gmap, admins)


def paged(request: httpx.Request, items: Sequence[object], size: int) -> httpx.Response:
    after = int(request.url.params.get("after", "0"))
    chunk = list(items[after:after + size])
    headers = {}
    if after + size < len(items):
        headers["link"] = f'<{BASE}{request.url.path}?after={after + size}>; rel="next"'
    return json_response(chunk, 200, headers)


def acme_vendor(org: AcmeOrg, clock: VirtualClock, limits: dict[str, int] | None = None) -> MockVendor:
    def bucket(method: str, path: str) -> str:
        return re.sub(r"/(?:u\d+|g\d+|[ug]-[\w-]+)(?=/|$)", "/{id}", path)

    v = MockVendor(clock=clock, limits=limits or {}, bucket_of=bucket)

    @v.route("GET", "/users")
    def users(request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        return paged(request, [{"id": u, "email": f"{u}@acme.example"} for u in org.users], org.page)

    @v.route("GET", "/groups")
    def groups(request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        return paged(request, [{"id": g, "count": len(members)} for g, members in org.groups.items()], org.page)

    @v.route("GET", r"/groups/([\w-]+)/users")
    def members(request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        if m.group(1) in org.vanished_groups:
            return json_response({"errorCode": "E0000007", "errorSummary": "Not found"}, 404)
        return paged(request, [{"id": u} for u in org.groups[m.group(1)]], org.page)

    @v.route("GET", "/admins")
    def admins(request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        return paged(request, [{"id": u} for u in org.admins], 4)

    @v.route("GET", r"/users/([\w-]+)/roles")
    def roles(request: httpx.Request, m: re.Match[str]) -> httpx.Response:
        return json_response([{"type": r} for r in org.admins.get(m.group(1), [])])

    return v


USER = ResourceType("user", "User", (Trait.USER,), has_entitlements=False, has_grants=False)
GROUP = ResourceType("group", "Group", (Trait.GROUP,))
ROLE = ResourceType("role", "Role", (Trait.ROLE,))


class Users:
    resource_type = USER

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        data, response = self.http.get_json(token or "/users")
        return Page([Resource("user", u["id"], u["email"], emails=(u["email"],)) for u in data],
                    next_link(response))

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page()

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()


class Groups:
    resource_type = GROUP

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        data, response = self.http.get_json(token or "/groups")
        return Page([Resource("group", g["id"], g["id"], profile={"count": g["count"]}) for g in data],
                    next_link(response))

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "member", f"{resource.display_name} member")])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        if resource.profile.get("count") == 0:
            return Page()
        data, response = self.http.get_json(token or f"/groups/{resource.id}/users")
        return Page([Grant(resource.ref, "member", ResourceRef("user", u["id"])) for u in data],
                    next_link(response))


class Roles:
    """Type-scoped grants with fan-out: page the admins once, then one call per admin."""

    resource_type = ROLE

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        return Page([Resource("role", r, r.title()) for r in ("ADMIN", "AUDITOR")])

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "assigned", "assigned", ("user", "group"))])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        raise AssertionError("type_grants replaces per-resource grants")

    def type_grants(self, token: str | None) -> Page[Grant]:
        if token and token.startswith("user:"):
            uid = token.removeprefix("user:")
            data, _ = self.http.get_json(f"/users/{uid}/roles")
            return Page([Grant(ResourceRef("role", r["type"]), "assigned", ResourceRef("user", uid))
                         for r in data])
        data, response = self.http.get_json(token or "/admins")
        return Page([], next_link(response), fanout=tuple(f"user:{u['id']}" for u in data))


class Acme:
    name = "acme"

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def syncers(self) -> Sequence[ResourceSyncer]:
        return [Users(self.http), Groups(self.http), Roles(self.http)]

    def validate(self) -> None:
        self.http.request("GET", "/users")

    def provisioner(self) -> Provisioner | None:
        return None

    @property
    def prune_principal_types(self) -> frozenset[str]:
        return frozenset({"user"})

    def close(self) -> None:
        self.http.close()


def acme(org: AcmeOrg, clock: VirtualClock, limits: dict[str, int] | None = None,
         share: float = 0.5) -> tuple[Acme, MockVendor]:
    vendor = acme_vendor(org, clock, limits)
    http = HttpClient(BASE, transport=vendor.transport(), clock=clock, share=share, bucket_of=vendor.bucket_of)
    return Acme(http), vendor


def expected_grants(org: AcmeOrg) -> set[str]:
    out = {f"group:{g}:member:user:{u}" for g, members in org.groups.items() for u in members
           if u in org.users and g not in org.vanished_groups}
    out |= {f"role:{r}:assigned:user:{u}" for u, roles in org.admins.items() for r in roles}
    return out


def test_capabilities_are_runtime_checkable_protocols() -> None:
    clock = VirtualClock()
    connector, _ = acme(make_org(), clock)
    syncers = connector.syncers()
    assert all(isinstance(s, ResourceSyncer) for s in syncers)
    assert [isinstance(s, TypeGrantsSyncer) for s in syncers] == [False, False, True]
    assert not isinstance(syncers[0], Provisioner)


def test_a_full_sync_writes_everything_and_publishes_atomically(tmp_path: Path) -> None:
    org = make_org()
    clock = VirtualClock()
    connector, vendor = acme(org, clock)
    artifact = tmp_path / "sync.sqlite"
    result = SyncEngine(connector, artifact, workers=4, clock=clock).run()
    assert artifact.is_file() and not work_path_for(artifact).exists()
    with Artifact(artifact) as art:
        content = art.content()
        assert {r[1] for r in content["resources"] if r[0] == "user"} == set(org.users)
        assert {r[1] for r in content["resources"] if r[0] == "group"} == set(org.groups)
        assert {g[0] for g in content["grants"]} == expected_grants(org)
        assert {e[0] for e in content["entitlements"]} == (
            {f"group:{g}:member" for g in org.groups} | {"role:ADMIN:assigned", "role:AUDITOR:assigned"})
        assert [r.sync_id for r in art.runs()] == [result.sync_id]
    assert result.pruned_grants == 1  # g-dangling's member that is not a synced user
    assert result.stats["grants"]["total"] == len(expected_grants(org))
    assert not any(e.path == "/groups/g-empty/users" for e in vendor.log)  # empty groups cost nothing
    assert vendor.statuses().keys() == {200}


def test_buckets_are_worked_concurrently_so_the_sync_takes_the_slowest_bucket_not_the_sum(tmp_path: Path) -> None:
    org = make_org(users=400, groups=40)
    limits = {"/users": 20, "/groups/{id}/users": 20, "/users/{id}/roles": 20, "/admins": 20, "/groups": 20}
    clock = VirtualClock()
    connector, vendor = acme(org, clock, limits)
    start = clock.time()
    SyncEngine(connector, tmp_path / "a.sqlite", workers=6, clock=clock).run()
    took = clock.time() - start
    per_bucket: dict[str, int] = {}
    for entry in vendor.log:
        per_bucket[entry.bucket] = per_bucket.get(entry.bucket, 0) + 1
    assert vendor.statuses() == {200: len(vendor.log)}  # no 429 at all
    budget = 20 * 0.5  # requests per 60 s window each bucket may use
    floors = {b: (n / budget) * 60 for b, n in per_bucket.items()}
    slowest, total = max(floors.values()), sum(floors.values())
    assert took <= slowest * 1.15 + 1, (took, floors)
    assert took < total * 0.6


def test_stop_checkpoints_and_the_next_run_resumes_to_the_same_content(tmp_path: Path) -> None:
    org = make_org(users=200, groups=20)
    clean_clock = VirtualClock()
    clean_connector, clean_vendor = acme(org, clean_clock)
    clean = tmp_path / "clean.sqlite"
    SyncEngine(clean_connector, clean, workers=3, clock=clean_clock).run()

    clock = VirtualClock()
    stop = threading.Event()
    connector, vendor = acme(org, clock)
    original = vendor.handle

    def stop_after_some(request: httpx.Request) -> httpx.Response:
        if len(vendor.log) == 25:
            stop.set()
        return original(request)

    vendor.handle = stop_after_some  # type: ignore[method-assign]
    artifact = tmp_path / "sync.sqlite"
    with pytest.raises(SyncInterruptedError):
        SyncEngine(connector, artifact, workers=3, clock=clock, stop=stop, checkpoint_interval=0).run()
    assert not artifact.exists() and work_path_for(artifact).exists()
    first_requests = len(vendor.log)

    result = SyncEngine(connector, artifact, workers=3, clock=clock).run()
    assert result.resumed
    with Artifact(artifact) as a, Artifact(clean) as b:
        assert a.content() == b.content()
    resumed_requests = len(vendor.log) - first_requests
    assert first_requests >= 25 and resumed_requests < len(clean_vendor.log) - 15  # no redo from scratch


def test_a_failure_keeps_the_previous_artifact_byte_for_byte_and_resumes(tmp_path: Path) -> None:
    org = make_org(users=60, groups=6)
    clock = VirtualClock()
    artifact = tmp_path / "sync.sqlite"
    connector, vendor = acme(org, clock)
    SyncEngine(connector, artifact, workers=2, clock=clock).run()
    before = artifact.read_bytes()

    org.users.append("u-new")
    original = vendor.handle
    failing = {"on": True}

    def flaky(request: httpx.Request) -> httpx.Response:
        if failing["on"] and request.url.path == "/groups/g003/users":
            return json_response({"errorCode": "E0000011", "errorSummary": "Invalid token"}, 401)
        return original(request)

    vendor.handle = flaky  # type: ignore[method-assign]
    with pytest.raises(AuthError):
        SyncEngine(connector, artifact, workers=2, clock=clock, checkpoint_interval=0).run()
    assert artifact.read_bytes() == before
    failing["on"] = False
    result = SyncEngine(connector, artifact, workers=2, clock=clock).run()
    assert result.resumed
    with Artifact(artifact) as art:
        runs = art.runs()
        assert len(runs) == 2  # the new sync and the previous one, for diffs
        assert "u-new" in {r[1] for r in art.content(runs[0].sync_id)["resources"]}
        assert "u-new" not in {r[1] for r in art.content(runs[1].sync_id)["resources"]}


def test_only_the_latest_two_complete_syncs_are_kept(tmp_path: Path) -> None:
    org = make_org(users=20, groups=2)
    clock = VirtualClock()
    connector, _ = acme(org, clock)
    artifact = tmp_path / "sync.sqlite"
    ids = [SyncEngine(connector, artifact, clock=clock).run().sync_id for _ in range(3)]
    with Artifact(artifact) as art:
        assert [r.sync_id for r in art.runs()] == [ids[2], ids[1]]
        leftovers = {row[0] for row in art.rows("SELECT DISTINCT sync_id FROM v1_resources")}
        assert leftovers == {ids[1], ids[2]}


def test_a_resource_that_vanishes_mid_sync_is_skipped(tmp_path: Path) -> None:
    org = make_org(users=30, groups=4)
    org.vanished_groups.add("g001")
    clock = VirtualClock()
    connector, _ = acme(org, clock)
    SyncEngine(connector, tmp_path / "s.sqlite", clock=clock).run()
    with Artifact(tmp_path / "s.sqlite") as art:
        grants = {g[0] for g in art.content()["grants"]}
    assert grants == expected_grants(org) and not any(g.startswith("group:g001:") for g in grants)


def test_pending_work_stays_bounded_with_many_resources(tmp_path: Path) -> None:
    org = make_org(users=50, groups=3000)
    org.page = 500
    clock = VirtualClock()
    connector, _ = acme(org, clock)
    engine = SyncEngine(connector, tmp_path / "s.sqlite", workers=4, clock=clock)
    engine.run()
    assert engine.peak_pending <= 2 * (2 * 4 + 256) + 10  # two per-resource lanes, fed in batches


def test_a_connector_returning_the_same_token_again_is_stopped(tmp_path: Path) -> None:
    clock = VirtualClock()

    class Looping(Users):
        def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
            return Page([Resource("user", "u1", "u1")], next_token="same")

    connector, _ = acme(make_org(), clock)
    connector.syncers = lambda: [Looping(connector.http)]  # type: ignore[method-assign]
    with pytest.raises(PagingError, match=r"list/user.*'same' came back after 1 page"):
        SyncEngine(connector, tmp_path / "s.sqlite", clock=clock).run()


def test_a_paging_cycle_a_b_a_is_a_clear_error_naming_the_endpoint(tmp_path: Path) -> None:
    """Only an immediately repeated token used to be noticed: A→B→A looped forever."""
    clock = VirtualClock()
    pages = {None: "A", "A": "B", "B": "A"}

    class Cycling(Users):
        def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
            self.http.get_json("/users", params={"page": token or "first"})
            return Page([Resource("user", f"u-{token}", "x")], next_token=pages[token])

    connector, vendor = acme(make_org(), clock)
    connector.syncers = lambda: [Cycling(connector.http)]  # type: ignore[method-assign]
    with pytest.raises(PagingError, match=r"list/user \(GET /users\): the next-page token 'A' came back after 2"):
        SyncEngine(connector, tmp_path / "s.sqlite", clock=clock).run()
    assert len(vendor.log) == 3


def test_every_chain_of_pages_is_bounded(tmp_path: Path) -> None:
    clock = VirtualClock()

    class Endless(Users):
        def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
            n = int(token or 0)
            return Page([Resource("user", f"u{n}", "x")], next_token=str(n + 1))

    connector, _ = acme(make_org(), clock)
    connector.syncers = lambda: [Endless(connector.http)]  # type: ignore[method-assign]
    with pytest.raises(PagingError, match="more than 50 pages"):
        SyncEngine(connector, tmp_path / "s.sqlite", clock=clock, max_pages=50).run()


def test_a_file_that_is_not_an_artifact_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "sync.sqlite"
    bogus.write_bytes(b"C1ZF\x00 not zstd")
    clock = VirtualClock()
    connector, _ = acme(make_org(), clock)
    with pytest.raises(ArtifactError, match="damaged c1z"):
        SyncEngine(connector, bogus, clock=clock).run()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ArtifactError):
        Artifact(other)


def test_a_fanout_target_that_vanishes_is_skipped_but_a_missing_type_listing_fails(tmp_path: Path) -> None:
    org = make_org(users=30, groups=2)
    clock = VirtualClock()
    connector, vendor = acme(org, clock)
    gone = next(iter(org.admins))
    original = vendor.handle

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/users/{gone}/roles":
            return json_response({"errorCode": "E0000007", "errorSummary": "Not found"}, 404)
        return original(request)

    vendor.handle = handler  # type: ignore[method-assign]
    SyncEngine(connector, tmp_path / "s.sqlite", clock=clock).run()
    with Artifact(tmp_path / "s.sqlite") as art:
        grants = {g[0] for g in art.content()["grants"]}
    assert grants == {g for g in expected_grants(org) if not g.endswith(f":user:{gone}") or g.startswith("group:")}

    def no_groups(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/groups":
            return json_response({"errorCode": "E0000007", "errorSummary": "Not found"}, 404)
        return original(request)

    vendor.handle = no_groups  # type: ignore[method-assign]
    with pytest.raises(NotFoundError):
        SyncEngine(connector, tmp_path / "t.sqlite", clock=clock).run()
