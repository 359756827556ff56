"""Read an artifact for access reviews: every view is a list of columns plus a stream of rows.

Works on any c1z v1: ours, or one written by any baton connector. Views: ``resources`` (with each
resource's profile attributes), ``entitlements``, ``grants``, ``principals``, ``access <principal>``
(direct grants plus what they reach by expansion: ``GrantExpandable`` grants), ``diff`` (latest complete
sync against the previous one) and ``stats``. Rows are plain dicts of JSON values, so the CLI can print
them as a table, JSON or CSV; a resource row carries ``profile`` as an object, and the columns name each
profile attribute as ``profile.<name>`` (:func:`cell` flattens a row for CSV and tables).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from iac.c1z import pb
from iac.runtime import _c1z_codec as codec
from iac.runtime._models import ResourceRef
from iac.runtime._store import Artifact
from iac.runtime.errors import ArtifactError

__all__ = ["VIEWS", "View", "cell", "inspect_view"]

Row = dict[str, Any]
PROFILE_PREFIX = "profile."


@dataclass(frozen=True)
class View:
    name: str
    columns: tuple[str, ...]
    rows: Iterator[Row]


VIEWS = ("resources", "entitlements", "grants", "principals", "access", "diff", "stats")


def cell(row: Row, column: str) -> Any:
    """A row's value for ``column``, with ``profile.<name>`` looked up in ``row["profile"]``; lists and
    objects as JSON text (for CSV and tables)."""
    if column.startswith(PROFILE_PREFIX) and column not in row:
        value = (row.get("profile") or {}).get(column[len(PROFILE_PREFIX):])
    else:
        value = row.get(column)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def inspect_view(artifact: Artifact, view: str, *, principal: str | None = None,
                 resource_type: str | None = None) -> View:
    """Build one view of the latest complete sync in ``artifact``."""
    if view not in VIEWS:
        raise ArtifactError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    sync_id = artifact.latest().sync_id
    if view == "resources":
        keys = _profile_keys(artifact, sync_id, resource_type)
        return View(view, ("type", "id", "display_name", "parent", "status", "login", "emails",
                           *(PROFILE_PREFIX + k for k in keys)), _resources(artifact, sync_id, resource_type))
    if view == "entitlements":
        return View(view, ("id", "resource_type", "resource_id", "slug", "display_name", "grantable_to"),
                    _entitlements(artifact, sync_id, resource_type))
    if view == "grants":
        return View(view, ("id", "entitlement_id", "resource_type", "resource_id", "principal_type",
                           "principal_id", "expandable"), _grants(artifact, sync_id, resource_type))
    if view == "principals":
        return View(view, ("type", "id", "display_name", "status", "login", "direct_grants"),
                    _principals(artifact, sync_id, resource_type))
    if view == "access":
        if not principal:
            raise ArtifactError("`access` needs a principal: a user id, or type:id (group:00g1)")
        return View(view, ("entitlement_id", "resource_type", "resource_id", "resource_name", "slug", "via"),
                    _access(artifact, sync_id, ResourceRef.parse(principal)))
    if view == "diff":
        return View(view, ("change", "kind", "id", "detail"), _diff(artifact))
    return View(view, ("sync_id", "kind", "type", "count"), _stats(artifact))


def _type_filter(rtype: str | None) -> tuple[str, tuple[str, ...]]:
    return (" AND resource_type_id = ?", (rtype,)) if rtype else ("", ())


def _profile_keys(art: Artifact, sid: str, rtype: str | None) -> list[str]:
    where, params = _type_filter(rtype)
    keys: set[str] = set()
    for (data,) in art.rows(f"SELECT data FROM v1_resources WHERE sync_id = ?{where}", (sid, *params)):
        keys.update(codec.profile_of(pb.Resource.FromString(data)))
    return sorted(keys)


def _resources(art: Artifact, sid: str, rtype: str | None) -> Iterator[Row]:
    where, params = _type_filter(rtype)
    sql = f"SELECT data FROM v1_resources WHERE sync_id = ?{where} ORDER BY resource_type_id, external_id"
    for (data,) in art.rows(sql, (sid, *params)):
        r = codec.resource_from_pb(pb.Resource.FromString(data))
        yield {"type": r.type, "id": r.id, "display_name": r.display_name,
               "parent": str(r.parent) if r.parent else None, "status": r.status.value if r.status else None,
               "login": r.login, "emails": ",".join(r.emails), "profile": dict(r.profile)}


def _entitlements(art: Artifact, sid: str, rtype: str | None) -> Iterator[Row]:
    where, params = _type_filter(rtype)
    for (data,) in art.rows(f"SELECT data FROM v1_entitlements WHERE sync_id = ?{where} ORDER BY external_id",
                            (sid, *params)):
        message = pb.Entitlement.FromString(data)
        e = codec.entitlement_from_pb(message)
        yield {"id": message.id, "resource_type": e.resource.type, "resource_id": e.resource.id,
               "slug": e.slug, "display_name": e.display_name, "grantable_to": ",".join(e.grantable_to)}


def _expansion(art: Artifact) -> str:
    return "expansion" if art.has_expansion_column else "NULL"


def _grants(art: Artifact, sid: str, rtype: str | None) -> Iterator[Row]:
    where, params = _type_filter(rtype)
    sql = (f"SELECT external_id, entitlement_id, resource_type_id, resource_id, principal_resource_type_id, "
           f"principal_resource_id, data, {_expansion(art)} FROM v1_grants WHERE sync_id = ?{where} "
           f"ORDER BY external_id")
    for row in art.rows(sql, (sid, *params)):
        expandable = codec.expandable_of(pb.Grant.FromString(row[6]), row[7])
        yield {"id": row[0], "entitlement_id": row[1], "resource_type": row[2], "resource_id": row[3],
               "principal_type": row[4], "principal_id": row[5], "expandable": ",".join(expandable)}


def _principals(art: Artifact, sid: str, rtype: str | None) -> Iterator[Row]:
    art.c1z.ensure_indexes()
    types = (rtype,) if rtype else ("user", "group")
    marks = ",".join("?" for _ in types)
    sql = (f"SELECT r.resource_type_id, r.data, "
           f"(SELECT COUNT(*) FROM v1_grants g WHERE g.principal_resource_type_id = r.resource_type_id "
           f"AND g.principal_resource_id = substr(r.external_id, length(r.resource_type_id) + 2) "
           f"AND g.sync_id = r.sync_id) FROM v1_resources r WHERE r.sync_id = ? AND r.resource_type_id IN ({marks}) "
           f"ORDER BY r.resource_type_id DESC, r.external_id")
    for kind, data, count in art.rows(sql, (sid, *types)):
        r = codec.resource_from_pb(pb.Resource.FromString(data))
        yield {"type": kind, "id": r.id, "display_name": r.display_name,
               "status": r.status.value if r.status else None, "login": r.login, "direct_grants": count}


def _access(art: Artifact, sid: str, principal: ResourceRef) -> Iterator[Row]:
    """Direct grants, then what they reach by expansion: a grant held by a group or a role whose expandable
    entitlements include one the principal holds (``group:<id>:member``, ``role:<id>:assigned``) is the
    principal's too, transitively (nested groups), each path once."""
    art.c1z.ensure_indexes()
    if art.c1z.resource(principal.type, principal.id, sync_id=sid) is None:
        raise ArtifactError(f"no {principal.type} with id {principal.id!r} in the latest sync")
    held_sql = (f"SELECT entitlement_id, resource_type_id, resource_id, data, {_expansion(art)} FROM v1_grants "
                f"WHERE principal_resource_type_id = ? AND principal_resource_id = ? AND sync_id = ? "
                f"ORDER BY entitlement_id")
    names: dict[tuple[str, str], str | None] = {}

    def name_of(rtype: str, rid: str) -> str | None:
        if (rtype, rid) not in names:
            found = art.c1z.resource(rtype, rid, sync_id=sid)
            names[(rtype, rid)] = found.display_name if found else None
        return names[(rtype, rid)]

    def row(g: tuple[Any, ...], via: str) -> Row:
        entitlement, rtype, rid = g[0], g[1], g[2]
        prefix = f"{rtype}:{rid}:"
        slug = entitlement[len(prefix):] if entitlement.startswith(prefix) else entitlement.rsplit(":", 1)[-1]
        return {"entitlement_id": entitlement, "resource_type": rtype, "resource_id": rid,
                "resource_name": name_of(rtype, rid), "slug": slug, "via": via}

    reached = [(g, "direct") for g in art.conn.execute(held_sql, (principal.type, principal.id, sid))]
    expanded: set[str] = set()  # entitlements whose holders' grants were already followed
    index = 0
    while index < len(reached):  # breadth first: direct grants, then one expansion step at a time
        grant, via = reached[index]
        index += 1
        yield row(grant, via)
        entitlement, holder_type, holder_id = grant[0], grant[1], grant[2]
        if entitlement in expanded:
            continue
        expanded.add(entitlement)
        for held in art.conn.execute(held_sql, (holder_type, holder_id, sid)).fetchall():
            if entitlement in codec.expandable_of(pb.Grant.FromString(held[3]), held[4]):
                reached.append((held, f"{holder_type}:{holder_id}"))


def _resource_json(data: bytes, extra: bytes | None) -> dict[str, Any]:
    return codec.resource_from_pb(pb.Resource.FromString(data)).to_json()


def _entitlement_json(data: bytes, extra: bytes | None) -> dict[str, Any]:
    return codec.entitlement_from_pb(pb.Entitlement.FromString(data)).to_json()


def _grant_json(data: bytes, expansion: bytes | None) -> dict[str, Any]:
    return codec.grant_from_pb(pb.Grant.FromString(data), expansion).to_json()


_DIFF_KINDS = (("resource", "v1_resources", _resource_json), ("entitlement", "v1_entitlements", _entitlement_json),
               ("grant", "v1_grants", _grant_json))


def _diff(art: Artifact) -> Iterator[Row]:
    runs = art.runs()
    if len(runs) < 2:
        raise ArtifactError(f"{art.path}: a diff needs two complete syncs; this artifact holds {len(runs)}")
    new, old = runs[0].sync_id, runs[1].sync_id
    for kind, table, decode in _DIFF_KINDS:
        extra = _expansion(art) if table == "v1_grants" else "NULL"
        sql = (f"SELECT external_id, data, {extra} FROM {table} a WHERE sync_id = ? AND NOT EXISTS (SELECT 1 "
               f"FROM {table} b WHERE b.external_id = a.external_id AND b.sync_id = ? AND b.data = a.data)")
        added_or_changed = {r[0]: (r[1], r[2]) for r in art.rows(sql, (new, old))}
        removed_or_changed = {r[0]: (r[1], r[2]) for r in art.rows(sql, (old, new))}
        for ident in sorted(added_or_changed.keys() | removed_or_changed.keys()):
            if ident in added_or_changed and ident in removed_or_changed:
                detail = _changed_fields(decode(*removed_or_changed[ident]), decode(*added_or_changed[ident]))
                if detail:
                    yield {"change": "changed", "kind": kind, "id": ident, "detail": detail}
            elif ident in added_or_changed:
                yield {"change": "added", "kind": kind, "id": ident, "detail": ""}
            else:
                yield {"change": "removed", "kind": kind, "id": ident, "detail": ""}


def _changed_fields(a: dict[str, Any], b: dict[str, Any]) -> str:
    changed: list[str] = []
    for key in sorted(a.keys() | b.keys()):
        if a.get(key) != b.get(key):
            if isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
                changed += [f"{key}.{k}" for k in sorted(a[key].keys() | b[key].keys())
                            if a[key].get(k) != b[key].get(k)]
            else:
                changed.append(key)
    return ",".join(changed)


def _stats(art: Artifact) -> Iterator[Row]:
    run = art.latest()
    stats = art.stats(run.sync_id)
    for kind in ("resources", "entitlements", "grants"):
        for rtype, count in stats[kind]["by_type"].items():
            yield {"sync_id": run.sync_id, "kind": kind, "type": rtype, "count": count}
        yield {"sync_id": run.sync_id, "kind": kind, "type": "(total)", "count": stats[kind]["total"]}
    duration = run.stats.get("duration_seconds")
    if duration is not None:
        yield {"sync_id": run.sync_id, "kind": "sync", "type": "duration_seconds", "count": duration}
