"""`iac connector inspect FILE <view>` for access reviews, on artifacts synced from the Okta simulator."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from iac.connectors.okta import build
from iac.runtime import Artifact, SyncEngine, Wiring, inspect_view, load_settings
from iac.runtime.errors import ArtifactError
from iac.sim import OktaSim, serve
from iac.spec import Okta


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iac", "connector", "inspect", *args], capture_output=True,
                          text=True, timeout=60, env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"})


def sync(sim: OktaSim, base: str, path: Path) -> None:
    connector = build(load_settings(Okta, environ={}, domain="acme.okta.com", api_token=sim.token, base_url_override=base),
                      Wiring())
    try:
        SyncEngine(connector, path, workers=4).run()
    finally:
        connector.close()


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OktaSim, Path, dict[str, str]]]:
    """Two syncs of the same org with a few changes between them."""
    sim = OktaSim(seed=29, users=200, groups=15, apps=4, rate_scale=100)
    path = tmp_path_factory.mktemp("inspect") / "sync.sqlite"
    ds = sim.dataset
    with serve(sim.app) as base:
        sync(sim, base, path)
        group = next(g for g in ds.groups() if g.type == "OKTA_GROUP" and 0 < g.member_count < 200)
        g_index = ds.group_index(group.id)
        app = next(a for a in ds.apps() if ds.app_user_ids(a.id))
        a_index = ds.app_index(app.id)
        added = next(u for u in ds.users() if u.id not in ds.group_member_ids(group.id))
        removed = ds.app_user_ids(app.id)[0]
        assert g_index is not None and a_index is not None
        ds.add_group_member(g_index, ds.user_index(added.id) or 0, 1_767_000_000)
        ds.unassign_app_user(a_index, ds.user_index(removed) or 0)
        sync(sim, base, path)
    yield sim, path, {"group": group.id, "added_user": added.id, "app": app.id, "removed_user": removed}


def test_resources_entitlements_grants_in_every_format(synced: tuple[OktaSim, Path, dict[str, str]]) -> None:
    sim, path, _ = synced
    resources = json.loads(inspect(str(path), "resources", "-o", "json").stdout)
    assert len(resources) == 200 + 15 + 4 + 13
    users = json.loads(inspect(str(path), "resources", "--type", "user", "-o", "json").stdout)
    assert {u["id"] for u in users} == {u.id for u in sim.dataset.users()}
    assert all(u["login"] and u["status"] in ("enabled", "disabled", "deleted") for u in users)

    ents = list(csv.DictReader(io.StringIO(inspect(str(path), "entitlements", "-o", "csv").stdout)))
    assert len(ents) == 15 + 4 + 13 and {e["slug"] for e in ents} == {"member", "access", "assigned"}
    role_ent = next(e for e in ents if e["id"] == "role:SUPER_ADMIN:assigned")
    assert role_ent["grantable_to"] == "user,group"

    table = inspect(str(path), "grants", "--type", "app")
    assert table.returncode == 0
    with Artifact(path) as art:
        sid = art.latest().sync_id
        count = art.conn.execute("SELECT COUNT(*) FROM v1_grants WHERE sync_id = ? AND resource_type_id = 'app'",
                                 (sid,)).fetchone()[0]
    assert f"{count} row(s)" in table.stderr
    assert table.stdout.splitlines()[0].split() == ["id", "entitlement_id", "resource_type", "resource_id",
                                                    "principal_type", "principal_id", "expandable"]


def test_principals_and_effective_access_through_groups(synced: tuple[OktaSim, Path, dict[str, str]]) -> None:
    sim, path, _ = synced
    ds = sim.dataset
    # a user who reaches an app through a group assignment
    app, group = next((a, g) for a in ds.apps() for g in ds.app_group_ids(a.id) if ds.group_member_ids(g))
    user = ds.group_member_ids(group)[0]
    rows = json.loads(inspect(str(path), "access", user, "-o", "json").stdout)
    assert {"entitlement_id": f"group:{group}:member", "via": "direct"}.items() <= next(
        r for r in rows if r["entitlement_id"] == f"group:{group}:member").items()
    via_group = [r for r in rows if r["entitlement_id"] == f"app:{app.id}:access" and r["via"] == f"group:{group}"]
    assert via_group and via_group[0]["resource_name"] == app.label
    direct_groups = {r["resource_id"] for r in rows if r["slug"] == "member"}
    assert direct_groups == {g.id for g in ds.groups() if user in ds.group_member_ids(g.id)}

    principals = json.loads(inspect(str(path), "principals", "-o", "json").stdout)
    by_id = {p["id"]: p for p in principals}
    assert by_id[user]["direct_grants"] == sum(1 for r in rows if r["via"] == "direct")
    assert {p["type"] for p in principals} == {"user", "group"}

    missing = inspect(str(path), "access", "user:00uDoesNotExist")
    assert missing.returncode == 2 and "no user with id" in missing.stderr


def test_diff_against_the_previous_sync(synced: tuple[OktaSim, Path, dict[str, str]]) -> None:
    _, path, changed = synced
    rows = json.loads(inspect(str(path), "diff", "-o", "json").stdout)
    assert {"change": "added", "kind": "grant", "id": f"group:{changed['group']}:member:user:{changed['added_user']}",
            "detail": ""} in rows
    assert {"change": "removed", "kind": "grant", "id": f"app:{changed['app']}:access:user:{changed['removed_user']}",
            "detail": ""} in rows
    group_change = next(r for r in rows if r["id"] == f"group:{changed['group']}")
    assert group_change["change"] == "changed" and group_change["detail"] == "profile.users_count"
    assert len(rows) == 3


def test_stats_and_errors(synced: tuple[OktaSim, Path, dict[str, str]], tmp_path: Path) -> None:
    _, path, _ = synced
    stats = list(csv.DictReader(io.StringIO(inspect(str(path), "stats", "-o", "csv").stdout)))
    totals = {r["kind"]: int(float(r["count"])) for r in stats if r["type"] == "(total)"}
    with Artifact(path) as art:
        assert totals == {k: v["total"] for k, v in art.stats(art.latest().sync_id).items()}
        with pytest.raises(ArtifactError, match="needs a principal"):
            inspect_view(art, "access")
    not_ours = tmp_path / "x.sqlite"
    not_ours.write_text("hello")
    result = inspect(str(not_ours), "stats")
    assert result.returncode == 2 and "not a c1z file" in result.stderr and result.stderr.count("\n") == 1
    assert inspect(str(tmp_path / "missing.sqlite"), "stats").returncode == 2


def test_diff_needs_two_syncs(tmp_path: Path) -> None:
    sim = OktaSim(seed=2, users=20, groups=3, apps=1, rate_scale=100)
    with serve(sim.app) as base:
        sync(sim, base, tmp_path / "one.sqlite")
    result = inspect(str(tmp_path / "one.sqlite"), "diff")
    assert result.returncode == 2 and "needs two complete syncs" in result.stderr
