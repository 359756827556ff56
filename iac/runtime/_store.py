"""The sync artifact: one SQLite file, written atomically, holding the last two complete syncs.

Schema (``meta.schema_version`` = 1, ``meta.format`` = ``iac-baton-sync``). Every data row carries
the ``sync_id`` of the run that wrote it; ``data`` columns are JSON.

``meta(key TEXT PRIMARY KEY, value TEXT)``
    ``format``, ``schema_version``, ``connector``.
``sync_runs(sync_id TEXT PRIMARY KEY, connector, state, started_at, ended_at, checkpoint, stats, host_id)``
    ``state`` is ``running`` | ``complete``; times are epoch seconds; ``checkpoint`` is the engine's
    resume token (JSON) while running; ``stats`` holds per-type counts once complete.
``resource_types(sync_id, id, display_name, data)``                      PK (sync_id, id)
``resources(sync_id, resource_type, id, parent_type, parent_id, display_name, data)``
    UNIQUE (sync_id, resource_type, id); indexed by (sync_id, resource_type), whose rowid order the
    engine walks to feed per-resource work.
``entitlements(sync_id, id, resource_type, resource_id, slug, display_name, data)``   PK (sync_id, id)
``grants(sync_id, id, entitlement_id, resource_type, resource_id, principal_type, principal_id, data)``
    PK (sync_id, id); indexed by principal. ``data`` holds only what the columns do not:
    ``expandable`` (entitlement ids whose holders inherit the grant) and connector extras.

Life cycle (:class:`WorkingStore`): a sync works on ``<artifact>.partial`` next to the artifact
(a copy of it, so the previous syncs travel along). Progress is committed at each checkpoint
together with the resume token, so a crash rolls back to a consistent point. When the sync
completes, runs older than the previous complete one are deleted, the file is fsynced and renamed
over the artifact, and the directory is fsynced: a reader sees the old artifact or the new one,
never a partial one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iac.runtime._models import Entitlement, Grant, Resource, ResourceType
from iac.runtime.errors import ArtifactError

__all__ = [
    "SCHEMA_VERSION",
    "Artifact",
    "SyncRun",
    "WorkingStore",
    "fsync_path",
    "work_path_for",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FORMAT = "iac-baton-sync"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sync_runs (
    sync_id TEXT PRIMARY KEY,
    connector TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('running', 'complete')),
    started_at REAL NOT NULL,
    ended_at REAL,
    checkpoint TEXT,
    stats TEXT,
    host_id TEXT
);
CREATE TABLE IF NOT EXISTS resource_types (
    sync_id TEXT NOT NULL, id TEXT NOT NULL, display_name TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (sync_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS resources (
    sync_id TEXT NOT NULL, resource_type TEXT NOT NULL, id TEXT NOT NULL,
    parent_type TEXT, parent_id TEXT, display_name TEXT NOT NULL, data TEXT NOT NULL,
    UNIQUE (sync_id, resource_type, id)
);
CREATE INDEX IF NOT EXISTS resources_feed ON resources (sync_id, resource_type);
CREATE TABLE IF NOT EXISTS entitlements (
    sync_id TEXT NOT NULL, id TEXT NOT NULL, resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
    slug TEXT NOT NULL, display_name TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (sync_id, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS grants (
    sync_id TEXT NOT NULL, id TEXT NOT NULL, entitlement_id TEXT NOT NULL,
    resource_type TEXT NOT NULL, resource_id TEXT NOT NULL,
    principal_type TEXT NOT NULL, principal_id TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (sync_id, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS grants_principal ON grants (sync_id, principal_type, principal_id);
"""

_DATA_TABLES = ("resource_types", "resources", "entitlements", "grants")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def work_path_for(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".partial")


def fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class SyncRun:
    sync_id: str
    connector: str
    state: str
    started_at: float
    ended_at: float | None
    stats: dict[str, Any]


def _check_format(conn: sqlite3.Connection, path: Path) -> None:
    try:
        rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise ArtifactError(f"{path}: not a sync artifact ({exc})") from None
    if rows.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a sync artifact (no '{FORMAT}' marker)")
    if int(rows.get("schema_version", "0")) > SCHEMA_VERSION:
        raise ArtifactError(f"{path}: schema version {rows['schema_version']} is newer than this runtime's "
                            f"({SCHEMA_VERSION})")


class WorkingStore:
    """The writable ``.partial`` file of a sync. Single-threaded: only the engine's coordinator uses it."""

    def __init__(self, artifact: Path, *, connector: str) -> None:
        self.artifact = artifact
        self.path = work_path_for(artifact)
        self.connector = connector
        artifact.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        if fresh and artifact.exists():
            self._copy_artifact()
        try:
            self.conn = self._connect()
        except ArtifactError:
            if fresh:
                raise
            log.warning("discarding an unreadable partial sync file %s", self.path)
            self.path.unlink()
            if artifact.exists():
                self._copy_artifact()
            self.conn = self._connect()
        self._in_tx = False

    def _copy_artifact(self) -> None:
        with contextlib.closing(sqlite3.connect(f"file:{self.artifact}?mode=ro", uri=True)) as probe:
            _check_format(probe, self.artifact)
        tmp = self.path.with_name(self.path.name + ".tmp")
        shutil.copyfile(self.artifact, tmp)
        fsync_path(tmp)
        os.replace(tmp, self.path)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            existing = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if not existing:
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)),
                                  ("connector", self.connector)])
            _check_format(conn, self.path)
            if existing.get("connector", self.connector) != self.connector:
                raise ArtifactError(f"{self.artifact}: holds syncs of connector '{existing['connector']}', "
                                    f"not '{self.connector}'")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ArtifactError(f"{self.path}: {exc}") from None
        except ArtifactError:
            conn.close()
            raise
        return conn

    # -- transactions -----------------------------------------------------------------------------------

    def _begin(self) -> None:
        if not self._in_tx:
            self.conn.execute("BEGIN")
            self._in_tx = True

    def commit(self) -> None:
        if self._in_tx:
            self.conn.execute("COMMIT")
            self._in_tx = False

    def close(self) -> None:
        if self._in_tx:
            self.conn.execute("ROLLBACK")
            self._in_tx = False
        self.conn.close()

    # -- sync runs --------------------------------------------------------------------------------------

    def unfinished(self) -> tuple[str, dict[str, Any]] | None:
        row = self.conn.execute(
            "SELECT sync_id, checkpoint FROM sync_runs WHERE state = 'running' AND connector = ? "
            "ORDER BY started_at DESC LIMIT 1", (self.connector,)).fetchone()
        if row is None:
            return None
        return row[0], json.loads(row[1] or "{}")

    def begin_sync(self, checkpoint: dict[str, Any], *, host_id: str = "",
                   started_at: float | None = None) -> str:
        sync_id = secrets.token_hex(8)
        self._begin()
        self.discard_unfinished()
        self.conn.execute(
            "INSERT INTO sync_runs (sync_id, connector, state, started_at, checkpoint, host_id) "
            "VALUES (?, ?, 'running', ?, ?, ?)",
            (sync_id, self.connector, started_at if started_at is not None else time.time(),
             _dumps(checkpoint), host_id))
        self.commit()
        return sync_id

    def discard_unfinished(self) -> None:
        self._begin()
        stale = [r[0] for r in self.conn.execute("SELECT sync_id FROM sync_runs WHERE state = 'running'")]
        self._delete_syncs(stale)

    def _delete_syncs(self, sync_ids: Sequence[str]) -> None:
        for sync_id in sync_ids:
            for table in _DATA_TABLES:
                self.conn.execute(f"DELETE FROM {table} WHERE sync_id = ?", (sync_id,))
            self.conn.execute("DELETE FROM sync_runs WHERE sync_id = ?", (sync_id,))

    def checkpoint(self, sync_id: str, state: dict[str, Any]) -> None:
        """Record the resume token and commit everything written since the last checkpoint."""
        self._begin()
        self.conn.execute("UPDATE sync_runs SET checkpoint = ? WHERE sync_id = ?", (_dumps(state), sync_id))
        self.commit()

    # -- writes -----------------------------------------------------------------------------------------

    def put_resource_types(self, sync_id: str, types: Iterable[ResourceType]) -> None:
        self._begin()
        self.conn.executemany(
            "INSERT OR REPLACE INTO resource_types (sync_id, id, display_name, data) VALUES (?, ?, ?, ?)",
            [(sync_id, t.id, t.display_name, _dumps(t.to_json())) for t in types])

    def put_resources(self, sync_id: str, resources: Iterable[Resource]) -> int:
        self._begin()
        rows = [(sync_id, r.type, r.id, r.parent.type if r.parent else None,
                 r.parent.id if r.parent else None, r.display_name, _dumps(r.to_json())) for r in resources]
        self.conn.executemany(
            "INSERT INTO resources (sync_id, resource_type, id, parent_type, parent_id, display_name, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sync_id, resource_type, id) DO UPDATE SET "
            "parent_type = excluded.parent_type, parent_id = excluded.parent_id, "
            "display_name = excluded.display_name, data = excluded.data", rows)
        return len(rows)

    def put_entitlements(self, sync_id: str, entitlements: Iterable[Entitlement]) -> int:
        self._begin()
        rows = [(sync_id, e.id, e.resource.type, e.resource.id, e.slug, e.display_name, _dumps(e.to_json()))
                for e in entitlements]
        self.conn.executemany(
            "INSERT OR REPLACE INTO entitlements (sync_id, id, resource_type, resource_id, slug, "
            "display_name, data) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def put_grants(self, sync_id: str, grants: Iterable[Grant]) -> int:
        self._begin()
        rows = [(sync_id, g.id, g.entitlement_id, g.resource.type, g.resource.id, g.principal.type,
                 g.principal.id, _dumps(g.to_json())) for g in grants]
        self.conn.executemany(
            "INSERT OR REPLACE INTO grants (sync_id, id, entitlement_id, resource_type, resource_id, "
            "principal_type, principal_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    # -- reads for the engine ---------------------------------------------------------------------------

    def resources_after(self, sync_id: str, resource_type: str, after_rowid: int,
                        limit: int) -> list[tuple[int, Resource]]:
        rows = self.conn.execute(
            "SELECT rowid, data FROM resources WHERE sync_id = ? AND resource_type = ? AND rowid > ? "
            "ORDER BY rowid LIMIT ?", (sync_id, resource_type, after_rowid, limit)).fetchall()
        return [(rowid, Resource.from_json(json.loads(data))) for rowid, data in rows]

    def get_resource(self, sync_id: str, resource_type: str, resource_id: str) -> Resource | None:
        row = self.conn.execute(
            "SELECT data FROM resources WHERE sync_id = ? AND resource_type = ? AND id = ?",
            (sync_id, resource_type, resource_id)).fetchone()
        return Resource.from_json(json.loads(row[0])) if row else None

    # -- finishing --------------------------------------------------------------------------------------

    def prune_dangling(self, sync_id: str, principal_types: Iterable[str]) -> int:
        """Delete grants to principals of ``principal_types`` that this sync did not store."""
        self._begin()
        removed = 0
        for ptype in sorted(principal_types):
            cur = self.conn.execute(
                "DELETE FROM grants WHERE sync_id = ? AND principal_type = ? AND NOT EXISTS ("
                "SELECT 1 FROM resources r WHERE r.sync_id = grants.sync_id AND r.resource_type = ? "
                "AND r.id = grants.principal_id)", (sync_id, ptype, ptype))
            removed += cur.rowcount
        return removed

    def stats(self, sync_id: str) -> dict[str, Any]:
        return _stats(self.conn, sync_id)

    def finish(self, sync_id: str, *, stats: dict[str, Any], ended_at: float | None = None,
               keep_previous: bool = True) -> None:
        """Mark the run complete, drop older runs, then publish the file over the artifact."""
        self._begin()
        self.conn.execute(
            "UPDATE sync_runs SET state = 'complete', ended_at = ?, stats = ?, checkpoint = NULL "
            "WHERE sync_id = ?", (ended_at if ended_at is not None else time.time(), _dumps(stats), sync_id))
        keep = [sync_id]
        if keep_previous:
            prev = self.conn.execute(
                "SELECT sync_id FROM sync_runs WHERE state = 'complete' AND sync_id != ? "
                "ORDER BY ended_at DESC, rowid DESC LIMIT 1", (sync_id,)).fetchone()
            if prev:
                keep.append(prev[0])
        drop = [r[0] for r in self.conn.execute("SELECT sync_id FROM sync_runs") if r[0] not in keep]
        self._delete_syncs(drop)
        self.commit()
        self.conn.execute("PRAGMA analysis_limit=1000")  # sampled statistics: readers pick good indexes
        self.conn.execute("ANALYZE")
        self.conn.close()
        fsync_path(self.path)
        os.replace(self.path, self.artifact)
        fsync_path(self.artifact.parent, directory=True)


def _stats(conn: sqlite3.Connection, sync_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for table, column in (("resources", "resource_type"), ("entitlements", "resource_type"),
                          ("grants", "resource_type")):
        counts = dict(conn.execute(f"SELECT {column}, COUNT(*) FROM {table} WHERE sync_id = ? "
                                   f"GROUP BY {column} ORDER BY {column}", (sync_id,)).fetchall())
        out[table] = {"total": sum(counts.values()), "by_type": counts}
    return out


class Artifact:
    """A read-only view of a published artifact (inspect, diff, tests)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise ArtifactError(f"{path}: no such artifact")
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        try:
            _check_format(self.conn, path)
        except ArtifactError:
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Artifact:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def runs(self) -> list[SyncRun]:
        """Complete runs, newest first."""
        rows = self.conn.execute(
            "SELECT sync_id, connector, state, started_at, ended_at, stats FROM sync_runs "
            "WHERE state = 'complete' ORDER BY ended_at DESC, rowid DESC").fetchall()
        return [SyncRun(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "{}")) for r in rows]

    def latest(self) -> SyncRun:
        runs = self.runs()
        if not runs:
            raise ArtifactError(f"{self.path}: holds no complete sync")
        return runs[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        yield from self.conn.execute(sql, params)

    def stats(self, sync_id: str) -> dict[str, Any]:
        return _stats(self.conn, sync_id)

    def content(self, sync_id: str | None = None) -> dict[str, set[tuple[str, ...]]]:
        """Everything one sync holds, as sets of natural keys and JSON (for equality checks and diffs)."""
        sid = sync_id or self.latest().sync_id
        return {
            "resource_types": {(r[0], r[1]) for r in self.rows(
                "SELECT id, data FROM resource_types WHERE sync_id = ?", (sid,))},
            "resources": {(r[0], r[1], r[2]) for r in self.rows(
                "SELECT resource_type, id, data FROM resources WHERE sync_id = ?", (sid,))},
            "entitlements": {(r[0], r[1]) for r in self.rows(
                "SELECT id, data FROM entitlements WHERE sync_id = ?", (sid,))},
            "grants": {(r[0], r[1]) for r in self.rows(
                "SELECT id, data FROM grants WHERE sync_id = ?", (sid,))},
        }
