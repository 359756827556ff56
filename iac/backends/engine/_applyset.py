"""ApplySet bookkeeping (KEP-3659): which objects belong to a stack, recorded on the cluster itself.

The parent is a Secret ``applyset-<stack>`` in the stack namespace. It carries
``applyset.kubernetes.io/id`` = ``applyset-<base64url(sha256("<name>.<namespace>.Secret."))>-v1`` (the
KEP's GKNN hash, as kubectl computes it), the ``tooling`` annotation, the ``contains-group-kinds`` hint
and an ``inventory`` hint (so refresh can tell "deleted out of band" from "never deployed"). Every member
carries ``applyset.kubernetes.io/part-of: <id>``, which is the source of truth for membership: pruning only
ever deletes objects that carry it. Kubernetes 1.20 knows nothing about ApplySets; this is a convention
that kubectl >= 1.27 (``--applyset``) understands too. Pure, no IO.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from iac._version import __version__
from iac.backends.engine._model import Manifest, ObjectRef
from iac.errors import ApplyError

__all__ = [
    "GROUP_KINDS_ANNOTATION",
    "ID_LABEL",
    "INVENTORY_ANNOTATION",
    "PART_OF_LABEL",
    "TOOLING",
    "TOOLING_ANNOTATION",
    "ApplySet",
    "inventory_entry",
]

PART_OF_LABEL = "applyset.kubernetes.io/part-of"
ID_LABEL = "applyset.kubernetes.io/id"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
INVENTORY_ANNOTATION = "applyset.kubernetes.io/inventory"
TOOLING_NAME = "iac"
TOOLING = f"{TOOLING_NAME}/v{__version__}"


def inventory_entry(ref: ObjectRef) -> str:
    """``<Kind>.<group>/<name>.<namespace>`` as the KEP's inventory hint spells a member."""
    return f"{ref.group_kind}/{ref.name}.{ref.namespace or ''}"


@dataclass(frozen=True)
class ApplySet:
    """The ApplySet of one stack; the parent Secret lives in the stack namespace."""

    stack: str
    namespace: str

    parent_kind: ClassVar[str] = "Secret"
    parent_group: ClassVar[str] = ""
    parent_api_version: ClassVar[str] = "v1"

    @property
    def parent_name(self) -> str:
        return f"applyset-{self.stack}"

    @property
    def parent_ref(self) -> ObjectRef:
        return ObjectRef(self.parent_kind, self.parent_name, self.namespace, self.parent_api_version)

    @property
    def id(self) -> str:
        gknn = ".".join((self.parent_name, self.namespace, self.parent_kind, self.parent_group))
        digest = base64.urlsafe_b64encode(hashlib.sha256(gknn.encode()).digest()).rstrip(b"=").decode()
        # Label values must start and end alphanumeric, hence the fixed prefix and suffix.
        return f"applyset-{digest}-v1"

    @property
    def selector(self) -> dict[str, str]:
        return {PART_OF_LABEL: self.id}

    def member(self, obj: Mapping[str, Any]) -> Manifest:
        """A copy of ``obj`` labelled as a member; refuses objects that claim another ApplySet."""
        meta = dict(obj.get("metadata") or {})
        labels = dict(meta.get("labels") or {})
        claimed = labels.get(PART_OF_LABEL)
        if claimed is not None and claimed != self.id:
            raise ApplyError(f"{ObjectRef.of(obj)} already carries label {PART_OF_LABEL}={claimed}; "
                             "remove it from the manifest")
        labels[PART_OF_LABEL] = self.id
        meta["labels"] = labels
        return {**obj, "metadata": meta}

    def parent(self, members: Iterable[ObjectRef], *, extra_group_kinds: Iterable[str] = (),
               extra_inventory: Iterable[str] = ()) -> Manifest:
        """The parent Secret listing ``members``; ``extra_*`` keep old members visible until pruned."""
        members = list(members)
        group_kinds = sorted({ref.group_kind for ref in members} | set(extra_group_kinds))
        inventory = sorted({inventory_entry(ref) for ref in members} | set(extra_inventory))
        return {
            "apiVersion": self.parent_api_version,
            "kind": self.parent_kind,
            "metadata": {
                "name": self.parent_name,
                "namespace": self.namespace,
                "labels": {ID_LABEL: self.id, "app.kubernetes.io/part-of": self.stack,
                           "app.kubernetes.io/managed-by": TOOLING_NAME},
                "annotations": {TOOLING_ANNOTATION: TOOLING,
                                GROUP_KINDS_ANNOTATION: ",".join(group_kinds),
                                INVENTORY_ANNOTATION: ",".join(inventory)},
            },
            "type": "Opaque",
        }

    def check_parent(self, live: Mapping[str, Any]) -> None:
        """Refuse to touch a parent that another tool manages or whose id does not match its name."""
        meta = live.get("metadata") or {}
        tooling = (meta.get("annotations") or {}).get(TOOLING_ANNOTATION, "")
        if not tooling.startswith(f"{TOOLING_NAME}/"):
            raise ApplyError(f"{self.parent_kind}/{self.parent_name} in namespace {self.namespace} is "
                             f"not an iac ApplySet (tooling {tooling or 'unset'}); refusing to change it")
        found = (meta.get("labels") or {}).get(ID_LABEL)
        if found != self.id:
            raise ApplyError(f"{self.parent_kind}/{self.parent_name} in namespace {self.namespace} has "
                             f"{ID_LABEL}={found}, expected {self.id}; refusing to change it")

    @staticmethod
    def recorded_group_kinds(live: Mapping[str, Any] | None) -> list[str]:
        return _annotation_list(live, GROUP_KINDS_ANNOTATION)

    @staticmethod
    def recorded_inventory(live: Mapping[str, Any] | None) -> list[str]:
        return _annotation_list(live, INVENTORY_ANNOTATION)


def _annotation_list(live: Mapping[str, Any] | None, key: str) -> list[str]:
    value = (((live or {}).get("metadata") or {}).get("annotations") or {}).get(key) or ""
    return [part for part in str(value).split(",") if part]
