"""Read c1z v1 files: ``C1ZF\\x00`` then one zstd frame of a SQLite database of ``v1_*`` tables.

The database is decompressed to a temporary file (SQLite needs a seekable file) that lives as long as
the reader. Rows are decoded lazily, one at a time, so memory does not grow with the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, NamedTuple, Self

import zstandard

from iac.c1z._pb.entitlement_pb2 import Entitlement
from iac.c1z._pb.grant_pb2 import Grant
from iac.c1z._pb.resource_pb2 import Resource, ResourceType
from iac.errors import IacError

__all__ = ["C1Z_V1_MAGIC", "C1Z_V3_MAGIC", "SDK_GRANT_INDEXES", "C1zError", "C1zReader", "SyncRunInfo",
           "decompress_c1z", "open_c1z", "parse_c1z_time", "sniff"]

C1Z_V1_MAGIC = b"C1ZF\x00"
C1Z_V3_MAGIC = b"C1Z3"

# baton-sdk's indexes on v1_grants besides the unique (external_id, sync_id): the SDK creates any a file lacks
# when it opens one, and so does :meth:`C1zReader.ensure_indexes` (this project's writer leaves them out).
SDK_GRANT_INDEXES = {
    "idx_grants_resource_type_id_resource_id_v1": "v1_grants (resource_type_id, resource_id)",
    "idx_grants_principal_id_v1": "v1_grants (principal_resource_type_id, principal_resource_id)",
    "idx_grants_entitlement_id_principal_id_v1":
        "v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id)",
    "idx_grants_sync_expansion_v1": "v1_grants (sync_id) WHERE expansion IS NOT NULL",
    "idx_grants_sync_needs_expansion_v1": "v1_grants (sync_id) WHERE needs_expansion = 1",
}

_REQUIRED_TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_sync_runs")


class C1zError(IacError):
    """The file is not a c1z this reader can open (one line, exit 2)."""


class SyncRunInfo(NamedTuple):
    sync_id: str
    started_at: datetime | None
    ended_at: datetime | None
    sync_type: str
    parent_sync_id: str


_GO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?")


def parse_c1z_time(value: object) -> datetime | None:
    """A ``datetime`` column as Go's SQLite drivers write it (``2026-12-04 15:49:08.123456789+00:00``)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    match = _GO_TIME.match(str(value))
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    offset = "+00:00" if zone in (None, "Z") else zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
    return datetime.fromisoformat(f"{day}T{clock}.{micros}{offset}")


def sniff(head: bytes) -> str:
    """``v1``, ``v3`` or ``unknown`` from a file's first bytes."""
    if head.startswith(C1Z_V1_MAGIC):
        return "v1"
    if head.startswith(C1Z_V3_MAGIC):
        return "v3"
    return "unknown"


def decompress_c1z(source: Path, target: IO[bytes]) -> None:
    """Write the SQLite database inside the c1z v1 ``source`` to ``target`` (streamed, constant memory)."""
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise C1zError(f"{source}: cannot read ({exc.strerror or exc})") from None
    with handle:
        kind = sniff(handle.read(len(C1Z_V1_MAGIC)))
        if kind == "v3":
            raise C1zError(f"{source}: a c1z v3 (Pebble) file, which this reader cannot open; run the connector "
                           "with --storage-engine sqlite to get a v1")
        if kind != "v1":
            raise C1zError(f"{source}: not a c1z file (no C1ZF header)")
        try:
            zstandard.ZstdDecompressor().copy_stream(handle, target)
        except zstandard.ZstdError as exc:
            raise C1zError(f"{source}: a damaged c1z (zstd: {exc})") from None


class C1zReader:
    """Read-only access to one c1z v1. Use :func:`open_c1z`."""

    def __init__(self, path: Path, database: Path, *, owns_database: bool) -> None:
        self.path = path
        self.database = database
        self._owns_database = owns_database
        self.conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
        try:
            names = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            self.close()
            raise C1zError(f"{path}: not a c1z file (the payload is not a SQLite database: {exc})") from None
        missing = [t for t in _REQUIRED_TABLES if t not in names]
        if missing:
            self.close()
            raise C1zError(f"{path}: not a c1z v1 database (no {', '.join(missing)} table)")
        self._sync_columns = {r[1] for r in self.conn.execute("PRAGMA table_info(v1_sync_runs)")}

    # -- life cycle -------------------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()
        if self._owns_database:
            with contextlib.suppress(FileNotFoundError):
                self.database.unlink()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ensure_indexes(self) -> None:
        """Create the baton-sdk grant indexes the file lacks, on this reader's private copy (as the SDK does
        when it opens a file); a no-op for a database the reader does not own."""
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(v1_grants)")}
        present = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        missing = {n: d for n, d in SDK_GRANT_INDEXES.items()
                   if n not in present and ("expansion" in columns or "expansion" not in d)}
        if not missing or not self._owns_database:
            return
        with contextlib.closing(sqlite3.connect(self.database)) as writable:
            for name, target in missing.items():
                writable.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")
            writable.commit()

    # -- sync runs --------------------------------------------------------------------------------------

    def sync_runs(self) -> list[SyncRunInfo]:
        """Every sync run in the file, oldest first (finished or not)."""
        sync_type = "sync_type" if "sync_type" in self._sync_columns else "'full'"
        parent = "parent_sync_id" if "parent_sync_id" in self._sync_columns else "''"
        rows = self.conn.execute(f"SELECT sync_id, started_at, ended_at, {sync_type}, {parent} "
                                 "FROM v1_sync_runs ORDER BY id")
        return [SyncRunInfo(r[0], parse_c1z_time(r[1]), parse_c1z_time(r[2]), r[3] or "full", r[4] or "")
                for r in rows]

    def finished_syncs(self, sync_type: str | None = "full") -> list[str]:
        """Ids of finished syncs, newest first (``sync_type=None``: of any type)."""
        where = "ended_at IS NOT NULL"
        params: tuple[str, ...] = ()
        if sync_type is not None and "sync_type" in self._sync_columns:
            where += " AND sync_type = ?"
            params = (sync_type,)
        rows = self.conn.execute(f"SELECT sync_id FROM v1_sync_runs WHERE {where} ORDER BY ended_at DESC, id DESC",
                                 params)
        return [r[0] for r in rows]

    def latest_sync_id(self) -> str:
        """The latest finished full sync (what the baton CLI shows by default)."""
        finished = self.finished_syncs() or self.finished_syncs(None)
        if not finished:
            raise C1zError(f"{self.path}: holds no finished sync")
        return finished[0]

    def _sync(self, sync_id: str | None) -> str:
        return sync_id if sync_id is not None else self.latest_sync_id()

    # -- objects ----------------------------------------------------------------------------------------

    def resource_types(self, *, sync_id: str | None = None) -> Iterator[ResourceType]:
        for (data,) in self.conn.execute("SELECT data FROM v1_resource_types WHERE sync_id = ? ORDER BY external_id",
                                         (self._sync(sync_id),)):
            yield ResourceType.FromString(data)

    def _rows(self, table: str, sync_id: str | None, filters: dict[str, str | None]) -> Iterator[bytes]:
        """``data`` of one sync's rows of ``table`` whose columns equal the given (not None) values, in
        external-id order."""
        sql = f"SELECT data FROM {table} WHERE sync_id = ?"
        params: list[str] = [self._sync(sync_id)]
        for column, value in filters.items():
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        for (data,) in self.conn.execute(sql + " ORDER BY external_id", params):
            yield data

    def resources(self, *, sync_id: str | None = None, resource_type_id: str | None = None) -> Iterator[Resource]:
        for data in self._rows("v1_resources", sync_id, {"resource_type_id": resource_type_id}):
            yield Resource.FromString(data)

    def resource(self, resource_type_id: str, resource_id: str, *, sync_id: str | None = None) -> Resource | None:
        row = self.conn.execute("SELECT data FROM v1_resources WHERE external_id = ? AND sync_id = ?",
                                (f"{resource_type_id}:{resource_id}", self._sync(sync_id))).fetchone()
        return Resource.FromString(row[0]) if row else None

    def entitlements(self, *, sync_id: str | None = None, resource_type_id: str | None = None,
                     resource_id: str | None = None) -> Iterator[Entitlement]:
        for data in self._rows("v1_entitlements", sync_id,
                               {"resource_type_id": resource_type_id, "resource_id": resource_id}):
            yield Entitlement.FromString(data)

    def grants(self, *, sync_id: str | None = None, resource_type_id: str | None = None,
               resource_id: str | None = None, principal: tuple[str, str] | None = None,
               entitlement_id: str | None = None) -> Iterator[Grant]:
        """Grants of one sync, optionally only those on a resource (type, id), to a principal (type, id) or of
        one entitlement."""
        principal_type, principal_id = principal if principal is not None else (None, None)
        for data in self._rows("v1_grants", sync_id, {
                "resource_type_id": resource_type_id, "resource_id": resource_id,
                "principal_resource_type_id": principal_type, "principal_resource_id": principal_id,
                "entitlement_id": entitlement_id}):
            yield Grant.FromString(data)

    def counts(self, *, sync_id: str | None = None) -> dict[str, dict[str, int]]:
        """Per table (``resources``, ``entitlements``, ``grants``), rows per resource type id."""
        sid = self._sync(sync_id)
        out: dict[str, dict[str, int]] = {}
        for kind in ("resources", "entitlements", "grants"):
            rows = self.conn.execute(f"SELECT resource_type_id, COUNT(*) FROM v1_{kind} WHERE sync_id = ? "
                                     "GROUP BY resource_type_id ORDER BY resource_type_id", (sid,))
            out[kind] = {r[0]: r[1] for r in rows}
        return out


def open_c1z(path: str | os.PathLike[str], *, temp_dir: str | os.PathLike[str] | None = None) -> C1zReader:
    """Open a c1z v1 for reading; the caller closes it (it is a context manager).

    Raises :class:`C1zError` for a c1z v3, for anything that is not a c1z, and for a damaged one.
    """
    source = Path(path)
    if not source.is_file():
        raise C1zError(f"{source}: no such file")
    fd, name = tempfile.mkstemp(prefix="c1z-", suffix=".sqlite", dir=temp_dir)
    database = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            decompress_c1z(source, out)
        return C1zReader(source, database, owns_database=True)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            database.unlink()
        raise
