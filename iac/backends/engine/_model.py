"""Value types the engine returns: object references, planned/applied changes, drift. Pure data."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Action",
    "DriftReport",
    "DriftedField",
    "DriftedObject",
    "FieldChange",
    "Manifest",
    "ObjectChange",
    "ObjectRef",
    "Report",
]

Manifest = dict[str, Any]
"""A Kubernetes object as plain JSON-like data (``apiVersion``, ``kind``, ``metadata``, ...)."""


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"


_PAST = {Action.CREATE: "created", Action.UPDATE: "updated", Action.DELETE: "deleted",
         Action.UNCHANGED: "unchanged"}
_PLANNED = {Action.CREATE: "to create", Action.UPDATE: "to update", Action.DELETE: "to delete",
            Action.UNCHANGED: "unchanged"}


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identifies one object: ``Kind/name`` in a namespace (``None`` for cluster-scoped kinds)."""

    kind: str
    name: str
    namespace: str | None
    api_version: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        meta = obj.get("metadata") or {}
        return cls(kind=str(obj["kind"]), name=str(meta["name"]), namespace=meta.get("namespace"),
                   api_version=str(obj["apiVersion"]))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def group_kind(self) -> str:
        """``Kind.group`` as ApplySets spell it (just ``Kind`` for the core group)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def identity(self) -> tuple[str, str, str | None]:
        """What makes two refs the same object regardless of the API version used to reach it."""
        return (self.group_kind, self.name, self.namespace)

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name,
                "namespace": self.namespace}


@dataclass(frozen=True)
class FieldChange:
    """One changed field. ``masked`` fields (Secret data) never carry values, only that they changed."""

    path: str
    before: Any = None
    after: Any = None
    masked: bool = False

    @property
    def kind(self) -> str:
        if self.before is None and self.after is not None:
            return "added"
        if self.before is not None and self.after is None:
            return "removed"
        return "changed"

    def to_dict(self) -> dict[str, Any]:
        if self.masked:
            return {"path": self.path, "change": self.kind, "masked": True}
        return {"path": self.path, "change": self.kind, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class ObjectChange:
    ref: ObjectRef
    action: Action
    fields: tuple[FieldChange, ...] = ()
    note: str = ""
    """Why, when it is not obvious: "reclaimed fields from kubectl-edit", "adopting an existing object"."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {**self.ref.to_dict(), "action": self.action.value,
                                "fields": [f.to_dict() for f in self.fields]}
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Report:
    """What preview would do (``planned``) or what up/destroy did, object by object."""

    stack: str
    namespace: str
    planned: bool
    changes: list[ObjectChange] = field(default_factory=list)
    writes: int = 0
    """Mutating requests sent to the API server (dry-run requests are not writes)."""

    def counts(self) -> Counter[Action]:
        return Counter(change.action for change in self.changes)

    @property
    def has_changes(self) -> bool:
        return any(change.action is not Action.UNCHANGED for change in self.changes)

    def summary(self) -> str:
        """``3 created, 1 updated, 0 deleted, 12 unchanged`` (or ``to create`` ... for a plan)."""
        words = _PLANNED if self.planned else _PAST
        counts = self.counts()
        return ", ".join(f"{counts[action]} {words[action]}" for action in Action
                         if action is not Action.UNCHANGED or counts[action])

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "namespace": self.namespace, "planned": self.planned,
                "summary": {a.value: self.counts()[a] for a in Action}, "writes": self.writes,
                "changes": [c.to_dict() for c in self.changes]}


@dataclass(frozen=True)
class DriftedField:
    """A field the stack sets that someone else changed out of band (``manager`` now owns it)."""

    path: str
    manager: str
    operation: str
    expected: Any = None
    actual: Any = None
    masked: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "manager": self.manager, "operation": self.operation}
        if self.masked:
            data["masked"] = True
        else:
            data.update(expected=self.expected, actual=self.actual)
        return data


@dataclass(frozen=True)
class DriftedObject:
    ref: ObjectRef
    state: str
    """``modified`` (fields changed out of band) or ``missing`` (recorded in the ApplySet, gone now)."""
    fields: tuple[DriftedField, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**self.ref.to_dict(), "state": self.state, "fields": [f.to_dict() for f in self.fields]}


@dataclass
class DriftReport:
    stack: str
    namespace: str
    deployed: bool
    """False when the stack's ApplySet parent does not exist (never deployed, or destroyed)."""
    drifted: list[DriftedObject] = field(default_factory=list)
    checked: int = 0

    @property
    def has_drift(self) -> bool:
        return bool(self.drifted)

    def summary(self) -> str:
        if not self.deployed:
            return f"stack {self.stack} is not deployed in namespace {self.namespace}"
        modified = sum(1 for d in self.drifted if d.state == "modified")
        missing = sum(1 for d in self.drifted if d.state == "missing")
        return f"{modified} modified, {missing} missing, {self.checked - modified - missing} in sync"

    def to_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "namespace": self.namespace, "deployed": self.deployed,
                "checked": self.checked, "drifted": [d.to_dict() for d in self.drifted]}

