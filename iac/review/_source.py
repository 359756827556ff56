"""The review's data-access layer: one sync of one connector, read as plain rows whatever file holds it.

A :class:`SyncSource` is an open file (this project's SQLite artifact, or a baton c1z v1 once ``iac.c1z``
is present); :meth:`SyncSource.snapshot` gives one complete sync as four streams of rows. The report is
built only from these streams, so supporting another file format is one more ``SyncSource``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from iac.runtime import Artifact
from iac.runtime.errors import ArtifactError

__all__ = [
    "EntitlementRow",
    "GrantRow",
    "ResourceRow",
    "Snapshot",
    "SyncInfo",
    "SyncSource",
    "TypeRow",
    "open_source",
]


@dataclass(frozen=True, slots=True)
class SyncInfo:
    sync_id: str
    started_at: float | None
    ended_at: float | None


@dataclass(frozen=True, slots=True)
class TypeRow:
    id: str
    display_name: str
    traits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ResourceRow:
    type: str
    id: str
    display_name: str
    status: str | None = None
    """The user trait's status (``enabled``, ``disabled``, ``deleted``), when the resource is an account."""
    login: str | None = None
    emails: tuple[str, ...] = ()
    profile: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EntitlementRow:
    id: str
    resource_type: str
    resource_id: str
    slug: str
    display_name: str


GrantRow = tuple[str, str, str, tuple[str, ...]]
"""(entitlement id, principal type, principal id, expandable entitlement ids)."""


class Snapshot(Protocol):
    """One complete sync."""

    info: SyncInfo

    def resource_types(self) -> Iterator[TypeRow]: ...
    def resources(self) -> Iterator[ResourceRow]: ...
    def entitlements(self) -> Iterator[EntitlementRow]: ...
    def grants(self) -> Iterator[GrantRow]: ...


class SyncSource(Protocol):
    path: Path
    format: str
    """Shown in the report: ``iac artifact`` or ``c1z v1``."""
    integration: str | None
    """The integration the file says it holds (None when the format does not say)."""

    def syncs(self) -> list[SyncInfo]:
        """Complete syncs, newest first."""
        ...

    def snapshot(self, sync: SyncInfo) -> Snapshot: ...
    def close(self) -> None: ...


# -- this project's artifact --------------------------------------------------------------------------


@dataclass
class _ArtifactSnapshot:
    artifact: Artifact
    info: SyncInfo

    def resource_types(self) -> Iterator[TypeRow]:
        for ident, name, data in self.artifact.rows(
                "SELECT id, display_name, data FROM resource_types WHERE sync_id = ? ORDER BY id",
                (self.info.sync_id,)):
            yield TypeRow(ident, name, tuple(json.loads(data).get("traits") or ()))

    def resources(self) -> Iterator[ResourceRow]:
        for (data,) in self.artifact.rows("SELECT data FROM resources WHERE sync_id = ?", (self.info.sync_id,)):
            r = json.loads(data)
            yield ResourceRow(r["type"], r["id"], r.get("display_name") or r["id"], r.get("status"), r.get("login"),
                              tuple(r.get("emails") or ()), r.get("profile") or {})

    def entitlements(self) -> Iterator[EntitlementRow]:
        for row in self.artifact.rows("SELECT id, resource_type, resource_id, slug, display_name FROM entitlements "
                                      "WHERE sync_id = ?", (self.info.sync_id,)):
            yield EntitlementRow(*row)

    def grants(self) -> Iterator[GrantRow]:
        for entitlement, ptype, pid, data in self.artifact.rows(
                "SELECT entitlement_id, principal_type, principal_id, data FROM grants WHERE sync_id = ?",
                (self.info.sync_id,)):
            # Most grants carry nothing beyond their columns: skip the JSON parse for them.
            expandable = tuple(json.loads(data).get("expandable") or ()) if data != "{}" else ()
            yield entitlement, ptype, pid, expandable


class _ArtifactSource:
    format = "iac artifact"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.artifact = Artifact(path)
        row = self.artifact.conn.execute("SELECT value FROM meta WHERE key = 'connector'").fetchone()
        self.integration: str | None = row[0] if row else None

    def syncs(self) -> list[SyncInfo]:
        return [SyncInfo(r.sync_id, r.started_at, r.ended_at) for r in self.artifact.runs()]

    def snapshot(self, sync: SyncInfo) -> Snapshot:
        return _ArtifactSnapshot(self.artifact, sync)

    def close(self) -> None:
        self.artifact.close()


_SQLITE_MAGIC = b"SQLite format 3\x00"
_C1Z_MAGIC = b"C1Z"


@contextlib.contextmanager
def open_source(path: Path) -> Iterator[SyncSource]:
    """Open ``path`` as whatever sync file it is. Raises :class:`ArtifactError` (one line) otherwise."""
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file")
    with path.open("rb") as handle:
        head = handle.read(16)
    source: SyncSource
    if head.startswith(_SQLITE_MAGIC):
        source = _ArtifactSource(path)
    elif head.startswith(_C1Z_MAGIC):
        source = _open_c1z(path)
    else:
        raise ArtifactError(f"{path}: neither a sync artifact nor a c1z file")
    try:
        yield source
    finally:
        source.close()


def _open_c1z(path: Path) -> SyncSource:
    raise ArtifactError(f"{path}: is a c1z file; reading c1z needs the iac.c1z package, which this version "
                        "does not have yet")
