"""Our artifacts are c1z files the real `baton` CLI reads, agreeing with `iac connector inspect`; profile
attributes reach inspect's JSON and CSV; artifacts of the previous format are converted.

One module-scoped sync per bundled connector (stacks/example.py, its simulator), run twice so the artifact
holds two syncs, as in a pod."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT

from iac import load_stack
from iac.c1z import C1Z_V1_MAGIC, open_c1z
from iac.connectors import registered
from iac.demo import sandbox_environment, sandbox_for
from iac.runtime import Artifact, SyncEngine, Wiring, load_settings
from iac.sim import serve
from tests._upstream import baton_json, baton_stats, upstream_binary

CONNECTORS = sorted(registered())


@dataclass
class Synced:
    integration: str
    artifact: Path
    env: dict[str, str]


def _sync(integration: str, env: dict[str, str]) -> None:
    entry = registered()[integration]
    settings = load_settings(entry.integration, environ=env)
    connector = entry.build(settings, Wiring())
    try:
        SyncEngine(connector, settings.file, workers=settings.workers).run()
    finally:
        connector.close()


@pytest.fixture(scope="module", params=CONNECTORS)
def synced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    integration: str = request.param
    stack = load_stack(REPO_ROOT / "stacks" / "example.py")
    connector = next(c for c in stack.connectors if c.integration.name == integration)
    sandbox = sandbox_for(connector, seed=3, users=40)
    assert sandbox is not None
    artifact = tmp_path_factory.mktemp(f"c1z-{integration}") / "sync.c1z"
    with serve(sandbox.simulator.app) as base_url:
        sandbox.base_url = base_url
        env = sandbox_environment(stack, connector.name, sandbox) | {"BATON_FILE": str(artifact),
                                                                      "BATON_WORKERS": "4"}
        _sync(integration, env)
        _sync(integration, env)
        yield Synced(integration, artifact, env)


def inspect(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iac", "connector", "inspect", str(path), *args],
                          capture_output=True, text=True, timeout=120)


def inspect_json(path: Path, *args: str) -> list[dict[str, Any]]:
    result = inspect(path, *args, "-o", "json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def _rid(ref: Any) -> str:
    return f"{ref['resourceType']}:{ref['resource']}"


def test_artifact_is_a_c1z_v1_with_two_syncs(synced: Synced) -> None:
    assert synced.artifact.read_bytes()[:5] == C1Z_V1_MAGIC
    assert not synced.artifact.with_name("sync.c1z.partial").exists()
    with open_c1z(synced.artifact) as c1z:
        runs = c1z.sync_runs()
        assert len(runs) == 2 and all(r.ended_at and r.sync_type == "full" for r in runs)
        # only traits the baton CLI v0.7.27 knows
        urls = {a.type_url for r in c1z.resources() for a in r.annotations}
    assert urls <= {f"type.googleapis.com/c1.connector.v2.{t}Trait" for t in ("User", "Group", "Role", "App", "Secret")}


def test_baton_cli_agrees_with_inspect(synced: Synced) -> None:
    path = synced.artifact
    stats = baton_stats(path)
    ours = {(r["kind"], r["type"]): r["count"] for r in inspect_json(path, "stats")}
    assert stats["entitlements"] == ours[("entitlements", "(total)")]
    assert stats["grants"] == ours[("grants", "(total)")]
    assert {t: n for (k, t), n in ours.items() if k == "resources" and t != "(total)"} == {
        t: stats[t] for (k, t) in ours if k == "resources" and t != "(total)"}

    resources = inspect_json(path, "resources")
    assert {_rid(r["resource"]["id"]) for r in baton_json(path, "resources")["resources"]} == {  # type: ignore[index]
        f"{r['type']}:{r['id']}" for r in resources}
    grants = inspect_json(path, "grants")
    assert {g["grant"]["id"] for g in baton_json(path, "grants")["grants"]} == {g["id"] for g in grants}  # type: ignore[index]
    assert {e["entitlement"]["id"] for e in baton_json(path, "entitlements")["entitlements"]} == {  # type: ignore[index]
        e["id"] for e in inspect_json(path, "entitlements")}

    # `baton access` lists direct grants; ours lists them with via=direct (and expansions besides)
    holder = max((g for g in grants if g["principal_type"] == "user"), key=lambda g: g["principal_id"])
    user = holder["principal_id"]
    result = subprocess.run([str(upstream_binary("baton")), "-f", str(path), "access", "-t", "user", "-r", user,
                             "-o", "json"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    theirs = {e["id"] for a in json.loads(result.stdout)["access"] for e in a["entitlements"]}
    direct = {r["entitlement_id"] for r in inspect_json(path, "access", f"user:{user}") if r["via"] == "direct"}
    assert theirs == direct and holder["entitlement_id"] in direct


def _added_or_removed(path: Path) -> list[dict[str, Any]]:
    """What `inspect diff` reports besides "changed": the Okta connector writes some custom-role grants to
    groups twice with different metadata (one per resource set), and which write lands last varies."""
    result = inspect(path, "diff", "-o", "json")
    assert result.returncode == 0, result.stderr
    return [row for row in json.loads(result.stdout) if row["change"] != "changed"]


def test_inspect_diff_compares_the_two_syncs(synced: Synced) -> None:
    assert _added_or_removed(synced.artifact) == []  # the simulator did not change between the two syncs


PROFILE = {
    "concur": {"cost_center", "employee_number", "start_date", "termination_date", "is_active", "email"},
    "okta": {"login", "email", "status"},
    "coupa": {"active"},
    "celigo": {"email"},
}


def test_inspect_outputs_profile_attributes(synced: Synced) -> None:
    users = inspect_json(synced.artifact, "resources", "--type", "user")
    assert users and all(PROFILE[synced.integration] <= set(u["profile"]) for u in users)
    result = inspect(synced.artifact, "resources", "--type", "user", "-o", "csv")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {f"profile.{k}" for k in PROFILE[synced.integration]} <= set(rows[0])
    by_id = {u["id"]: u for u in users}
    for row in rows:
        for key in PROFILE[synced.integration]:
            value = by_id[row["id"]]["profile"][key]
            assert row[f"profile.{key}"] == ("" if value is None else str(value))


# -- the previous format --------------------------------------------------------------------------------

_LEGACY_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sync_runs (sync_id TEXT PRIMARY KEY, connector TEXT NOT NULL, state TEXT NOT NULL,
    started_at REAL NOT NULL, ended_at REAL, checkpoint TEXT, stats TEXT, host_id TEXT);
CREATE TABLE resource_types (sync_id TEXT NOT NULL, id TEXT NOT NULL, display_name TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (sync_id, id)) WITHOUT ROWID;
CREATE TABLE resources (sync_id TEXT NOT NULL, resource_type TEXT NOT NULL, id TEXT NOT NULL,
    parent_type TEXT, parent_id TEXT, display_name TEXT NOT NULL, data TEXT NOT NULL,
    UNIQUE (sync_id, resource_type, id));
CREATE TABLE entitlements (sync_id TEXT NOT NULL, id TEXT NOT NULL, resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL, slug TEXT NOT NULL, display_name TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (sync_id, id)) WITHOUT ROWID;
CREATE TABLE grants (sync_id TEXT NOT NULL, id TEXT NOT NULL, entitlement_id TEXT NOT NULL,
    resource_type TEXT NOT NULL, resource_id TEXT NOT NULL, principal_type TEXT NOT NULL,
    principal_id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (sync_id, id)) WITHOUT ROWID;
"""


def legacy_copy(synced: Synced, target: Path) -> dict[str, set[tuple[str, ...]]]:
    """The latest sync of ``synced`` written in the previous format (meta.format = iac-baton-sync), as a
    volume of the previous runtime would hold it; returns its content."""
    with Artifact(synced.artifact) as art:
        run = art.latest()
        content = art.content()
    with sqlite3.connect(target) as db:
        db.executescript(_LEGACY_DDL)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [("format", "iac-baton-sync"), ("schema_version", "1"),
                                                          ("connector", synced.integration)])
        db.execute("INSERT INTO sync_runs VALUES (?, ?, 'complete', ?, ?, NULL, ?, '')",
                   (run.sync_id, synced.integration, run.started_at, run.ended_at, json.dumps(run.stats)))
        for type_id, data in content["resource_types"]:
            db.execute("INSERT INTO resource_types VALUES (?, ?, ?, ?)",
                       (run.sync_id, type_id, json.loads(data)["display_name"], data))
        for rtype, rid, data in content["resources"]:
            parent = json.loads(data).get("parent") or {}
            db.execute("INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (run.sync_id, rtype, rid, parent.get("type"), parent.get("id"),
                        json.loads(data)["display_name"], data))
        for eid, data in content["entitlements"]:
            e = json.loads(data)
            db.execute("INSERT INTO entitlements VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (run.sync_id, eid, e["resource_type"], e["resource_id"], e["slug"], e["display_name"], data))
        for gid, data in content["grants"]:
            head, ptype, pid = gid.rsplit(":", 2)
            rtype, rest = head.split(":", 1)
            db.execute("INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (run.sync_id, gid, head, rtype, rest.rsplit(":", 1)[0], ptype, pid, data))
    return content


def test_previous_format_is_read_and_converted_by_the_next_sync(synced: Synced, tmp_path: Path) -> None:
    old = tmp_path / "sync.sqlite"
    content = legacy_copy(synced, old)
    with Artifact(old) as art:  # inspect reads it as it is
        assert art.content() == content
    assert inspect(old, "stats").returncode == 0

    env = synced.env | {"BATON_FILE": str(tmp_path / "sync.c1z")}
    _sync(synced.integration, env)  # /data/sync.c1z is new; /data/sync.sqlite is converted into it
    with Artifact(tmp_path / "sync.c1z") as art:
        runs = art.runs()
        assert len(runs) == 2 and art.content(runs[1].sync_id) == content
        new = art.content(runs[0].sync_id)  # the simulator did not change
        assert {k: {row[:-1] for row in rows} for k, rows in new.items()} == {
            k: {row[:-1] for row in rows} for k, rows in content.items()}
    assert _added_or_removed(tmp_path / "sync.c1z") == []
