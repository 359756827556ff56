"""The review's data-access layer: one sync of one connector, read as plain rows whatever file holds it.

A :class:`SyncSource` is an open file (a baton c1z v1: this runtime's artifact or any connector's; or an
artifact of the runtime's previous SQLite format, converted on opening); :meth:`SyncSource.snapshot` gives
one complete sync as streams of rows. The report is built only from these streams, so supporting another
file format is one more ``SyncSource``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
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
    def resources(self, resource_type: str | None = None,
                  attributes: Sequence[str] | None = None) -> Iterator[ResourceRow]:
        """Resources (of one type); ``attributes`` names the profile keys wanted (None: the whole profile),
        so a source can skip parsing the rest."""
        ...
    def entitlements(self) -> Iterator[EntitlementRow]: ...
    def grants(self) -> Iterator[GrantRow]: ...

    def grants_by_principal(self) -> Iterator[tuple[str, str, list[str]]]:
        """The same grants grouped by holder: (principal type, principal id, entitlement ids), each principal
        once. Sources answer from an index where they can: 1M grants are 100k rows here, not 1M."""
        ...

    def expandable_grants(self) -> Iterator[GrantRow]:
        """Only the grants whose holding passes on to the holders of other entitlements."""
        ...

    def resource_changes(self, previous: Snapshot, resource_type: str, attributes: Sequence[str] | None = None
                         ) -> tuple[Iterator[ResourceRow], Iterator[str]] | None:
        """Resources of one type that changed since ``previous``: (``previous``'s rows that this sync lacks or
        holds otherwise, the ids of this sync's rows that ``previous`` lacks), when the source can compare them
        itself (two syncs of one file); None: the caller reads ``previous.resources`` whole. An unchanged row
        is in neither."""
        ...

    def grant_changes(self, previous: Snapshot) -> Iterator[tuple[str, str, str, str]] | None:
        """``(added|removed, entitlement id, principal type, principal id)`` against ``previous``, when the
        source can work it out itself (two syncs of one file); None: the caller compares the streams."""
        ...


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
    if head.startswith(_SQLITE_MAGIC):  # an artifact of the runtime's previous format, converted on opening
        source = _C1zSource(path, Artifact(path).c1z, file_format="iac artifact (previous format)")
    elif head.startswith(_C1Z_MAGIC):
        source = _open_c1z(path)
    else:
        raise ArtifactError(f"{path}: neither a sync artifact nor a c1z file")
    try:
        yield source
    finally:
        source.close()


# -- any baton connector's c1z v1 ---------------------------------------------------------------------

_TRAITS = {1: "user", 2: "group", 3: "role", 4: "app", 5: "secret"}
_USER_STATUS = {1: "enabled", 2: "disabled", 3: "deleted"}


def _epoch(value: Any) -> float | None:
    return None if value is None else float(value.timestamp())


_USER_TRAIT = "c1.connector.v2.UserTrait"


def _value(value: Any) -> Any:
    """A ``google.protobuf.Value`` as JSON: strings, booleans and nulls read directly (MessageToDict costs
    ~20 µs a call, and profile rules read strings), the rest as MessageToDict writes them."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind is None or kind == "null_value":
        return None
    from google.protobuf.json_format import MessageToDict

    return MessageToDict(value)


def _resource_row(r: Any, attributes: Sequence[str] | None) -> ResourceRow:
    """A ``c1.connector.v2.Resource`` as a row: the user trait's status, login, emails and (wanted) profile."""
    from iac.c1z import pb

    status = login = None
    emails: tuple[str, ...] = ()
    profile: dict[str, Any] = {}
    for annotation in r.annotations:
        # The type name is what Any.Is compares; comparing it here skips two descriptor look-ups a row.
        if annotation.type_url.rpartition("/")[2] == _USER_TRAIT:
            trait = pb.UserTrait.FromString(annotation.value)
            status = _USER_STATUS.get(trait.status.status)
            login = trait.login or None
            emails = tuple(e.address for e in sorted(trait.emails, key=lambda e: not e.is_primary))
            if not trait.HasField("profile"):
                profile = {}
            elif attributes is None:
                from google.protobuf.json_format import MessageToDict

                profile = MessageToDict(trait.profile)
            else:  # only the keys asked for (a whole Struct to dict costs more than the rest)
                fields = trait.profile.fields
                profile = {k: _value(fields[k]) for k in attributes if k in fields}
    return ResourceRow(r.id.resource_type, r.id.resource, r.display_name or r.id.resource, status, login,
                       emails, profile)


@dataclass
class _C1zSnapshot:
    reader: Any  # iac.c1z.C1zReader (imported lazily: protobuf loads only for c1z files)
    info: SyncInfo

    def resource_types(self) -> Iterator[TypeRow]:
        for t in self.reader.resource_types(sync_id=self.info.sync_id):
            yield TypeRow(t.id, t.display_name or t.id, tuple(_TRAITS[x] for x in t.traits if x in _TRAITS))

    def resources(self, resource_type: str | None = None,
                  attributes: Sequence[str] | None = None) -> Iterator[ResourceRow]:
        for r in self.reader.resources(sync_id=self.info.sync_id, resource_type_id=resource_type):
            yield _resource_row(r, attributes)

    def resource_changes(self, previous: Snapshot, resource_type: str, attributes: Sequence[str] | None = None
                         ) -> tuple[Iterator[ResourceRow], Iterator[str]] | None:
        if not isinstance(previous, _C1zSnapshot) or previous.reader is not self.reader:
            return None
        from iac.c1z import pb

        # A row whose bytes equal the other sync's row of the same external id says the same thing: only the
        # others are parsed (the (external_id, sync_id) index answers each lookup).
        old, new, conn = previous.info.sync_id, self.info.sync_id, self.reader.conn
        differing = conn.execute(
            "SELECT o.data FROM v1_resources o WHERE o.sync_id = ? AND o.resource_type_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM v1_resources n WHERE n.external_id = o.external_id AND n.sync_id = ? AND n.data = o.data) "
            "ORDER BY o.external_id", (old, resource_type, new)).fetchall()
        added = conn.execute(
            "SELECT n.data FROM v1_resources n WHERE n.sync_id = ? AND n.resource_type_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM v1_resources o WHERE o.external_id = n.external_id AND o.sync_id = ?) "
            "ORDER BY n.external_id", (new, resource_type, old)).fetchall()
        return ((_resource_row(pb.Resource.FromString(data), attributes) for (data,) in differing),
                (pb.Resource.FromString(data).id.resource for (data,) in added))

    def entitlements(self) -> Iterator[EntitlementRow]:
        for e in self.reader.entitlements(sync_id=self.info.sync_id):
            slug = e.slug or e.id.rpartition(":")[2]
            yield EntitlementRow(e.id, e.resource.id.resource_type, e.resource.id.resource, slug,
                                 e.display_name or e.id)

    def grants(self) -> Iterator[GrantRow]:
        from iac.c1z import pb

        # The columns say everything but expansion; only a row that mentions GrantExpandable is parsed.
        marker = pb.GrantExpandable.DESCRIPTOR.full_name.encode()
        for entitlement, ptype, pid, data in self.reader.conn.execute(
                "SELECT entitlement_id, principal_resource_type_id, principal_resource_id, data FROM v1_grants "
                "WHERE sync_id = ?", (self.info.sync_id,)):
            expandable: tuple[str, ...] = ()
            if marker in data:
                for annotation in pb.Grant.FromString(data).annotations:
                    if annotation.Is(pb.GrantExpandable.DESCRIPTOR):
                        found = pb.GrantExpandable()
                        annotation.Unpack(found)
                        expandable += tuple(found.entitlement_ids)
            yield entitlement, ptype, pid, expandable

    def grants_by_principal(self) -> Iterator[tuple[str, str, list[str]]]:
        for ptype, pid, ids in self.reader.conn.execute(
                "SELECT principal_resource_type_id, principal_resource_id, group_concat(entitlement_id, char(31)) "
                "FROM v1_grants WHERE sync_id = ? GROUP BY 1, 2", (self.info.sync_id,)):
            yield ptype, pid, ids.split("\x1f")

    def expandable_grants(self) -> Iterator[GrantRow]:
        from iac.c1z import pb

        columns = {r[1] for r in self.reader.conn.execute("PRAGMA table_info(v1_grants)")}
        if "expansion" in columns:  # newer SDKs keep the GrantExpandable in its own (indexed) column
            for entitlement, ptype, pid, blob in self.reader.conn.execute(
                    "SELECT entitlement_id, principal_resource_type_id, principal_resource_id, expansion FROM "
                    "v1_grants WHERE sync_id = ? AND expansion IS NOT NULL", (self.info.sync_id,)):
                ids = tuple(pb.GrantExpandable.FromString(blob).entitlement_ids)
                if ids:
                    yield entitlement, ptype, pid, ids
            return
        marker = pb.GrantExpandable.DESCRIPTOR.full_name.encode()
        for (data,) in self.reader.conn.execute(
                "SELECT data FROM v1_grants WHERE sync_id = ? AND instr(data, ?) > 0", (self.info.sync_id, marker)):
            grant = pb.Grant.FromString(data)
            expandable: tuple[str, ...] = ()
            for annotation in grant.annotations:
                if annotation.Is(pb.GrantExpandable.DESCRIPTOR):
                    found = pb.GrantExpandable()
                    annotation.Unpack(found)
                    expandable += tuple(found.entitlement_ids)
            if expandable:
                principal = grant.principal.id
                yield grant.entitlement.id, principal.resource_type, principal.resource, expandable

    def grant_changes(self, previous: Snapshot) -> Iterator[tuple[str, str, str, str]] | None:
        if not isinstance(previous, _C1zSnapshot) or previous.reader is not self.reader:
            return None
        return self._grant_changes(previous.info.sync_id)

    def _grant_changes(self, old: str) -> Iterator[tuple[str, str, str, str]]:
        # The ids of both syncs merged by SQLite (MERGE (EXCEPT) over the (external_id, sync_id) index); only
        # the few that differ are looked up.
        sql = ("SELECT entitlement_id, principal_resource_type_id, principal_resource_id FROM v1_grants "
               "WHERE sync_id = ? AND external_id IN (SELECT external_id FROM v1_grants WHERE sync_id = ? "
               "EXCEPT SELECT external_id FROM v1_grants WHERE sync_id = ? ORDER BY 1) ORDER BY external_id")
        for change, (a, b) in (("removed", (old, self.info.sync_id)), ("added", (self.info.sync_id, old))):
            for row in self.reader.conn.execute(sql, (a, a, b)):
                yield (change, *row)


class _C1zSource:
    format = "c1z v1"

    def __init__(self, path: Path, reader: Any = None, *, file_format: str = "c1z v1") -> None:
        from iac.c1z import open_c1z

        self.path = path
        self.format = file_format
        self.reader = reader if reader is not None else open_c1z(path)
        # This runtime's c1z names its connector in a table of its own; other connectors' files do not.
        has_meta = self.reader.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'iac_meta'").fetchone()
        row = (self.reader.conn.execute("SELECT value FROM iac_meta WHERE key = 'connector'").fetchone()
               if has_meta else None)
        self.integration: str | None = row[0] if row else None

    def syncs(self) -> list[SyncInfo]:
        runs = {run.sync_id: run for run in self.reader.sync_runs()}
        finished = self.reader.finished_syncs() or self.reader.finished_syncs(None)
        return [SyncInfo(s, _epoch(runs[s].started_at), _epoch(runs[s].ended_at)) for s in finished if s in runs]

    def snapshot(self, sync: SyncInfo) -> Snapshot:
        return _C1zSnapshot(self.reader, sync)

    def close(self) -> None:
        self.reader.close()


def _open_c1z(path: Path) -> SyncSource:
    return _C1zSource(path)
