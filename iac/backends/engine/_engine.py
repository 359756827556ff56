"""preview / up / refresh / destroy / wait: the deploy engine's verbs.

Every verb starts from live state: the ApplySet parent and one LIST per group-kind of every object that
carries an ApplySet label in the stack namespace. Objects whose owned fields already hold the desired
values are recognised locally (:func:`in_sync`) and cost no request at all, so re-running ``up`` on an
unchanged stack sends zero writes. Everything else goes through server-side apply (dry-run for preview),
so diffs reflect the server's defaulting and validation, not a client-side guess.

Field ownership decides between drift and conflict. A field the stack sets that someone changed with a
plain update (``kubectl edit``, ``kubectl set image``) is drift: ``up`` takes it back. A field owned by
another *applier* (another tool using server-side apply) is a conflict: ``up`` stops and names field and
manager unless ``force_conflicts`` is set.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lightkube.core.resource import NamespacedResource

from iac.backends.engine._applyset import PART_OF_LABEL, ApplySet, inventory_entry
from iac.backends.engine._fields import diff_owned, foreign_drift, in_sync
from iac.backends.engine._kinds import apply_rank, resource_type, versions_for_group_kind
from iac.backends.engine._kube import FieldConflictError, KindNotServedError, KubeApi
from iac.backends.engine._model import (
    Action,
    DriftedObject,
    DriftReport,
    Manifest,
    ObjectChange,
    ObjectRef,
    Report,
)
from iac.errors import ApplyError

__all__ = ["Engine", "ProgressEvent"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Identity = tuple[str, str, str | None]
_FEW = 8
"""Up to this many new objects are checked for another ApplySet's claim one GET each, beyond it one LIST per kind."""


@dataclass(frozen=True)
class ProgressEvent:
    """One object done in a phase (``plan``, ``apply``, ``prune``, ``destroy``, ``wait``)."""

    phase: str
    done: int
    total: int
    change: ObjectChange | None = None


ProgressCallback = Callable[[ProgressEvent], None]


@dataclass
class _Desired:
    namespaces: list[Manifest] = field(default_factory=list)
    members: list[Manifest] = field(default_factory=list)

    @property
    def member_refs(self) -> list[ObjectRef]:
        return [ObjectRef.of(m) for m in self.members]


@dataclass
class _Live:
    parent: Manifest | None
    members: dict[Identity, Manifest]


class _Phase:
    """Progress of one phase (``apply``, ``prune``, ...) across all its batches; main thread only."""

    def __init__(self, name: str, total: int, callback: ProgressCallback | None) -> None:
        self.name = name
        self.total = total
        self.done = 0
        self.callback = callback

    def advance(self, change: ObjectChange | None) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(ProgressEvent(self.name, self.done, self.total, change))


class Engine:
    """Deploys one stack (its rendered objects) into one namespace through an ApplySet."""

    def __init__(self, api: KubeApi, *, stack: str, namespace: str, workers: int = 8,
                 on_progress: ProgressCallback | None = None) -> None:
        self.api = api
        self.applyset = ApplySet(stack, namespace)
        self.stack = stack
        self.namespace = namespace
        self.workers = max(1, workers)
        self.on_progress = on_progress

    # -- verbs -------------------------------------------------------------------------------------

    def preview(self, objects: Sequence[Mapping[str, Any]], *, force_conflicts: bool = False) -> Report:
        """What ``up`` would do, computed with server-side dry-run apply. Persists nothing."""
        desired = self._desired(objects)
        live = self._read_live(desired)
        report = Report(self.stack, self.namespace, planned=True)
        namespace_missing = False
        for ns in desired.namespaces:
            current = self.api.get(ObjectRef.of(ns))
            if current is None and ns["metadata"]["name"] == self.namespace:
                namespace_missing = True
            report.changes.append(self._unchanged(ns, current)
                                  or self._plan_object(ns, current, force_conflicts, member=False))

        def settled(obj: Manifest) -> ObjectChange | None:
            if namespace_missing:  # nothing can be dry-run into a namespace that does not exist yet
                return ObjectChange(ObjectRef.of(obj), Action.CREATE)
            return self._unchanged(obj, live.members.get(ObjectRef.of(obj).identity))

        def plan_member(obj: Manifest) -> ObjectChange:
            current = live.members.get(ObjectRef.of(obj).identity)
            return self._plan_object(obj, current, force_conflicts, member=current is not None)

        phase = self._phase("plan", len(desired.members))
        report.changes += self._parallel(phase, desired.members, plan_member, settled=settled)
        report.changes += [ObjectChange(ObjectRef.of(o), Action.DELETE) for o in self._stale(desired, live)]
        return report

    def up(self, objects: Sequence[Mapping[str, Any]], *, force_conflicts: bool = False) -> Report:
        """Apply the stack, record membership on the ApplySet parent, prune what left the stack."""
        writes_before = self.api.writes
        desired = self._desired(objects)
        report = Report(self.stack, self.namespace, planned=False)
        for ns in desired.namespaces:  # before anything that lives in it, including the parent
            current = self.api.get(ObjectRef.of(ns))
            report.changes.append(self._unchanged(ns, current)
                                  or self._apply_object(ns, current, force_conflicts, member=False))
        live = self._read_live(desired)
        stale = self._stale(desired, live)
        recorded_kinds = ApplySet.recorded_group_kinds(live.parent)
        recorded_inventory = ApplySet.recorded_inventory(live.parent)
        # Like kubectl: widen the parent to old + new first, so an interrupted run still finds old members.
        widened = self.applyset.parent(desired.member_refs, extra_group_kinds=recorded_kinds,
                                       extra_inventory=recorded_inventory)
        parent = self._ensure_parent(widened, live.parent)

        def apply_member(obj: Manifest) -> ObjectChange:
            ref = ObjectRef.of(obj)
            return self._apply_object(obj, live.members.get(ref.identity), force_conflicts,
                                      member=ref.identity in live.members)

        def settled(obj: Manifest) -> ObjectChange | None:
            return self._unchanged(obj, live.members.get(ObjectRef.of(obj).identity))

        phase = self._phase("apply", len(desired.members))
        for _, group in _by_rank(desired.members):
            report.changes += self._parallel(phase, group, apply_member, settled=settled)
        report.changes += self._delete_all("prune", stale)
        self._ensure_parent(self.applyset.parent(desired.member_refs), parent)
        report.writes = self.api.writes - writes_before
        return report

    def refresh(self, objects: Sequence[Mapping[str, Any]]) -> DriftReport:
        """Drift of the deployed stack: fields others changed out of band, members deleted out of band."""
        desired = self._desired(objects)
        live = self._read_live(desired)
        report = DriftReport(self.stack, self.namespace, deployed=live.parent is not None)
        if live.parent is None:
            return report
        inventory = set(ApplySet.recorded_inventory(live.parent))
        for obj in desired.members:
            ref = ObjectRef.of(obj)
            current = live.members.get(ref.identity)
            if current is None:
                if inventory_entry(ref) in inventory:
                    report.drifted.append(DriftedObject(ref, "missing"))
                    report.checked += 1
                continue  # never deployed: a pending create, not drift
            report.checked += 1
            drifted = foreign_drift(obj, current, self.api.field_manager)
            if drifted:
                report.drifted.append(DriftedObject(ref, "modified", tuple(drifted)))
        return report

    def destroy(self) -> Report:
        """Delete exactly the ApplySet's members, then its parent. Namespaces are left in place."""
        writes_before = self.api.writes
        report = Report(self.stack, self.namespace, planned=False)
        live = self._read_live(_Desired())
        if live.parent is None:
            return report
        report.changes += self._delete_all("destroy", list(live.members.values()))
        self.api.delete(self.applyset.parent_ref)
        report.writes = self.api.writes - writes_before
        return report

    def wait_for_rollout(self, objects: Sequence[Mapping[str, Any]], *, timeout: float,
                         interval: float = 1.0) -> None:
        """Wait until every Deployment of the stack reports its rollout complete, or raise.

        One LIST per poll, however many connectors the stack has."""
        wanted = [ObjectRef.of(o) for o in self._desired(objects).members if o.get("kind") == "Deployment"]
        deadline = time.monotonic() + timeout
        while True:
            live = {ObjectRef.of(o).identity: o for o in self._live_members(wanted)}
            pending = [ref for ref in wanted if not _rolled_out(live.get(ref.identity))]
            self._progress(ProgressEvent("wait", len(wanted) - len(pending), len(wanted)))
            if not pending:
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        by_reason: dict[str, list[str]] = {}
        for ref in pending:
            obj = live.get(ref.identity)
            pods = self._pod_problems(obj) if obj is not None else ""
            reason = _rollout_state(obj) + (f" ({pods})" if pods else "")
            by_reason.setdefault(reason, []).append(str(ref))
        reasons = "; ".join(f"{_first_few(refs)}: {reason}" for reason, refs in by_reason.items())
        raise ApplyError(f"timed out after {timeout:g}s waiting for rollout: {reasons}")

    def _pod_problems(self, deployment: Mapping[str, Any]) -> str:
        """Why a Deployment's pods are not available, pod by pod (waiting reason, exit, failing readiness);
        empty when the pods cannot be listed (a deployer without read access to pods)."""
        match: dict[str, str] = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        if not match:
            return ""
        label, value = sorted(match.items())[0]
        try:
            pods = self.api.list_labelled("v1", "Pod", self.namespace, label, value)
        except ApplyError:
            return ""
        mine = [pod for pod in pods
                if all(((pod.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in match.items())]
        problems = [problem for pod in mine if (problem := _pod_problem(pod))]
        return "; ".join(problems[:3]) if problems else ("no pods" if not mine else "")

    def _live_members(self, refs: Sequence[ObjectRef]) -> list[Manifest]:
        """Our live members of the kinds of ``refs`` (one LIST per kind)."""
        return [obj for api_version, kind in sorted({(ref.api_version, ref.kind) for ref in refs})
                for obj in self._members_of_kind(api_version, kind)]

    def _members_of_group_kind(self, api_versions: list[str], kind: str) -> list[Manifest]:
        """Members listed with the first of ``api_versions`` the server serves (a kind recorded by an earlier
        apply may exist under another version on this cluster: CronJob is batch/v1beta1 before Kubernetes 1.21)."""
        for api_version in api_versions[:-1]:
            try:
                return self._members_of_kind(api_version, kind)
            except KindNotServedError:
                continue
        return self._members_of_kind(api_versions[-1], kind)

    def _members_of_kind(self, api_version: str, kind: str) -> list[Manifest]:
        """Our ApplySet's objects of ``kind``: a label-value selector, so other stacks' objects in the same
        namespace cost nothing (the Terraform provider keeps one ApplySet per connector)."""
        return [{**obj, "apiVersion": api_version, "kind": kind}
                for obj in self.api.list_labelled(api_version, kind, self.namespace, PART_OF_LABEL,
                                                  self.applyset.id)]

    def _refuse_claimed(self, refs: Sequence[ObjectRef]) -> None:
        """Refuse objects about to be created that already belong to another ApplySet: never take them over.

        A few are fetched one by one; many (a first deploy) by one LIST per kind of every ApplySet member."""
        owners: dict[Identity, str] = {}
        if len(refs) <= _FEW:
            for ref in refs:
                live = self.api.get(ref)
                owner = ((live or {}).get("metadata") or {}).get("labels", {}).get(PART_OF_LABEL)
                if owner is not None:
                    owners[ref.identity] = owner
        else:
            for api_version, kind in sorted({(ref.api_version, ref.kind) for ref in refs}):
                for obj in self.api.list_labelled(api_version, kind, self.namespace, PART_OF_LABEL):
                    owner = obj["metadata"]["labels"][PART_OF_LABEL]
                    owners[ObjectRef.of({**obj, "apiVersion": api_version, "kind": kind}).identity] = owner
        for ref in refs:
            owner = owners.get(ref.identity)
            if owner is not None and owner != self.applyset.id:
                raise ApplyError(f"{ref} in namespace {self.namespace} belongs to another ApplySet ({owner}); "
                                 "rename the connector or remove that object")

    # -- reading state -----------------------------------------------------------------------------

    def _desired(self, objects: Sequence[Mapping[str, Any]]) -> _Desired:
        desired = _Desired()
        seen: set[Identity] = set()
        for obj in objects:
            try:
                ref = ObjectRef.of(obj)
            except (KeyError, TypeError):
                raise ApplyError("every object needs apiVersion, kind and metadata.name") from None
            if ref.identity in seen:
                raise ApplyError(f"{ref} appears twice in the stack")
            seen.add(ref.identity)
            if ref.kind == "Namespace":
                desired.namespaces.append(dict(obj))
                continue
            if not issubclass(resource_type(ref, namespaced=True), NamespacedResource):
                raise ApplyError(f"{ref} is cluster-scoped; a stack deploys only into its namespace")
            if ref.namespace not in (None, self.namespace):
                raise ApplyError(f"{ref} is in namespace {ref.namespace}, outside the stack namespace "
                                 f"{self.namespace}")
            member = self.applyset.member(obj)
            member["metadata"]["namespace"] = self.namespace
            desired.members.append(member)
        return desired

    def _read_live(self, desired: _Desired) -> _Live:
        parent = self.api.get(self.applyset.parent_ref)
        if parent is not None:
            self.applyset.check_parent(parent)
        versions = {ref.group_kind: [ref.api_version] for ref in desired.member_refs}
        for group_kind in ApplySet.recorded_group_kinds(parent):
            if group_kind not in versions:
                candidates = versions_for_group_kind(group_kind)
                if not candidates:
                    raise ApplyError(f"the ApplySet records kind {group_kind}, which this tool cannot list; "
                                     "remove its members by hand")
                versions[group_kind] = candidates
        members: dict[Identity, Manifest] = {}
        for group_kind, api_versions in sorted(versions.items()):
            for obj in self._members_of_group_kind(api_versions, group_kind.partition(".")[0]):
                members[ObjectRef.of(obj).identity] = obj
        self._refuse_claimed([ref for ref in desired.member_refs if ref.identity not in members])
        return _Live(parent, members)

    def _stale(self, desired: _Desired, live: _Live) -> list[Manifest]:
        wanted = {ref.identity for ref in desired.member_refs}
        return [obj for identity, obj in live.members.items() if identity not in wanted]

    # -- writing -----------------------------------------------------------------------------------

    def _unchanged(self, obj: Manifest, current: Manifest | None) -> ObjectChange | None:
        """UNCHANGED when the live object already holds everything ``obj`` sets (no request needed)."""
        if current is not None and in_sync(obj, current, self.api.field_manager):
            return ObjectChange(ObjectRef.of(obj), Action.UNCHANGED)
        return None

    def _plan_object(self, obj: Manifest, current: Manifest | None, force: bool, *,
                     member: bool) -> ObjectChange:
        """Dry-run apply and classify; call only when :meth:`_unchanged` could not decide."""
        ref = ObjectRef.of(obj)
        result, note = self._server_apply(obj, current, force, dry_run=True, member=member)
        if not result["metadata"].get("resourceVersion"):
            return ObjectChange(ref, Action.CREATE)
        if current is None:  # exists but not in our ApplySet yet: apply will adopt it
            current = self.api.get(ref)
            note = note or "adopts an existing object"
        return self._classify(ref, current, result, note)

    def _apply_object(self, obj: Manifest, current: Manifest | None, force: bool, *,
                      member: bool) -> ObjectChange:
        """Apply and classify by what changed; call only when :meth:`_unchanged` could not decide."""
        ref = ObjectRef.of(obj)
        result, note = self._server_apply(obj, current, force, dry_run=False, member=member)
        if current is None:
            others = {e.get("manager") for e in result["metadata"].get("managedFields") or []}
            if others - {self.api.field_manager}:
                fields = tuple(diff_owned(None, result, self.api.field_manager))
                return ObjectChange(ref, Action.UPDATE, fields, note or "adopted an existing object")
            return ObjectChange(ref, Action.CREATE)
        return self._classify(ref, current, result, note)

    def _classify(self, ref: ObjectRef, before: Manifest | None, after: Manifest, note: str) -> ObjectChange:
        fields = tuple(diff_owned(before, after, self.api.field_manager))
        if fields:
            return ObjectChange(ref, Action.UPDATE, fields, note)
        if _without_timestamps(before) != _without_timestamps(after):
            return ObjectChange(ref, Action.UPDATE, fields, note or "field ownership only")
        return ObjectChange(ref, Action.UNCHANGED)

    def _server_apply(self, obj: Manifest, current: Manifest | None, force: bool, *, dry_run: bool,
                      member: bool) -> tuple[Manifest, str]:
        """Apply; fields taken by plain updates on our own members are drift and are taken back."""
        try:
            return self.api.apply(obj, force=force, dry_run=dry_run), ""
        except FieldConflictError as conflict:
            if not member:
                raise
            editors = _update_only_managers(current or self.api.get(conflict.ref) or {})
            if any(c.manager not in editors for c in conflict.conflicts):
                raise
            taken = ", ".join(sorted({c.manager for c in conflict.conflicts}))
            fields = ", ".join(c.field for c in conflict.conflicts)
            log.info("reclaiming %s of %s from %s", fields, conflict.ref, taken)
            note = f"reverts out-of-band edit by {taken}"
            return self.api.apply(obj, force=True, dry_run=dry_run), note

    def _ensure_parent(self, parent: Manifest, current: Manifest | None) -> Manifest:
        if current is not None and in_sync(parent, current, self.api.field_manager):
            return current
        return self.api.apply(parent)

    def _delete_all(self, name: str, objects: Sequence[Manifest]) -> list[ObjectChange]:
        def delete(obj: Manifest) -> ObjectChange:
            ref = ObjectRef.of(obj)
            self.api.delete(ref)
            return ObjectChange(ref, Action.DELETE)

        changes: list[ObjectChange] = []
        phase = self._phase(name, len(objects))
        for _, group in reversed(_by_rank(objects)):  # workloads first, the things they use last
            changes += self._parallel(phase, group, delete)
        return changes

    def _phase(self, name: str, total: int) -> _Phase:
        return _Phase(name, total, self.on_progress)

    def _parallel(self, phase: _Phase, items: Sequence[T], work: Callable[[T], ObjectChange], *,
                  settled: Callable[[T], ObjectChange | None] | None = None) -> list[ObjectChange]:
        """``work`` over ``items`` on a thread pool, results in input order; the first error wins.

        ``settled`` answers cheaply, without a request, for items that need none (an unchanged stack
        never pays for threads)."""
        results: list[ObjectChange | None] = [None] * len(items)
        queued: list[int] = []
        for index, item in enumerate(items):
            results[index] = settled(item) if settled is not None else None
            if results[index] is None:
                queued.append(index)
            else:
                phase.advance(results[index])
        if len(queued) <= 1 or self.workers == 1:
            for index in queued:
                results[index] = work(items[index])
                phase.advance(results[index])
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(queued)),
                                    thread_name_prefix=f"iac-{phase.name}") as pool:
                futures = {pool.submit(work, items[index]): index for index in queued}
                pending: set[Future[ObjectChange]] = set(futures)
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for future in finished:
                        error = future.exception()
                        if error is not None:
                            for other in pending:
                                other.cancel()
                            raise error
                        results[futures[future]] = future.result()
                        phase.advance(future.result())
        return [r for r in results if r is not None]

    def _progress(self, event: ProgressEvent) -> None:
        if self.on_progress is not None:
            self.on_progress(event)


def _by_rank(objects: Iterable[Manifest]) -> list[tuple[int, list[Manifest]]]:
    ordered = sorted(objects, key=lambda o: apply_rank(str(o.get("kind"))))
    return [(rank, list(group)) for rank, group in
            itertools.groupby(ordered, key=lambda o: apply_rank(str(o.get("kind"))))]


def _update_only_managers(live: Mapping[str, Any]) -> set[str]:
    """Managers that changed the object only with plain updates (kubectl edit/set/patch, controllers)."""
    operations: dict[str, set[str]] = {}
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        operations.setdefault(str(entry.get("manager")), set()).add(str(entry.get("operation")))
    return {manager for manager, ops in operations.items() if ops == {"Update"}}


def _without_timestamps(obj: Mapping[str, Any] | None) -> Any:
    if obj is None:
        return None
    meta = dict(obj.get("metadata") or {})
    meta["managedFields"] = [{k: v for k, v in entry.items() if k != "time"}
                             for entry in meta.get("managedFields") or []]
    return {**obj, "metadata": meta}


def _rolled_out(obj: Mapping[str, Any] | None) -> bool:
    if obj is None:
        return False
    status = obj.get("status") or {}
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    generation = (obj.get("metadata") or {}).get("generation", 0)
    return bool(status.get("observedGeneration", -1) >= generation
                and status.get("updatedReplicas", 0) >= replicas
                and status.get("availableReplicas", 0) >= replicas
                and status.get("replicas", 0) <= replicas)


def _first_few(names: list[str], shown: int = 3) -> str:
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def _pod_problem(pod: Mapping[str, Any]) -> str | None:
    """One line on why ``pod`` is not available yet, or None when it is Ready."""
    name = (pod.get("metadata") or {}).get("name", "?")
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    if not containers:
        unscheduled = [c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"
                       and c.get("status") == "False"]
        if unscheduled:
            return f"pod {name}: not scheduled: {_short(unscheduled[0].get('message') or 'no reason given')}"
        return f"pod {name}: {status.get('phase', 'Pending')}, no container started yet"
    for container in containers:
        state = container.get("state") or {}
        restarts = container.get("restartCount", 0)
        again = f", restarted {restarts} times" if restarts else ""
        where = f"pod {name} container {container.get('name', '?')}"
        if "waiting" in state:
            waiting = state["waiting"] or {}
            message = waiting.get("message")
            last = ((container.get("lastState") or {}).get("terminated")) or {}
            if not message and last:
                message = f"last exit: {last.get('reason', 'exited')}, code {last.get('exitCode', '?')}"
            return f"{where}: {waiting.get('reason', 'waiting')}{again}" + (f": {_short(message)}" if message else "")
        if "terminated" in state:
            done = state["terminated"] or {}
            return f"{where}: terminated ({done.get('reason', 'exited')}, exit code {done.get('exitCode', '?')})"
        if not container.get("ready"):
            return f"{where}: running but not Ready (its readiness probe is not passing{again})"
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rollout_state(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return "not found"
    status = obj.get("status") or {}
    if "observedGeneration" not in status:
        return ("no controller has reported status (is kube-controller-manager running? "
                "a bare API server never rolls Deployments out)")
    replicas = (obj.get("spec") or {}).get("replicas", 1)
    return (f"{status.get('availableReplicas', 0)}/{replicas} available, "
            f"{status.get('updatedReplicas', 0)}/{replicas} updated")
