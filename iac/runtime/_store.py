"""The sync artifact: a c1z v1 (baton's format), published atomically, holding the last two complete syncs.

A c1z v1 is ``C1ZF\\x00`` + one zstd frame of a SQLite database with baton-sdk's ``v1_*`` tables, whose
``data`` columns hold ``c1.connector.v2`` protobuf messages (:mod:`iac.runtime._c1z_codec`). The schema
is the one baton-sdk v0.7.27 (the baton CLI's) creates, so the CLI reads our files without migrating them.
Two tables of our own ride along, ignored by baton tools:

``iac_meta(key, value)``                      ``format`` = ``iac-c1z``, ``schema_version``, ``connector``
``iac_sync_runs(sync_id, connector, host_id, stats, row_floor, grant_floor)``   per-sync figures; the floors
    are the largest ``v1_resources.id`` / ``v1_grants.id`` of older syncs: this sync's rows lie above them.

Life cycle (:class:`WorkingStore`). A compressed file cannot be appended to, so a sync works on the
uncompressed database, ``<artifact>.partial``: the artifact decompressed (the previous syncs travel
along), or a fresh one. Progress is committed at each checkpoint together with the resume token, which
lives where baton keeps its own: ``v1_sync_runs.sync_token`` of the run whose ``ended_at`` is NULL. A crash
rolls back to the last checkpoint and the next run resumes from it. A new sync first drops the complete
syncs older than the latest one (they would be dropped when it publishes anyway), so the end of a sync,
which the whole sync waits for, only counts, prunes and publishes: the database is compressed to
``<artifact>.tmp``, fsynced and renamed over the artifact, and the directory is fsynced; a reader sees the
old artifact or the new one.

Speed (bench/c1z_store.py has the figures). Grants are the bulk of a sync: they are encoded by
:mod:`iac.c1z.wire` rather than through message objects, and ``v1_grants`` keeps only its unique
``(external_id, sync_id)`` index up to date while a sync writes (upserts need it). baton-sdk's five other
grant indexes would cost more than the encoding and storing together; the SDK creates missing indexes
when it opens a file (`baton` does), and ``iac.c1z`` readers create them on their private copy when a
query needs one. Counting and pruning walk this sync's rows by id range (above its floor).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zstandard

from iac.c1z import (
    C1Z_V1_MAGIC,
    SDK_GRANT_INDEXES,
    C1zError,
    C1zReader,
    decompress_c1z,
    open_c1z,
    parse_c1z_time,
    pb,
    sniff,
    wire,
)
from iac.runtime import _c1z_codec as codec
from iac.runtime._models import (
    Entitlement,
    Grant,
    Resource,
    ResourceRef,
    ResourceType,
    Trait,
    UserStatus,
    parse_grant_id,
)
from iac.runtime.errors import ArtifactError

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "Artifact",
    "SyncRun",
    "WorkingStore",
    "compress_database",
    "fsync_path",
    "legacy_sibling",
    "work_path_for",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 1 was the project's own SQLite format (iac-baton-sync); 2 is c1z v1
FORMAT = "iac-c1z"
LEGACY_FORMAT = "iac-baton-sync"
ZSTD_LEVEL = 1  # 100k Concur users (290 MB): 0.24 s and 38.4 MB at level 1, 0.32 s and 38.6 MB at baton-sdk's 3

# baton-sdk v0.7.27's DDL (pkg/dotc1z), index names included (its resources indexes carry each other's
# names): when the baton CLI opens our file, its `create ... if not exists` finds everything in place.
_BATON_SCHEMA = """
CREATE TABLE IF NOT EXISTS v1_resource_types (
    id integer primary key, external_id text not null, data blob not null, sync_id text not null,
    discovered_at datetime not null);
CREATE UNIQUE INDEX IF NOT EXISTS idx_resource_types_external_sync_v1 ON v1_resource_types (external_id, sync_id);
CREATE TABLE IF NOT EXISTS v1_resources (
    id integer primary key, resource_type_id text not null, external_id text not null,
    parent_resource_type_id text, parent_resource_id text, data blob not null, sync_id text not null,
    discovered_at datetime not null);
CREATE INDEX IF NOT EXISTS idx_resources_resource_type_id_v1 ON v1_resources (resource_type_id);
CREATE INDEX IF NOT EXISTS idx_resources_external_sync_v1 ON v1_resources (parent_resource_type_id, parent_resource_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_resources_parent_resource_id_v1 ON v1_resources (external_id, sync_id);
CREATE TABLE IF NOT EXISTS v1_entitlements (
    id integer primary key, resource_type_id text not null, resource_id text not null, external_id text not null,
    data blob not null, sync_id text not null, discovered_at datetime not null);
CREATE INDEX IF NOT EXISTS idx_entitlements_resource_id_v1 ON v1_entitlements (resource_type_id, resource_id);
CREATE UNIQUE INDEX IF NOT EXISTS idx_entitlements_external_sync_v1 ON v1_entitlements (external_id, sync_id);
CREATE TABLE IF NOT EXISTS v1_grants (
    id integer primary key, resource_type_id text not null, resource_id text not null,
    entitlement_id text not null, principal_resource_type_id text not null, principal_resource_id text not null,
    external_id text not null, expansion blob, needs_expansion integer not null default 0, data blob not null,
    sync_id text not null, discovered_at datetime not null);
CREATE UNIQUE INDEX IF NOT EXISTS idx_grants_external_sync_v1 ON v1_grants (external_id, sync_id);
CREATE TABLE IF NOT EXISTS v1_sync_runs (
    id integer primary key, sync_id text not null, started_at datetime not null, ended_at datetime,
    sync_token text not null, sync_type text not null default 'full', parent_sync_id text not null default '',
    linked_sync_id text not null default '', supports_diff integer not null default 0);
CREATE UNIQUE INDEX IF NOT EXISTS idx_sync_runs_sync_id_v1 ON v1_sync_runs (sync_id);
CREATE TABLE IF NOT EXISTS v1_assets (
    id integer primary key, external_id text not null, content_type text not null, data blob not null,
    sync_id text not null, discovered_at datetime not null);
CREATE UNIQUE INDEX IF NOT EXISTS idx_assets_external_sync_v1 ON v1_assets (external_id, sync_id);
CREATE TABLE IF NOT EXISTS v1_connector_sessions (
    id integer primary key, sync_id text NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS idx_session_store_sync_key_v1 ON v1_connector_sessions (sync_id, key);
CREATE TABLE IF NOT EXISTS iac_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS iac_sync_runs (
    sync_id TEXT PRIMARY KEY, connector TEXT NOT NULL, host_id TEXT NOT NULL DEFAULT '', stats TEXT,
    row_floor INTEGER NOT NULL DEFAULT 0, grant_floor INTEGER NOT NULL DEFAULT 0);
"""

_DATA_TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets",
                "v1_connector_sessions")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def c1z_time(epoch: float) -> str:
    """A ``datetime`` column as baton's Go drivers write it (UTC, no zone)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def work_path_for(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".partial")


def legacy_sibling(artifact: Path) -> Path | None:
    """Where the previous runtime kept this artifact (``/data/sync.sqlite`` for ``/data/sync.c1z``)."""
    return artifact.with_suffix(".sqlite") if artifact.suffix == ".c1z" else None


def fsync_path(path: Path, *, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compress_database(database: Path, target: Path, *, level: int = ZSTD_LEVEL) -> None:
    """Write ``database`` as a c1z v1 to ``target`` (streamed; fsynced)."""
    with database.open("rb") as src, target.open("wb") as dst:
        dst.write(C1Z_V1_MAGIC)
        # Two compression threads: publishing is the end of the sync, which the whole sync waits for.
        zstandard.ZstdCompressor(level=level, threads=2).copy_stream(src, dst, size=database.stat().st_size)
        dst.flush()
        os.fsync(dst.fileno())


def _is_legacy(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                return False
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except (OSError, sqlite3.DatabaseError):
        return False
    return bool(row) and row[0] == LEGACY_FORMAT


@dataclass(frozen=True, slots=True)
class SyncRun:
    sync_id: str
    connector: str
    state: str
    started_at: float
    ended_at: float | None
    stats: dict[str, Any]


_STATUS_CODES = {UserStatus.UNSPECIFIED: 0, UserStatus.ENABLED: 1, UserStatus.DISABLED: 2, UserStatus.DELETED: 3}
_ENTITLEMENT_CACHE = 4096  # entitlement prefixes and grant metadata kept encoded (bounded: memory stays flat)


def resource_row(r: Resource) -> tuple[Any, ...]:
    """What a resource row is made of, as plain values (they cross to the store's process as such)."""
    return (r.type, r.id, r.display_name, (r.parent.type, r.parent.id) if r.parent else None,
            r.profile if type(r.profile) is dict else dict(r.profile), r.status, r.login, r.emails)


def grant_row(g: Grant) -> tuple[Any, ...]:
    """What a grant row is made of, as plain values."""
    return (g.resource.type, g.resource.id, g.entitlement_slug, g.principal.type, g.principal.id, g.expandable,
            g.data if type(g.data) is dict else dict(g.data))


class _Writer:
    """Rows of the v1 tables from the runtime's models (shared by the working store and the conversion).

    Grants and resources, the bulk of a sync, are encoded by :mod:`iac.c1z.wire` (byte-identical to the
    generated classes, several times faster); the rest through :mod:`iac.runtime._c1z_codec`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.types: dict[str, ResourceType] = {}
        self._traits: dict[str, str | None] = {}
        self._entitlements: dict[tuple[str, str, str], bytes] = {}
        self._metadata: dict[str, bytes] = {}  # grant metadata, encoded, by its repr

    def remember_types(self, types: Iterable[ResourceType]) -> None:
        for rt in types:
            self.types[rt.id] = rt
            self._traits[rt.id] = rt.traits[0].value if rt.traits else None

    def _resource_bytes(self, rtype: str, rid: str, display_name: str, parent: tuple[str, str] | None,
                        profile: Any, status: UserStatus | None, login: str | None, emails: Sequence[str]) -> bytes:
        return wire.encode_resource(rtype, rid, display_name, parent=parent, trait=self._traits.get(rtype),
                                    profile=profile, status=None if status is None else _STATUS_CODES[status],
                                    login=login or "", emails=emails)

    def put_resource_types(self, sync_id: str, types: Sequence[ResourceType], now: str) -> None:
        self.remember_types(types)
        self.conn.executemany(
            "INSERT INTO v1_resource_types (external_id, data, sync_id, discovered_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (external_id, sync_id) DO UPDATE SET data = excluded.data",
            [(rt.id, codec.resource_type_to_pb(rt).SerializeToString(deterministic=True), sync_id, now)
             for rt in types])

    def put_resources(self, sync_id: str, resources: Sequence[tuple[Any, ...]], now: str) -> int:
        """Upsert resources given as :meth:`resource_row` tuples."""
        rows = [(row[0], f"{row[0]}:{row[1]}", row[3][0] if row[3] else None, row[3][1] if row[3] else None,
                 self._resource_bytes(*row), sync_id, now) for row in resources]
        # An upsert that keeps the row id: the engine feeds per-resource work in id order.
        self.conn.executemany(
            "INSERT INTO v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, "
            "data, sync_id, discovered_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (external_id, sync_id) DO UPDATE "
            "SET parent_resource_type_id = excluded.parent_resource_type_id, "
            "parent_resource_id = excluded.parent_resource_id, data = excluded.data", rows)
        return len(rows)

    def put_entitlements(self, sync_id: str, entitlements: Sequence[Entitlement], now: str) -> int:
        rows = [(e.resource.type, e.resource.id, e.id,
                 codec.entitlement_to_pb(e, self.types).SerializeToString(deterministic=True), sync_id, now)
                for e in entitlements]
        self.conn.executemany(
            "INSERT OR REPLACE INTO v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, "
            "discovered_at) VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def put_grants(self, sync_id: str, grants: Sequence[tuple[Any, ...]], now: str) -> int:
        """Insert grants given as :meth:`grant_row` tuples."""
        rows = []
        cache, metadata_cache = self._entitlements, self._metadata
        for rtype, rid, slug, ptype, pid, expandable, data in grants:
            entitlement_id = f"{rtype}:{rid}:{slug}"
            grant_id = f"{entitlement_id}:{ptype}:{pid}"
            key = (rtype, rid, slug)
            ref = cache.get(key)
            if ref is None:
                if len(cache) >= _ENTITLEMENT_CACHE:
                    cache.clear()
                ref = cache[key] = wire.entitlement_ref(entitlement_id, rtype, rid)
            expansion = pb.GrantExpandable(entitlement_ids=expandable).SerializeToString() if expandable else None
            metadata = b""
            if data:
                # repr of JSON values says everything they hold, so equal reprs encode equally
                shape = repr(data)
                metadata = metadata_cache.get(shape, b"")
                if not metadata:
                    if len(metadata_cache) >= _ENTITLEMENT_CACHE:
                        metadata_cache.clear()
                    metadata = metadata_cache[shape] = wire.grant_metadata(data)
            rows.append((rtype, rid, entitlement_id, ptype, pid, grant_id, expansion, 1 if expansion else 0,
                         wire.encode_grant(grant_id, ref, ptype, pid, expandable=expandable,
                                           encoded_metadata=metadata), sync_id, now))
        self.conn.executemany(
            "INSERT OR REPLACE INTO v1_grants (resource_type_id, resource_id, entitlement_id, "
            "principal_resource_type_id, principal_resource_id, external_id, expansion, needs_expansion, data, "
            "sync_id, discovered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return len(rows)


def _connect_work(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-32768")  # 32 MiB: the unique indexes' working set at 100k users
    # A sync resumed right after its process was killed may find the old store process still rolling back.
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _init_schema(conn: sqlite3.Connection, connector: str) -> None:
    fresh = not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'v1_sync_runs'").fetchone()
    if fresh:
        # Pages freed by dropping old syncs are returned before publishing, so they are not compressed.
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.executescript(_BATON_SCHEMA)
    meta = dict(conn.execute("SELECT key, value FROM iac_meta").fetchall())
    if not meta:
        if not fresh and conn.execute("SELECT 1 FROM v1_sync_runs LIMIT 1").fetchone():
            raise ArtifactError("holds syncs written by another baton connector, not by this runtime")
        conn.executemany("INSERT INTO iac_meta (key, value) VALUES (?, ?)",
                         [("format", FORMAT), ("schema_version", str(SCHEMA_VERSION)), ("connector", connector)])
        return
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"not a sync artifact of this runtime (format {meta.get('format')!r})")
    if int(meta.get("schema_version", "0")) > SCHEMA_VERSION:
        raise ArtifactError(f"schema version {meta['schema_version']} is newer than this runtime's ({SCHEMA_VERSION})")
    if meta.get("connector", connector) != connector:
        raise ArtifactError(f"holds syncs of connector '{meta['connector']}', not '{connector}'")


class WorkingStore:
    """The writable ``.partial`` database of a sync. Single-threaded: only the engine's coordinator uses it."""

    def __init__(self, artifact: Path, *, connector: str) -> None:
        self.artifact = artifact
        self.path = work_path_for(artifact)
        self.connector = connector
        artifact.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists()
        if fresh:
            self._seed()
        try:
            self.conn = self._open()
        except ArtifactError:
            if fresh:
                raise
            log.warning("discarding an unreadable partial sync file %s", self.path)
            self.path.unlink()
            self._seed()
            self.conn = self._open()
        self.writer = _Writer(self.conn)
        self._in_tx = False
        self._floors: dict[str, int] = {}
        self._pruned = 0
        self._pruned_through: dict[str, int] = {}  # grants up to this id were checked by an early prune
        self._analyzed = False

    def _seed(self) -> None:
        """The working database starts as the published artifact (or a legacy one, converted)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        sibling = legacy_sibling(self.artifact)
        source = self.artifact if self.artifact.exists() else sibling if sibling and sibling.exists() else None
        if source is None:
            return
        if _is_legacy(source):
            log.info("converting %s from the previous artifact format to c1z", source)
            convert_legacy(source, tmp, connector=self.connector)
        else:
            if source != self.artifact:
                return
            try:
                with tmp.open("wb") as out:
                    decompress_c1z(source, out)
                    out.flush()
                    os.fsync(out.fileno())
            except C1zError as exc:
                tmp.unlink(missing_ok=True)
                raise ArtifactError(str(exc)) from None
        os.replace(tmp, self.path)

    def _open(self) -> sqlite3.Connection:
        try:
            conn = _connect_work(self.path)
        except sqlite3.DatabaseError as exc:
            raise ArtifactError(f"{self.path}: {exc}") from None
        try:
            _init_schema(conn, self.connector)
            for name in SDK_GRANT_INDEXES:  # left to readers (see the module docstring)
                conn.execute(f"DROP INDEX IF EXISTS {name}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ArtifactError(f"{self.path}: {exc}") from None
        except ArtifactError as exc:
            conn.close()
            raise ArtifactError(f"{self.artifact}: {exc}") from None
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
            "SELECT s.sync_id, s.sync_token FROM v1_sync_runs s JOIN iac_sync_runs i ON i.sync_id = s.sync_id "
            "WHERE s.ended_at IS NULL AND i.connector = ? ORDER BY s.started_at DESC LIMIT 1",
            (self.connector,)).fetchone()
        if row is None:
            return None
        try:
            state = json.loads(row[1] or "{}")
        except json.JSONDecodeError:
            state = {}
        return row[0], state if isinstance(state, dict) else {}

    def begin_sync(self, checkpoint: dict[str, Any], *, host_id: str = "",
                   started_at: float | None = None) -> str:
        sync_id = secrets.token_hex(8)
        self._begin()
        self.discard_unfinished()
        self._delete_syncs(self._complete_syncs()[1:])  # keep the latest complete one: the next diff's base
        resource_floor = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM v1_resources").fetchone()[0]
        grant_floor = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM v1_grants").fetchone()[0]
        self.conn.execute(
            "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, "
            "linked_sync_id, supports_diff) VALUES (?, ?, NULL, ?, 'full', '', '', 1)",
            (sync_id, c1z_time(started_at if started_at is not None else time.time()), _dumps(checkpoint)))
        self.conn.execute("INSERT INTO iac_sync_runs (sync_id, connector, host_id, row_floor, grant_floor) "
                          "VALUES (?, ?, ?, ?, ?)", (sync_id, self.connector, host_id, resource_floor, grant_floor))
        self.commit()
        return sync_id

    def _complete_syncs(self, but: str = "") -> list[str]:
        """This connector's complete syncs, newest first (``but`` left out)."""
        return [r[0] for r in self.conn.execute(
            "SELECT s.sync_id FROM v1_sync_runs s JOIN iac_sync_runs i ON i.sync_id = s.sync_id "
            "WHERE s.ended_at IS NOT NULL AND s.sync_id != ? AND i.connector = ? ORDER BY s.ended_at DESC, s.id DESC",
            (but, self.connector))]

    def discard_unfinished(self) -> None:
        self._begin()
        stale = [r[0] for r in self.conn.execute("SELECT sync_id FROM v1_sync_runs WHERE ended_at IS NULL")]
        self._delete_syncs(stale)

    def _delete_syncs(self, sync_ids: Sequence[str]) -> None:
        for sync_id in sync_ids:
            for table in _DATA_TABLES:
                self.conn.execute(f"DELETE FROM {table} WHERE sync_id = ?", (sync_id,))
            self.conn.execute("DELETE FROM v1_sync_runs WHERE sync_id = ?", (sync_id,))
            self.conn.execute("DELETE FROM iac_sync_runs WHERE sync_id = ?", (sync_id,))

    def checkpoint(self, sync_id: str, state: dict[str, Any]) -> None:
        """Record the resume token and commit everything written since the last checkpoint."""
        self._begin()
        self.conn.execute("UPDATE v1_sync_runs SET sync_token = ? WHERE sync_id = ?", (_dumps(state), sync_id))
        self.commit()

    # -- writes -----------------------------------------------------------------------------------------

    def put_resource_types(self, sync_id: str, types: Iterable[ResourceType]) -> None:
        self._begin()
        self.writer.put_resource_types(sync_id, list(types), c1z_time(time.time()))

    def put_resources(self, sync_id: str, resources: Iterable[Resource]) -> int:
        return self.put_resource_rows(sync_id, [resource_row(r) for r in resources])

    def put_resource_rows(self, sync_id: str, rows: Sequence[tuple[Any, ...]]) -> int:
        self._begin()
        return self.writer.put_resources(sync_id, rows, c1z_time(time.time()))

    def put_entitlements(self, sync_id: str, entitlements: Iterable[Entitlement]) -> int:
        self._begin()
        return self.writer.put_entitlements(sync_id, list(entitlements), c1z_time(time.time()))

    def put_grants(self, sync_id: str, grants: Iterable[Grant]) -> int:
        return self.put_grant_rows(sync_id, [grant_row(g) for g in grants])

    def put_grant_rows(self, sync_id: str, rows: Sequence[tuple[Any, ...]]) -> int:
        self._begin()
        return self.writer.put_grants(sync_id, rows, c1z_time(time.time()))

    # -- reads for the engine ---------------------------------------------------------------------------

    def _floor(self, sync_id: str, column: str = "row_floor") -> int:
        key = f"{sync_id}/{column}"
        if key not in self._floors:
            row = self.conn.execute(f"SELECT {column} FROM iac_sync_runs WHERE sync_id = ?", (sync_id,)).fetchone()
            self._floors[key] = int(row[0]) if row else 0
        return self._floors[key]

    def resources_after(self, sync_id: str, resource_type: str, after_rowid: int,
                        limit: int) -> list[tuple[int, Resource]]:
        return [(rowid, codec.resource_from_pb(pb.Resource.FromString(data)))
                for rowid, data in self.resource_rows_after(sync_id, resource_type, after_rowid, limit)]

    def resource_rows_after(self, sync_id: str, resource_type: str, after_rowid: int,
                            limit: int) -> list[tuple[int, bytes]]:
        """The next ``limit`` resources of a type in row order, as (row id, protobuf bytes)."""
        after = max(after_rowid, self._floor(sync_id))  # older syncs' rows sit below the floor
        rows: list[tuple[int, bytes]] = self.conn.execute(
            "SELECT id, data FROM v1_resources WHERE resource_type_id = ? AND id > ? AND sync_id = ? "
            "ORDER BY id LIMIT ?", (resource_type, after, sync_id, limit)).fetchall()
        return rows

    def get_resource(self, sync_id: str, resource_type: str, resource_id: str) -> Resource | None:
        row = self.conn.execute("SELECT data FROM v1_resources WHERE external_id = ? AND sync_id = ?",
                                (f"{resource_type}:{resource_id}", sync_id)).fetchone()
        return codec.resource_from_pb(pb.Resource.FromString(row[0])) if row else None

    # -- finishing --------------------------------------------------------------------------------------

    def prune_dangling(self, sync_id: str, principal_types: Iterable[str], *, early: bool = False) -> int:
        """Delete grants to principals of ``principal_types`` that this sync did not store; the number deleted
        by this call and any earlier one of this store.

        ``early``: the listings of those types are complete but the sync goes on. The grants stored so far
        are pruned now, and the final call only looks at grants stored after this one.
        """
        self._begin()
        start = max(self._floor(sync_id, "grant_floor"), self._pruned_through.get(sync_id, 0))
        removed = 0
        for ptype in sorted(principal_types):
            cur = self.conn.execute(
                "DELETE FROM v1_grants WHERE id > ? AND sync_id = ? AND principal_resource_type_id = ? AND NOT EXISTS "
                "(SELECT 1 FROM v1_resources r WHERE r.external_id = v1_grants.principal_resource_type_id || ':' || "
                "v1_grants.principal_resource_id AND r.sync_id = v1_grants.sync_id)", (start, sync_id, ptype))
            removed += cur.rowcount
        if early:  # read after the deletes: a new row's id is one above the largest left (ids are reused)
            top = self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM v1_grants").fetchone()[0]
            self._pruned_through[sync_id] = top
        self._pruned += removed
        return self._pruned

    def listings_complete(self, sync_id: str, principal_types: Iterable[str]) -> None:
        """The principals are all listed and the sync goes on: prune what dangles so far and gather the
        statistics readers plan with, so the end of the sync (which everything waits for) does less."""
        self.prune_dangling(sync_id, principal_types, early=True)
        self._analyze()

    def _analyze(self) -> None:
        self.conn.execute("PRAGMA analysis_limit=1000")  # sampled statistics: readers pick good indexes
        self.conn.execute("ANALYZE")
        self._analyzed = True

    def stats(self, sync_id: str) -> dict[str, Any]:
        return _counts(self.conn, sync_id, floors={"resources": self._floor(sync_id),
                                                   "grants": self._floor(sync_id, "grant_floor")})

    def finish(self, sync_id: str, *, stats: dict[str, Any], ended_at: float | None = None,
               keep_previous: bool = True) -> None:
        """Mark the run complete, drop older runs, then publish the database as the c1z artifact."""
        self._begin()
        self.conn.execute("UPDATE v1_sync_runs SET ended_at = ?, sync_token = '' WHERE sync_id = ?",
                          (c1z_time(ended_at if ended_at is not None else time.time()), sync_id))
        self.conn.execute("UPDATE iac_sync_runs SET stats = ? WHERE sync_id = ?", (_dumps(stats), sync_id))
        keep = [sync_id, *self._complete_syncs(but=sync_id)[:1 if keep_previous else 0]]
        drop = [r[0] for r in self.conn.execute("SELECT sync_id FROM v1_sync_runs") if r[0] not in keep]
        self._delete_syncs(drop)
        self.commit()
        self.conn.execute("PRAGMA incremental_vacuum")
        if not self._analyzed:  # statistics of most of the rows are as good as of all of them
            self._analyze()
        self.conn.close()
        publish(self.path, self.artifact)


def publish(database: Path, artifact: Path) -> None:
    """Compress ``database`` over ``artifact`` atomically, then remove ``database``."""
    tmp = artifact.with_name(artifact.name + ".tmp")
    compress_database(database, tmp)
    os.replace(tmp, artifact)
    fsync_path(artifact.parent, directory=True)
    database.unlink()


def _counts(conn: sqlite3.Connection, sync_id: str, floors: dict[str, int] | None = None) -> dict[str, Any]:
    """Rows per resource type; ``floors`` (table → id) skips the rows of older syncs without an index."""
    out: dict[str, Any] = {}
    for kind in ("resources", "entitlements", "grants"):
        floor = (floors or {}).get(kind, 0)
        counts = dict(conn.execute(f"SELECT resource_type_id, COUNT(*) FROM v1_{kind} WHERE id > ? AND sync_id = ? "
                                   "GROUP BY resource_type_id ORDER BY resource_type_id", (floor, sync_id)).fetchall())
        out[kind] = {"total": sum(counts.values()), "by_type": counts}
    return out


# -- the previous format --------------------------------------------------------------------------------

def convert_legacy(source: Path, target: Path, *, connector: str | None = None) -> None:
    """Convert an artifact of the previous format (``iac-baton-sync`` SQLite) into a c1z v1 database at
    ``target`` (uncompressed), keeping its complete syncs."""
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as old:
        meta = dict(old.execute("SELECT key, value FROM meta").fetchall())
        owner = meta.get("connector", "")
        if connector is not None and owner != connector:
            raise ArtifactError(f"{source}: holds syncs of connector '{owner}', not '{connector}'")
        target.unlink(missing_ok=True)
        conn = _connect_work(target)
        try:
            _init_schema(conn, owner)
            writer = _Writer(conn)
            conn.execute("BEGIN")
            runs = old.execute("SELECT sync_id, started_at, ended_at, stats, host_id FROM sync_runs "
                               "WHERE state = 'complete' ORDER BY ended_at").fetchall()
            for sync_id, started, ended, stats, host_id in runs:
                conn.execute("INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token, supports_diff) "
                             "VALUES (?, ?, ?, '', 1)", (sync_id, c1z_time(started), c1z_time(ended or started)))
                conn.execute("INSERT INTO iac_sync_runs (sync_id, connector, host_id, stats) VALUES (?, ?, ?, ?)",
                             (sync_id, owner, host_id or "", stats or "{}"))
                now = c1z_time(ended or started)
                types = [_legacy_type(json.loads(d)) for (d,) in old.execute(
                    "SELECT data FROM resource_types WHERE sync_id = ? ORDER BY id", (sync_id,))]
                writer.put_resource_types(sync_id, types, now)
                for batch in _batches(old.execute("SELECT data FROM resources WHERE sync_id = ? ORDER BY rowid",
                                                  (sync_id,))):
                    writer.put_resources(sync_id, [resource_row(Resource.from_json(json.loads(d)))
                                                    for (d,) in batch], now)
                for batch in _batches(old.execute("SELECT data FROM entitlements WHERE sync_id = ?", (sync_id,))):
                    writer.put_entitlements(sync_id, [_legacy_entitlement(json.loads(d)) for (d,) in batch], now)
                for batch in _batches(old.execute(
                        "SELECT id, data FROM grants WHERE sync_id = ?", (sync_id,))):
                    writer.put_grants(sync_id, [grant_row(_legacy_grant(gid, json.loads(d)))
                                                 for gid, d in batch], now)
            conn.execute("COMMIT")
        finally:
            conn.close()


def _batches(cursor: sqlite3.Cursor, size: int = 1000) -> Iterator[list[Any]]:
    while batch := cursor.fetchmany(size):
        yield batch


def _legacy_type(data: dict[str, Any]) -> ResourceType:
    return ResourceType(data["id"], data.get("display_name") or data["id"],
                        tuple(Trait(t) for t in data.get("traits") or ()), data.get("description") or "",
                        parent=data.get("parent"))


def _legacy_entitlement(data: dict[str, Any]) -> Entitlement:
    return Entitlement(ResourceRef(data["resource_type"], data["resource_id"]), data["slug"], data["display_name"],
                       grantable_to=tuple(data.get("grantable_to") or ()), description=data.get("description") or "")


def _legacy_grant(grant_id: str, data: dict[str, Any]) -> Grant:
    resource, slug, principal = parse_grant_id(grant_id)
    return Grant(resource, slug, principal, expandable=tuple(data.get("expandable") or ()),
                 data=data.get("data") or {})


# -- reading --------------------------------------------------------------------------------------------

class Artifact:
    """A read-only view of a c1z v1 — ours or any baton connector's — or of an artifact of the previous
    format (converted on the fly). For inspect, diff and tests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise ArtifactError(f"{path}: no such artifact")
        with path.open("rb") as handle:
            head = handle.read(16)
        try:
            self.c1z = self._convert(path) if sniff(head) == "unknown" and _is_legacy(path) else open_c1z(path)
        except C1zError as exc:
            raise ArtifactError(str(exc)) from None
        self.conn = self.c1z.conn
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self._ours = "iac_sync_runs" in tables
        self._grant_columns = {r[1] for r in self.conn.execute("PRAGMA table_info(v1_grants)")}

    @staticmethod
    def _convert(path: Path) -> C1zReader:
        fd, name = tempfile.mkstemp(prefix="c1z-legacy-", suffix=".sqlite")
        os.close(fd)
        database = Path(name)
        try:
            convert_legacy(path, database)
            return C1zReader(path, database, owns_database=True)
        except BaseException:
            database.unlink(missing_ok=True)
            raise

    def close(self) -> None:
        self.c1z.close()

    def __enter__(self) -> Artifact:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def has_expansion_column(self) -> bool:
        return "expansion" in self._grant_columns

    def runs(self) -> list[SyncRun]:
        """Complete full syncs, newest first."""
        finished = self.c1z.finished_syncs() or self.c1z.finished_syncs(None)
        out = []
        for sync_id in finished:
            started, ended = self.conn.execute("SELECT started_at, ended_at FROM v1_sync_runs WHERE sync_id = ?",
                                               (sync_id,)).fetchone()
            connector, stats = "", "{}"
            if self._ours:
                row = self.conn.execute("SELECT connector, stats FROM iac_sync_runs WHERE sync_id = ?",
                                        (sync_id,)).fetchone()
                if row:
                    connector, stats = row[0], row[1] or "{}"
            start_time, end_time = parse_c1z_time(started), parse_c1z_time(ended)
            out.append(SyncRun(sync_id, connector, "complete", start_time.timestamp() if start_time else 0.0,
                               end_time.timestamp() if end_time else None, json.loads(stats)))
        return out

    def latest(self) -> SyncRun:
        runs = self.runs()
        if not runs:
            raise ArtifactError(f"{self.path}: holds no complete sync")
        return runs[0]

    def rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        yield from self.conn.execute(sql, params)

    def stats(self, sync_id: str) -> dict[str, Any]:
        return _counts(self.conn, sync_id)

    def content(self, sync_id: str | None = None) -> dict[str, set[tuple[str, ...]]]:
        """Everything one sync holds, decoded into the runtime's models, as sets of natural keys and JSON
        (for equality checks in tests)."""
        sid = sync_id or self.latest().sync_id
        expansion = "expansion" if self.has_expansion_column else "NULL"
        return {
            "resource_types": {(r[0], _dumps(codec.resource_type_from_pb(pb.ResourceType.FromString(r[1])).to_json()))
                               for r in self.rows("SELECT external_id, data FROM v1_resource_types WHERE sync_id = ?",
                                                  (sid,))},
            "resources": {(r[0], r[1], _dumps(codec.resource_from_pb(pb.Resource.FromString(r[2])).to_json()))
                          for r in self.rows("SELECT resource_type_id, substr(external_id, length(resource_type_id) "
                                             "+ 2), data FROM v1_resources WHERE sync_id = ?", (sid,))},
            "entitlements": {(r[0], _dumps(codec.entitlement_from_pb(pb.Entitlement.FromString(r[1])).to_json()))
                             for r in self.rows("SELECT external_id, data FROM v1_entitlements WHERE sync_id = ?",
                                                (sid,))},
            "grants": {(r[0], _dumps(codec.grant_from_pb(pb.Grant.FromString(r[1]), r[2]).to_json()))
                       for r in self.rows(f"SELECT external_id, data, {expansion} FROM v1_grants WHERE sync_id = ?",
                                          (sid,))},
        }
