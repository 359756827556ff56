"""iac.c1z: the generated messages are current, and the reader opens what real baton connectors write.

The inputs are real: the upstream baton-okta and baton-celigo binaries (../shared/bin) sync the project's
simulators over HTTPS, and the real `baton` CLI reads the same files for comparison.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import zstandard
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from iac.c1z import C1zError, open_c1z, pb, wire
from iac.runtime import Grant, Resource, ResourceRef, ResourceType, Trait, UserStatus
from iac.runtime import _c1z_codec as codec
from iac.runtime._store import _Writer, resource_row
from iac.sim import CeligoSim, CoupaSim, OktaSim
from iac.sim import upstream as sim_upstream
from iac.sim.upstream import vendor_endpoint
from tests._upstream import (
    REPO_ROOT,
    baton,
    baton_json,
    baton_stats,
    make_certificate,
    run_upstream,
    serve_https,
    upstream_binary,
)


def test_generated_messages_match_the_proto_files() -> None:
    result = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "gen-c1z-protos.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_field_numbers_are_baton_sdks() -> None:
    # A few load-bearing facts from baton-sdk's proto/c1/connector/v2: a wrong number would silently misread.
    numbers = {(m.DESCRIPTOR.name, f.name): f.number
               for m in (pb.Resource, pb.Grant, pb.Entitlement, pb.UserTrait, pb.GrantExpandable)
               for f in m.DESCRIPTOR.fields}
    assert numbers[("Resource", "parent_resource_id")] == 2
    assert numbers[("Resource", "annotations")] == 4
    assert numbers[("Grant", "principal")] == 2
    assert numbers[("Grant", "sources")] == 5
    assert numbers[("Entitlement", "slug")] == 8
    assert numbers[("UserTrait", "login")] == 6
    assert numbers[("UserTrait", "employee_ids")] == 13
    assert numbers[("GrantExpandable", "entitlement_ids")] == 1


# -- upstream files ---------------------------------------------------------------------------------------

def _okta_app(sim: OktaSim) -> Starlette:
    """The simulator plus the two endpoints baton-okta calls first (org in Validate, devices)."""
    async def org(request: Request) -> JSONResponse:
        return JSONResponse({"id": "00o1sim", "subdomain": "acme", "status": "ACTIVE"})

    async def devices(request: Request) -> JSONResponse:
        return JSONResponse([])

    return Starlette(routes=[Route("/api/v1/org", org), Route("/api/v1/devices", devices), Mount("/", app=sim.app)])


@pytest.fixture(scope="module")
def upstream_c1z(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """c1z files written by the upstream binaries: okta (v1, and v3 by default), celigo (v1), coupa (v1)."""
    work = tmp_path_factory.mktemp("upstream")
    cert, key = make_certificate(work, ["acme.okta.com", "api.integrator.io"])
    okta = OktaSim(seed=7, users=60, groups=6, apps=3)
    celigo = CeligoSim(seed=7, users=40, integrations=3)
    files = {"okta": work / "okta.c1z", "okta-v3": work / "okta-v3.c1z", "celigo": work / "celigo.c1z",
             "coupa": work / "coupa.c1z"}
    with serve_https(_okta_app(okta), cert, key) as okta_ip, serve_https(celigo.app, cert, key) as celigo_ip:
        hosts = {"acme.okta.com": okta_ip, "api.integrator.io": celigo_ip}
        okta_env = {"BATON_API_TOKEN": okta.token}
        runs = [
            ("baton-okta", ["--domain", "acme.okta.com", "-f", str(files["okta"]), "--storage-engine", "sqlite"],
             okta_env),
            ("baton-okta", ["--domain", "acme.okta.com", "-f", str(files["okta-v3"])], okta_env),
            ("baton-celigo", ["-f", str(files["celigo"])], {"BATON_CELIGO_ACCESS_TOKEN": celigo.token}),
        ]
        for name, args, env in runs:
            assert not any(value in args for value in env.values())  # credentials never in process arguments
            result = run_upstream(upstream_binary(name), args, hosts=hosts, cert=cert, workdir=work, env=env)
            assert result.returncode == 0, result.stderr[-2000:]
    # baton-coupa does not pace itself, and the simulator enforces Coupa's 25 requests/s with a bare 429 (as
    # Coupa does), after which the SDK waits 60 s: the 45 ms a request of a real network keeps it under the limit.
    coupa = CoupaSim(seed=7, users=40, user_groups=4)
    coupa.set_faults(latency_ms=45)
    with vendor_endpoint(coupa.app, "acme.coupahost.com", work) as endpoint:
        run = sim_upstream.run_upstream("baton-coupa", ["--coupa-domain", endpoint.hostname, "-f", str(files["coupa"])],
                                        endpoints=[endpoint], env={"BATON_COUPA_CLIENT_ID": coupa.client_id,
                                                                   "BATON_COUPA_CLIENT_SECRET": coupa.client_secret},
                                        cwd=work, timeout=120)
    assert run.returncode == 0 and run.error_lines() == [], run.error_lines()[:3] or run.stderr[-2000:]
    yield files


def _id(ref: dict[str, object]) -> str:
    return f"{ref['resourceType']}:{ref['resource']}"


def test_reader_lists_what_baton_lists_for_an_upstream_file(upstream_c1z: dict[str, Path]) -> None:
    path = upstream_c1z["celigo"]
    with open_c1z(path) as c1z:
        resources = {f"{r.id.resource_type}:{r.id.resource}" for r in c1z.resources()}
        grants = {g.id for g in c1z.grants()}
        entitlements = {e.id for e in c1z.entitlements()}
        types = {t.id for t in c1z.resource_types()}
        counts = c1z.counts()
        runs = c1z.sync_runs()
    assert {_id(r["resource"]["id"]) for r in baton_json(path, "resources")["resources"]} == resources  # type: ignore[index]
    assert {g["grant"]["id"] for g in baton_json(path, "grants")["grants"]} == grants  # type: ignore[index]
    assert {e["entitlement"]["id"] for e in baton_json(path, "entitlements")["entitlements"]} == entitlements  # type: ignore[index]
    stats = baton_stats(path)
    assert stats["resource_types"] == len(types)
    assert stats["grants"] == len(grants) == sum(counts["grants"].values())
    assert {t: stats[t] for t in counts["resources"]} == counts["resources"]
    # The SDK of baton-celigo (v0.1.26) has the five-column v1_sync_runs: type and parent default.
    assert len(runs) == 1 and runs[0].ended_at is not None and runs[0].sync_type == "full"
    assert runs[0].parent_sync_id == "" and runs[0].ended_at >= runs[0].started_at  # type: ignore[operator]


def test_reader_reads_the_newest_sdks_file(upstream_c1z: dict[str, Path]) -> None:
    """baton-okta (SDK v0.25) writes traits the baton CLI v0.7.27 cannot decode (NonHumanIdentityTrait on
    apps), so `baton resources -o json` fails on the whole file; `stats` and the per-type listings of the other types
    still work and agree with the reader."""
    path = upstream_c1z["okta"]
    with open_c1z(path) as c1z:
        counts = c1z.counts()
        by_type = {t: {r.id.resource for r in c1z.resources(resource_type_id=t)} for t in ("user", "group", "role")}
        apps = list(c1z.resources(resource_type_id="app"))
        user_grants = {g.id for g in c1z.grants(resource_type_id="group")}
    stats = baton_stats(path)
    assert {t: stats[t] for t in counts["resources"]} == counts["resources"]
    assert stats["grants"] == sum(counts["grants"].values())
    for rtype, ids in by_type.items():
        listed = baton_json(path, "resources", "-t", rtype)["resources"]
        assert {r["resource"]["id"]["resource"] for r in listed} == ids  # type: ignore[index]
    assert {g["grant"]["id"] for g in baton_json(path, "grants", "-t", "group")["grants"]} == user_grants  # type: ignore[index]
    assert len(apps) == 3 and all(a.annotations for a in apps)
    assert "NonHumanIdentityTrait" in baton(path, "resources", "-o", "json").stderr


def test_v3_file_is_refused_naming_the_sqlite_engine(upstream_c1z: dict[str, Path]) -> None:
    path = upstream_c1z["okta-v3"]
    assert path.read_bytes()[:4] == b"C1Z3"
    with pytest.raises(C1zError) as err:
        open_c1z(path)
    message = str(err.value)
    assert "v3" in message and "--storage-engine sqlite" in message and "\n" not in message


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "not a c1z file"),
    (b"SQLite format 3\x00" + b"\x00" * 100, "not a c1z file"),
    (b"C1ZF\x00" + b"this is not zstd", "damaged"),
    (b"C1ZF\x00" + zstandard.ZstdCompressor().compress(b"plain text, not SQLite" * 50), "not a c1z"),
])
def test_other_files_are_refused_in_one_line(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "in.c1z"
    path.write_bytes(content)
    with pytest.raises(C1zError) as err:
        open_c1z(path)
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == [path]  # no temporary database left behind


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(C1zError, match="no such file"):
        open_c1z(tmp_path / "absent.c1z")


def _inspect(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iac", "connector", "inspect", str(path), *args],
                          capture_output=True, text=True, timeout=120)


def _inspect_lists_what_baton_lists(path: Path) -> list[dict[str, Any]]:
    """`iac connector inspect` and `baton` list the same resources and grants (ids) of ``path``; inspect's
    resources."""
    listed = _inspect(path, "resources", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    resources: list[dict[str, Any]] = json.loads(listed.stdout)
    grants = json.loads(_inspect(path, "grants", "-o", "json").stdout)
    theirs_resources = {_id(r["resource"]["id"]) for r in baton_json(path, "resources")["resources"]}  # type: ignore[index]
    theirs_grants = {g["grant"]["id"] for g in baton_json(path, "grants")["grants"]}  # type: ignore[index]
    assert theirs_resources and theirs_grants
    assert {f"{r['type']}:{r['id']}" for r in resources} == theirs_resources
    assert {g["id"] for g in grants} == theirs_grants
    return resources


def test_inspect_lists_what_baton_lists_for_upstream_files(upstream_c1z: dict[str, Path]) -> None:
    resources = _inspect_lists_what_baton_lists(upstream_c1z["celigo"])
    users = [r for r in resources if r["type"] == "user"]
    assert users and all(u["login"] and u["profile"].get("email") for u in users)  # the UserTrait, decoded

    coupa = _inspect_lists_what_baton_lists(upstream_c1z["coupa"])
    assert {r["type"] for r in coupa} == {"user", "group", "role", "license"}
    assert sum(r["type"] == "user" for r in coupa) == 40

    okta = upstream_c1z["okta"]
    stats = {(r["kind"], r["type"]): r["count"] for r in json.loads(_inspect(okta, "stats", "-o", "json").stdout)}
    theirs = baton_stats(okta)
    assert stats[("grants", "(total)")] == theirs["grants"]
    assert {t: n for (k, t), n in stats.items() if k == "resources" and t != "(total)"} == {
        t: theirs[t] for (k, t) in stats if k == "resources" and t != "(total)"}
    # baton-sdk v0.25 moves GrantExpandable out of the grant into the `expansion` column: inspect reads it there
    # (baton-okta makes an admin role held by a group expandable to the group's members)
    role_grants = json.loads(_inspect(okta, "grants", "--type", "role", "-o", "json").stdout)
    via_group = [g for g in role_grants if g["principal_type"] == "group"]
    assert via_group and all(g["expandable"] == f"group:{g['principal_id']}:member" for g in via_group)


def test_inspect_refuses_v3_and_non_c1z_in_one_line(upstream_c1z: dict[str, Path], tmp_path: Path) -> None:
    result = _inspect(upstream_c1z["okta-v3"], "stats")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "v3" in result.stderr and "--storage-engine sqlite" in result.stderr and "Traceback" not in result.stderr
    text = tmp_path / "notes.txt"
    text.write_text("not a c1z\n")
    result = _inspect(text, "resources")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "not a c1z file" in result.stderr


# -- the wire encoder of the hot rows ---------------------------------------------------------------------

_PROFILES: list[dict[str, Any]] = [
    {},
    {"cost_center": "CC-2100", "employee_number": "200049", "is_active": True, "termination_date": None},
    {"n": 5, "x": 2.5, "neg": -3, "big": 2**40, "flag": False, "empty": "", "": "empty key", "ü": "ünïcode",
     "nested": {"a": [1, "two", None, {"b": True}], "c": {}}, "list": [], "long": "x" * 300},
]


@pytest.mark.parametrize("profile", _PROFILES)
@pytest.mark.parametrize("traits", [(Trait.USER,), (Trait.GROUP,), (Trait.ROLE,), (Trait.APP,), (Trait.SECRET,), ()])
@pytest.mark.parametrize("status", [None, UserStatus.ENABLED, UserStatus.UNSPECIFIED, UserStatus.DELETED])
def test_wire_resources_are_the_generated_classes_bytes(profile: dict[str, Any], traits: tuple[Trait, ...],
                                                        status: UserStatus | None) -> None:
    resource = Resource("user" if traits == (Trait.USER,) else "thing", "id:with:colons", "Näme",
                        parent=ResourceRef("org", "o1") if status is None else None, profile=profile, status=status,
                        login="l@example.com" if status else None,
                        emails=("a@example.com", "b@example.com") if status else ())
    writer = _Writer(sqlite3.connect(":memory:"))
    writer.remember_types([ResourceType(resource.type, "T", traits)])
    expected = codec.resource_to_pb(resource, traits).SerializeToString(deterministic=True)
    encoded = writer._resource_bytes(*resource_row(resource))
    if profile is not _PROFILES[2]:  # keys that prefix others ("n", "neg", "nested") sort differently (wire.py)
        assert encoded == expected
    decoded = codec.resource_from_pb(pb.Resource.FromString(encoded))
    assert decoded == codec.resource_from_pb(pb.Resource.FromString(expected))
    assert decoded == (resource if traits == (Trait.USER,) else replace(resource, login=None, emails=()))


@pytest.mark.parametrize(("expandable", "data"), [((), {}), (("group:g1:member", "group:g2:member"), {}),
                                                  ((), {"source": "direct", "since": 2024}),
                                                  (("role:r:assigned",), {"a": [None]})])
def test_wire_grants_are_the_generated_classes_bytes(expandable: tuple[str, ...], data: dict[str, Any]) -> None:
    grant = Grant(ResourceRef("resourceset-binding", "iam1:cr2"), "member", ResourceRef("user", "00u1"),
                  expandable=expandable, data=data)
    ref = wire.entitlement_ref(grant.entitlement_id, grant.resource.type, grant.resource.id)
    encoded = wire.encode_grant(grant.id, ref, "user", "00u1", expandable=expandable, metadata=data)
    assert encoded == codec.grant_to_pb(grant).SerializeToString(deterministic=True)
    assert codec.grant_from_pb(pb.Grant.FromString(encoded)) == grant


def test_wire_refuses_what_a_struct_cannot_hold() -> None:
    with pytest.raises(ValueError, match="cannot store a bytes"):
        wire.encode_struct({"raw": b"\x00"})
