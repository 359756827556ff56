"""Read an artifact for access reviews: every view is a list of columns plus a stream of rows.

Views: ``resources``, ``entitlements``, ``grants``, ``principals``, ``access <principal>`` (direct grants
plus grants reached through group membership: ``expandable`` grants), ``diff`` (latest complete sync
against the previous one) and ``stats``. Rows are plain dicts of JSON scalars, so the CLI can print
them as a table, JSON or CSV.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from iac.runtime._models import ResourceRef
from iac.runtime._store import Artifact
from iac.runtime.errors import ArtifactError

__all__ = ["VIEWS", "View", "inspect_view"]

Row = dict[str, Any]


@dataclass(frozen=True)
class View:
    name: str
    columns: tuple[str, ...]
    rows: Iterator[Row]


VIEWS = ("resources", "entitlements", "grants", "principals", "access", "diff", "stats")


def inspect_view(artifact: Artifact, view: str, *, principal: str | None = None,
                 resource_type: str | None = None) -> View:
    """Build one view of the latest complete sync in ``artifact``."""
    if view not in VIEWS:
        raise ArtifactError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    sync_id = artifact.latest().sync_id
    if view == "resources":
        return View(view, ("type", "id", "display_name", "parent", "status", "login", "emails"),
                    _resources(artifact, sync_id, resource_type))
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


def _resources(art: Artifact, sid: str, rtype: str | None) -> Iterator[Row]:
    sql = "SELECT data FROM resources WHERE sync_id = ?" + (" AND resource_type = ?" if rtype else "")
    sql += " ORDER BY resource_type, id"
    for (data,) in art.rows(sql, (sid, rtype) if rtype else (sid,)):
        r = json.loads(data)
        parent = r.get("parent")
        yield {"type": r["type"], "id": r["id"], "display_name": r.get("display_name"),
               "parent": f"{parent['type']}:{parent['id']}" if parent else None, "status": r.get("status"),
               "login": r.get("login"), "emails": ",".join(r.get("emails") or [])}


def _entitlements(art: Artifact, sid: str, rtype: str | None) -> Iterator[Row]:
    sql = "SELECT data FROM entitlements WHERE sync_id = ?" + (" AND resource_type = ?" if rtype else "")
    for (data,) in art.rows(sql + " ORDER BY id", (sid, rtype) if rtype else (sid,)):
        e = json.loads(data)
        yield {"id": e["id"], "resource_type": e["resource_type"], "resource_id": e["resource_id"],
               "slug": e["slug"], "display_name": e["display_name"], "grantable_to": ",".join(e["grantable_to"])}


def _grants(art: Artifact, sid: str, rtype: str | None) -> Iterator[Row]:
    sql = ("SELECT id, entitlement_id, resource_type, resource_id, principal_type, principal_id, data "
           "FROM grants WHERE sync_id = ?") + (" AND resource_type = ?" if rtype else "")
    for row in art.rows(sql + " ORDER BY id", (sid, rtype) if rtype else (sid,)):
        data = json.loads(row[6])
        yield {"id": row[0], "entitlement_id": row[1], "resource_type": row[2], "resource_id": row[3],
               "principal_type": row[4], "principal_id": row[5],
               "expandable": ",".join(data.get("expandable") or [])}


def _principals(art: Artifact, sid: str, rtype: str | None) -> Iterator[Row]:
    types = (rtype,) if rtype else ("user", "group")
    marks = ",".join("?" for _ in types)
    sql = (f"SELECT r.resource_type, r.id, r.display_name, r.data, "
           f"(SELECT COUNT(*) FROM grants g WHERE g.sync_id = r.sync_id AND g.principal_type = r.resource_type "
           f"AND g.principal_id = r.id) FROM resources r WHERE r.sync_id = ? AND r.resource_type IN ({marks}) "
           f"ORDER BY r.resource_type DESC, r.id")
    for kind, ident, name, data, count in art.rows(sql, (sid, *types)):
        r = json.loads(data)
        yield {"type": kind, "id": ident, "display_name": name, "status": r.get("status"),
               "login": r.get("login"), "direct_grants": count}


def _access(art: Artifact, sid: str, principal: ResourceRef) -> Iterator[Row]:
    """Direct grants, then what they reach by expansion (``expandable``): a grant held by a group or a role
    whose ``expandable`` names an entitlement the principal holds (``group:<id>:member``,
    ``role:<id>:assigned``) is the principal's too, transitively (nested groups), each path once."""
    found = art.conn.execute("SELECT 1 FROM resources WHERE sync_id = ? AND resource_type = ? AND id = ?",
                             (sid, principal.type, principal.id)).fetchone()
    if not found:
        raise ArtifactError(f"no {principal.type} with id {principal.id!r} in the latest sync")
    name_sql = "SELECT display_name FROM resources WHERE sync_id = ? AND resource_type = ? AND id = ?"
    held_sql = ("SELECT entitlement_id, resource_type, resource_id, data FROM grants INDEXED BY grants_principal "
                "WHERE sync_id = ? AND principal_type = ? AND principal_id = ? ORDER BY entitlement_id")

    def row(g: tuple[Any, ...], via: str) -> Row:
        name = art.conn.execute(name_sql, (sid, g[1], g[2])).fetchone()
        return {"entitlement_id": g[0], "resource_type": g[1], "resource_id": g[2],
                "resource_name": name[0] if name else None, "slug": g[0].rsplit(":", 1)[1], "via": via}

    reached = [(g, "direct") for g in art.conn.execute(held_sql, (sid, principal.type, principal.id))]
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
        for held in art.conn.execute(held_sql, (sid, holder_type, holder_id)).fetchall():
            if entitlement in (json.loads(held[3]).get("expandable") or []):
                reached.append((held, f"{holder_type}:{holder_id}"))


def _diff(art: Artifact) -> Iterator[Row]:
    runs = art.runs()
    if len(runs) < 2:
        raise ArtifactError(f"{art.path}: a diff needs two complete syncs; this artifact holds {len(runs)}")
    new, old = runs[0].sync_id, runs[1].sync_id
    for kind, table, key in (("resource", "resources", "resource_type || ':' || id"),
                             ("entitlement", "entitlements", "id"), ("grant", "grants", "id")):
        sql = (f"SELECT {key}, data FROM {table} WHERE sync_id = ? EXCEPT "
               f"SELECT {key}, data FROM {table} WHERE sync_id = ?")
        added_or_changed = dict(art.rows(sql, (new, old)))
        removed_or_changed = dict(art.rows(sql, (old, new)))
        for ident in sorted(added_or_changed.keys() | removed_or_changed.keys()):
            if ident in added_or_changed and ident in removed_or_changed:
                yield {"change": "changed", "kind": kind, "id": ident,
                       "detail": _changed_fields(removed_or_changed[ident], added_or_changed[ident])}
            elif ident in added_or_changed:
                yield {"change": "added", "kind": kind, "id": ident, "detail": ""}
            else:
                yield {"change": "removed", "kind": kind, "id": ident, "detail": ""}


def _changed_fields(old: str, new: str) -> str:
    a, b = json.loads(old), json.loads(new)
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
