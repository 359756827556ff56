"""Field ownership and diffs, computed from ``metadata.managedFields`` (server-side apply's record).

A managedFields entry lists the fields one manager owns as a ``fieldsV1`` tree:
``{"f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}}}}}``; ``f:`` is a map key,
``k:`` a list item found by its merge keys, ``v:`` a set item by value, ``i:`` a list index, ``.`` the item
itself. Walking that tree against two versions of an object gives a diff of exactly the fields a manager
owns, with no schema knowledge. Pure functions, no IO.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from iac.backends.engine._model import DriftedField, FieldChange, Manifest

__all__ = [
    "FieldPath",
    "apply_body",
    "diff_owned",
    "foreign_drift",
    "format_path",
    "in_sync",
    "leaf_paths",
    "owned_fields",
    "resolve",
]

FieldPath = tuple[str, ...]
"""A path of fieldsV1 keys, e.g. ``("f:spec", "f:replicas")``."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
_SECRET_VALUE_FIELDS = frozenset({"f:data", "f:stringData"})
# Metadata the server tracks in managedFields; name/namespace are identity, the rest is server-owned.
_APPLIED_METADATA = ("labels", "annotations", "ownerReferences", "finalizers")


def apply_body(obj: Mapping[str, Any]) -> Manifest:
    """The part of a manifest that field ownership covers (drops name/namespace and server fields)."""
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    meta = obj.get("metadata") or {}
    body["metadata"] = {k: meta[k] for k in _APPLIED_METADATA if meta.get(k)}
    return body


def owned_fields(live: Mapping[str, Any], manager: str,
                 api_version: str | None = None) -> dict[str, Any] | None:
    """The fieldsV1 tree ``manager`` owns through Apply (``None`` when it owns nothing)."""
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        if (entry.get("manager") == manager and entry.get("operation") == "Apply"
                and not entry.get("subresource")
                and (api_version is None or entry.get("apiVersion") == api_version)):
            fields = entry.get("fieldsV1")
            return fields if isinstance(fields, dict) else {}
    return None


def leaf_paths(fields: Mapping[str, Any], prefix: FieldPath = ()) -> Iterator[FieldPath]:
    """Every owned leaf: a field whose subtree is not itemised further (scalars, atomic structs/lists)."""
    for key, child in fields.items():
        if key == ".":
            continue
        path = (*prefix, key)
        if isinstance(child, Mapping) and any(k != "." for k in child):
            yield from leaf_paths(child, path)
        else:
            yield path


def resolve(obj: Any, path: FieldPath) -> Any:
    """The value at ``path`` in a plain object, or ``MISSING``."""
    node = obj
    for segment in path:
        prefix, _, raw = segment.partition(":")
        if prefix == "f" and isinstance(node, Mapping):
            node = node.get(raw, MISSING)
        elif prefix == "k" and isinstance(node, list):
            keys = json.loads(raw)
            node = next((item for item in node if isinstance(item, Mapping)
                         and all(_same(item.get(k), v) for k, v in keys.items())), MISSING)
        elif prefix == "v" and isinstance(node, list):
            wanted = json.loads(raw)
            node = next((item for item in node if _same(item, wanted)), MISSING)
        elif prefix == "i" and isinstance(node, list) and raw.isdigit() and int(raw) < len(node):
            node = node[int(raw)]
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


def format_path(path: FieldPath) -> str:
    """``.spec.template.spec.containers[name="app"].image``: the notation of the API server's messages."""
    out = []
    for segment in path:
        prefix, _, raw = segment.partition(":")
        if prefix == "f":
            out.append(f".{raw}")
        elif prefix == "k":
            keys = json.loads(raw)
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
        elif prefix == "v":
            out.append(f"[={raw}]")
        else:
            out.append(f"[{raw}]")
    return "".join(out)


def _is_secret_value(kind: str, path: FieldPath) -> bool:
    return kind == "Secret" and bool(path) and path[0] in _SECRET_VALUE_FIELDS


def _normal(value: Any) -> Any:
    """Absent, null and empty collections are the same thing to the API server."""
    if value is MISSING or value is None or value == [] or value == {}:
        return None
    return value


def _same(a: Any, b: Any) -> bool:
    return bool(_normal(a) == _normal(b))


def _covered(desired: Any, fields: Mapping[str, Any]) -> bool:
    """Every field set in ``desired`` is owned according to ``fields``."""
    if not fields or _normal(desired) is None:
        return True  # an owned leaf covers its whole subtree; empty values own nothing
    if isinstance(desired, Mapping):
        return all(_covered(value, fields[f"f:{key}"]) if f"f:{key}" in fields else _normal(value) is None
                   for key, value in desired.items())
    if isinstance(desired, list):
        return all(any(_item_matches(item, key) and _covered(item, child)
                       for key, child in fields.items() if key != ".")
                   for item in desired)
    return False  # a scalar under an itemised subtree: the shapes disagree


def _item_matches(item: Any, segment: str) -> bool:
    prefix, _, raw = segment.partition(":")
    if prefix == "k" and isinstance(item, Mapping):
        return all(_same(item.get(k), v) for k, v in json.loads(raw).items())
    if prefix == "v":
        return _same(item, json.loads(raw))
    return False


def in_sync(desired: Mapping[str, Any], live: Mapping[str, Any], manager: str) -> bool:
    """True when applying ``desired`` as ``manager`` would change nothing, decided locally.

    Requires that ``manager`` owns exactly the fields ``desired`` sets and that each has the desired value
    live. False negatives are fine (the caller then asks the server); false positives would skip a needed
    write, so every uncertain shape answers False."""
    fields = owned_fields(live, manager, str(desired.get("apiVersion")))
    if fields is None:
        return False
    body = apply_body(desired)
    if not _covered(body, fields):
        return False
    for path in leaf_paths(fields):
        wanted = resolve(body, path)
        if wanted is MISSING:
            return False  # owned but no longer desired: applying would remove it
        if not _same(wanted, resolve(live, path)):
            return False
    return True


def diff_owned(before: Mapping[str, Any] | None, after: Mapping[str, Any], manager: str) -> list[FieldChange]:
    """Changes between two versions of an object in the fields ``manager`` owned before or owns after.

    Secret ``data``/``stringData`` values are masked: the change names the key only."""
    kind = str(after.get("kind"))
    paths: set[FieldPath] = set()
    for version in (before, after):
        if version is not None:
            paths.update(leaf_paths(owned_fields(version, manager) or {}))
    changes = []
    for path in sorted(paths):
        old = _normal(resolve(before, path)) if before is not None else None
        new = _normal(resolve(after, path))
        if old == new:
            continue
        if _is_secret_value(kind, path):
            changes.append(FieldChange(format_path(path), before=_presence(old), after=_presence(new),
                                       masked=True))
        else:
            changes.append(FieldChange(format_path(path), before=old, after=new))
    return changes


def _presence(value: Any) -> str | None:
    return None if value is None else "(secret)"


def foreign_drift(desired: Mapping[str, Any], live: Mapping[str, Any], manager: str) -> list[DriftedField]:
    """Fields ``desired`` sets whose live value was changed by another manager, who now owns them."""
    ours = set(leaf_paths(owned_fields(live, manager) or {}))
    body = apply_body(desired)
    kind = str(desired.get("kind"))
    drift: dict[FieldPath, DriftedField] = {}
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        other = entry.get("manager") or "(unknown)"
        if other == manager or entry.get("subresource") or not isinstance(entry.get("fieldsV1"), dict):
            continue
        for path in leaf_paths(entry["fieldsV1"]):
            if path in ours or path in drift:
                continue
            expected = resolve(body, path)
            actual = resolve(live, path)
            if expected is MISSING or _same(expected, actual):
                continue
            masked = _is_secret_value(kind, path)
            drift[path] = DriftedField(
                format_path(path), manager=other, operation=str(entry.get("operation") or ""),
                expected=None if masked else _normal(expected), actual=None if masked else _normal(actual),
                masked=masked)
    return [drift[p] for p in sorted(drift)]
