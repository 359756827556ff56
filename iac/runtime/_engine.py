"""The sync engine: concurrent, bucket-aware, checkpointed, resumable, in bounded memory.

Work is split into *lanes*, one per (operation, resource type):

* ``list/<type>`` pages through a type (for a child type, once per parent resource);
* ``entitlements/<type>`` and ``grants/<type>`` run once per resource of the type;
* ``type_grants/<type>`` walks the grants of a whole type (:class:`TypeGrantsSyncer`).

Per-resource lanes are fed from the store in small batches (``rowid`` order), never from an in-memory
list, so memory does not grow with the org: the store holds what was found, the lanes hold a
bounded window of pending calls and the checkpoint holds those windows plus the feed cursors.

Each task is one syncer call, which makes (ideally) one request. Workers run tasks under
:func:`~iac.runtime._http.deferring`: when a task's rate-limit bucket is spent, the HTTP layer raises
:class:`BucketBusy` before sending, the lane is parked until the bucket's reset and the worker takes
another lane, so every bucket is kept busy at once and the sync approaches the slowest bucket's floor.

Only the coordinator thread (the caller of :meth:`SyncEngine.run`) touches the store, which by default
runs in a process of its own (:mod:`~iac.runtime._store_process`), off this process's GIL. It commits
results together with the resume token at most every ``checkpoint_interval`` seconds; a crash
rolls back to the last checkpoint, and the next run resumes from it.

**Stopping.** Every wait — the coordinator's, and inside a task the HTTP client's pacing, backoff and
retries and any OAuth token fetch — ends as soon as the stop event is set (:func:`~iac.runtime._clock.stop_scope`).
The coordinator then takes no new work, gives requests already on the wire ``stop_grace`` seconds,
checkpoints (unfinished tasks included, so they run again on resume) and returns; workers are daemon
threads, so a request stuck on the network cannot hold the process.

**Paging.** Each chain of pages remembers the tokens it has seen: a token that comes back (A→B→A) or a
chain longer than ``max_pages`` is a :class:`~iac.runtime.errors.PagingError` naming the endpoint.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iac.runtime._clock import Clock, SystemClock, stop_scope
from iac.runtime._http import BucketBusy, deferring, tracing_requests
from iac.runtime._models import Entitlement, Grant, Page, Resource, ResourceRef, ResourceType
from iac.runtime._protocols import ResourceSyncer, RuntimeConnector, TypeGrantsSyncer
from iac.runtime._store import WorkingStore
from iac.runtime._store_process import StoreProcess
from iac.runtime.errors import NotFoundError, PagingError, SyncInterruptedError

__all__ = ["SyncEngine", "SyncResult"]

log = logging.getLogger(__name__)

CHECKPOINT_VERSION = 1
_FEED_BATCH = 256
_STOP_POLL = 0.25
"""How often the coordinator looks at the stop event while it waits for workers."""


@dataclass(slots=True)
class _Task:
    token: str | None = None
    resource_id: str | None = None  # the resource (per-resource lanes) or the parent (child listing)
    resource: Resource | None = None  # loaded lazily; not checkpointed
    chain: set[str] | None = None  # tokens this chain of pages has seen (not checkpointed)

    def to_json(self) -> list[str | None]:
        return [self.resource_id, self.token]


@dataclass
class _Lane:
    op: str
    rtype: str
    source: str | None = None  # feed: one task per resource of this type
    queue: deque[_Task] = field(default_factory=deque)
    inflight: list[_Task] = field(default_factory=list)
    cursor: int = 0
    feed_exhausted: bool = False
    parked_until: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.op}/{self.rtype}"


class _Workers:
    """A fixed pool of daemon threads. Unlike ThreadPoolExecutor's (joined at interpreter exit), a worker
    stuck on the network cannot keep a stopped process alive."""

    def __init__(self, count: int) -> None:
        self._queue: queue.SimpleQueue[tuple[cf.Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"sync-worker-{i}")
                         for i in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], Any]) -> cf.Future[Any]:
        future: cf.Future[Any] = cf.Future()
        self._queue.put((future, fn))
        return future

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def shutdown(self, *, wait: bool) -> None:
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


@dataclass(frozen=True, slots=True)
class SyncResult:
    sync_id: str
    resumed: bool
    duration: float
    stats: dict[str, Any]
    pruned_grants: int


class SyncEngine:
    """Runs one full sync of ``connector`` into the artifact at ``artifact``."""

    def __init__(self, connector: RuntimeConnector, artifact: Path, *, workers: int = 8, clock: Clock | None = None,
                 checkpoint_interval: float = 5.0, stop: threading.Event | None = None, host_id: str = "",
                 keep_previous: bool = True, interleave: bool = True,
                 heartbeat: Callable[[], None] | None = None, stop_grace: float = 2.0,
                 max_pages: int = 100_000, store_process: bool = True) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.connector = connector
        self.artifact = artifact
        self.workers = workers
        self.clock = clock or SystemClock()
        self.checkpoint_interval = checkpoint_interval
        self.stop = stop or threading.Event()
        self.host_id = host_id
        self.keep_previous = keep_previous
        self.interleave = interleave
        self.heartbeat = heartbeat
        self.stop_grace = stop_grace
        """Seconds a stopped sync gives requests already sent before it checkpoints without them."""
        self.max_pages = max_pages
        """The longest chain of pages one call may return (a bound on every paging loop)."""
        self.store_process = store_process
        """Store in a child process (:mod:`iac.runtime._store_process`), off this process's GIL; False stores
        from the coordinator thread."""
        self._halt = threading.Event()
        """Set on stop or failure: every wait inside a task ends (the tasks are checkpointed, not failed)."""
        self._syncers: dict[str, ResourceSyncer] = {s.resource_type.id: s for s in connector.syncers()}
        self._types: list[ResourceType] = [s.resource_type for s in connector.syncers()]
        self._lanes: dict[str, _Lane] = {}
        self._rr = 0
        self.checkpoints = 0
        self.peak_pending = 0
        """The most tasks held in memory at once (queued and in flight): bounded, whatever the org size."""

    # -- plan -------------------------------------------------------------------------------------------

    def _plan(self) -> dict[str, _Lane]:
        lanes: dict[str, _Lane] = {}
        for rt in self._types:
            syncer = self._syncers[rt.id]
            if rt.parent is None:
                lane = _Lane("list", rt.id)
                lane.queue.append(_Task())
                lane.feed_exhausted = True
            else:
                lane = _Lane("list", rt.id, source=rt.parent)
            lanes[lane.key] = lane
            if rt.has_entitlements:
                lane = _Lane("entitlements", rt.id, source=rt.id)
                lanes[lane.key] = lane
            if rt.has_grants:
                if isinstance(syncer, TypeGrantsSyncer):
                    lane = _Lane("type_grants", rt.id)
                    lane.queue.append(_Task())
                    lane.feed_exhausted = True
                else:
                    lane = _Lane("grants", rt.id, source=rt.id)
                lanes[lane.key] = lane
        return lanes

    def _state(self) -> dict[str, Any]:
        return {
            "version": CHECKPOINT_VERSION,
            "types": [rt.id for rt in self._types],
            "lanes": {k: {"tasks": [t.to_json() for t in (*lane.inflight, *lane.queue)],
                          "cursor": lane.cursor, "exhausted": lane.feed_exhausted}
                      for k, lane in self._lanes.items()},
        }

    def _restore(self, state: dict[str, Any]) -> bool:
        if state.get("version") != CHECKPOINT_VERSION or state.get("types") != [rt.id for rt in self._types]:
            return False
        lanes = self._plan()
        saved = state.get("lanes", {})
        if set(saved) != set(lanes):
            return False
        for key, lane in lanes.items():
            entry = saved[key]
            lane.queue = deque(_Task(token=t[1], resource_id=t[0]) for t in entry["tasks"])
            lane.cursor = int(entry["cursor"])
            lane.feed_exhausted = bool(entry["exhausted"])
        self._lanes = lanes
        return True

    # -- scheduling -------------------------------------------------------------------------------------

    def _list_done(self, rtype: str) -> bool:
        lane = self._lanes[f"list/{rtype}"]
        return lane.feed_exhausted and not lane.queue and not lane.inflight

    def _listed(self, types: Sequence[str]) -> bool:
        """Whether every one of ``types`` is listed completely (types the connector does not list are not)."""
        return bool(types) and all(f"list/{t}" in self._lanes and self._list_done(t) for t in types)

    def _feed(self, store: WorkingStore | StoreProcess, sync_id: str, lane: _Lane) -> None:
        if lane.source is None or lane.feed_exhausted or len(lane.queue) >= self.workers * 2:
            return
        source_done = self._list_done(lane.source)  # read before the query: no row can slip between
        batch = store.resources_after(sync_id, lane.source, lane.cursor, _FEED_BATCH)
        for rowid, resource in batch:
            lane.cursor = rowid
            if lane.op == "list":
                lane.queue.append(_Task(resource_id=resource.id))
            else:
                lane.queue.append(_Task(resource_id=resource.id, resource=resource))
        if not batch and source_done:
            lane.feed_exhausted = True

    def _done(self) -> bool:
        return all(lane.feed_exhausted and not lane.queue and not lane.inflight
                   for lane in self._lanes.values())

    def _next_lane(self, now: float) -> _Lane | None:
        """The next lane with work whose bucket is ready at ``now`` (monotonic)."""
        lanes = list(self._lanes.values())
        n = len(lanes)
        # listing first: it unblocks the per-resource lanes; then round-robin
        for pass_ops in (("list",), ("entitlements", "grants", "type_grants")):
            for i in range(n):
                lane = lanes[(self._rr + i) % n]
                if lane.op in pass_ops and lane.queue and lane.parked_until <= now:
                    self._rr = (self._rr + i + 1) % n
                    return lane
        return None

    # -- running a task (worker threads) ----------------------------------------------------------------

    def _call(self, lane: _Lane, task: _Task) -> tuple[Page[Any], str | None]:
        with stop_scope(self._halt), tracing_requests() as trail:
            return self._call_syncer(lane, task), trail.last

    def _call_syncer(self, lane: _Lane, task: _Task) -> Page[Any]:
        syncer = self._syncers[lane.rtype]
        with deferring() if self.interleave else contextlib.nullcontext():
            if lane.op == "list":
                parent_type = syncer.resource_type.parent
                parent = (ResourceRef(parent_type, task.resource_id)
                          if parent_type and task.resource_id else None)
                return syncer.list(parent, task.token)
            if lane.op == "type_grants":
                assert isinstance(syncer, TypeGrantsSyncer)
                return syncer.type_grants(task.token)
            assert task.resource is not None
            if lane.op == "entitlements":
                return syncer.entitlements(task.resource, task.token)
            return syncer.grants(task.resource, task.token)

    # -- the coordinator --------------------------------------------------------------------------------

    def run(self) -> SyncResult:
        started = self.clock.monotonic()
        store: WorkingStore | StoreProcess = (
            StoreProcess(self.artifact, connector=self.connector.name) if self.store_process
            else WorkingStore(self.artifact, connector=self.connector.name))
        try:
            return self._run(store, started)
        finally:
            with contextlib.suppress(Exception):
                store.close()

    def _run(self, store: WorkingStore | StoreProcess, started: float) -> SyncResult:
        resumed = False
        unfinished = store.unfinished()
        if unfinished is not None and self._restore(unfinished[1]):
            sync_id = unfinished[0]
            resumed = True
            log.info("resuming sync %s from its last checkpoint", sync_id)
        else:
            if unfinished is not None:
                log.info("discarding unfinished sync %s: the connector's types changed", unfinished[0])
            self._lanes = self._plan()
            sync_id = store.begin_sync(self._state(), host_id=self.host_id, started_at=self.clock.time())
        # Written (again) and committed before any work: a sync killed before its first checkpoint must
        # not resume without them. INSERT OR REPLACE makes the repeat harmless.
        store.put_resource_types(sync_id, self._types)
        store.commit()

        for lane in self._lanes.values():  # tasks restored from a checkpoint need their resources again
            for task in lane.queue:
                if lane.op in ("entitlements", "grants") and task.resource is None and task.resource_id:
                    task.resource = store.get_resource(sync_id, lane.rtype, task.resource_id)
            lane.queue = deque(t for t in lane.queue if lane.op not in ("entitlements", "grants")
                               or t.resource is not None)

        futures: dict[cf.Future[tuple[Page[Any], str | None]], tuple[_Lane, _Task]] = {}
        last_checkpoint = self.clock.monotonic()
        failure: BaseException | None = None
        stopped_at: float | None = None  # monotonic time the coordinator saw the stop (or a failure)
        self._halt.clear()
        prune_types = sorted(self.connector.prune_principal_types)
        listed = False  # told the store that the principals are all listed
        pool = _Workers(self.workers)
        try:
            while True:
                if self.heartbeat is not None:
                    self.heartbeat()
                stopping = self.stop.is_set() or failure is not None
                if stopping and stopped_at is None:
                    stopped_at = self.clock.monotonic()
                    self._halt.set()  # waits inside running tasks end now
                if not stopping:
                    for lane in self._lanes.values():
                        self._feed(store, sync_id, lane)
                    pending = sum(len(lane.queue) + len(lane.inflight) for lane in self._lanes.values())
                    self.peak_pending = max(self.peak_pending, pending)
                    self._dispatch(pool, futures)
                if not futures:
                    if stopping or self._done():
                        break
                    parked = [lane.parked_until for lane in self._lanes.values() if lane.queue]
                    if parked:  # every lane with work waits for its bucket: sleep until the first is ready
                        self.clock.wait(self.stop, max(1e-3, min(parked) - self.clock.monotonic()))
                    continue  # else only feeds are left to refill
                if stopped_at is not None and self.clock.monotonic() - stopped_at >= self.stop_grace:
                    log.info("%d request(s) still running %.0fs after the stop; they run again on resume",
                             len(futures), self.stop_grace)
                    break  # their tasks are still in lane.inflight: the checkpoint keeps them
                now = self.clock.monotonic()
                waits = [self.checkpoint_interval, _STOP_POLL]
                if len(futures) < self.workers and not stopping:
                    waits += [lane.parked_until - now for lane in self._lanes.values()
                              if lane.queue and lane.parked_until > now]
                done, _ = cf.wait(futures, timeout=max(0.001, min(waits)), return_when=cf.FIRST_COMPLETED)
                pages: list[tuple[_Lane, Page[Any]]] = []
                for fut in done:
                    lane, task = futures.pop(fut)
                    lane.inflight.remove(task)
                    exc = fut.exception()
                    if exc is None:
                        page, endpoint = fut.result()
                        try:
                            self._follow_up(lane, task, page, endpoint)
                            pages.append((lane, page))
                        except (PagingError, RuntimeError, TypeError) as bad:
                            lane.queue.appendleft(task)
                            failure = failure or bad
                    elif isinstance(exc, BucketBusy):
                        lane.queue.appendleft(task)
                        lane.parked_until = max(lane.parked_until, exc.ready_at)
                    elif isinstance(exc, SyncInterruptedError) and self._halt.is_set():
                        lane.queue.appendleft(task)  # stopped while waiting: it runs again on resume
                    elif isinstance(exc, NotFoundError) and not (lane.op == "list" and task.resource_id is None):
                        # a resource (or a fan-out target) deleted mid-sync; a type's own listing must exist
                        log.warning("%s of %s %s: gone while syncing (%s); skipped", lane.op, lane.rtype,
                                    task.resource_id or task.token, exc)
                    else:
                        lane.queue.appendleft(task)
                        if failure is None:
                            failure = exc
                if pages and not (stopping or failure is not None):
                    self._dispatch(pool, futures)  # the next pages are requested before these are stored
                for lane, page in pages:
                    self._store(store, sync_id, lane, page)
                if not listed and not stopping and self._listed(prune_types) and not self._done():
                    # Grants stored so far are pruned while the sync goes on: the end of the sync, which
                    # everything waits for, only prunes what comes later.
                    store.listings_complete(sync_id, prune_types)
                    listed = True
                if self.clock.monotonic() - last_checkpoint >= self.checkpoint_interval:
                    store.checkpoint(sync_id, self._state())
                    self.checkpoints += 1
                    last_checkpoint = self.clock.monotonic()
                    log.debug("checkpoint: %s", {k: len(v.queue) for k, v in self._lanes.items()})
        finally:
            self._halt.set()
            pool.shutdown(wait=False)

        if failure is not None or self.stop.is_set():
            store.checkpoint(sync_id, self._state())
            self.checkpoints += 1
            if failure is not None:
                raise failure
            raise SyncInterruptedError(f"sync {sync_id} stopped; its progress is checkpointed in "
                                       f"{store.path} and the next run resumes it")

        ended_work = self.clock.monotonic()
        pruned = store.prune_dangling(sync_id, prune_types)
        stats = store.stats(sync_id)
        counted = self.clock.monotonic()
        duration = counted - started
        stats["duration_seconds"] = round(duration, 3)
        store.finish(sync_id, stats=stats, ended_at=self.clock.time(), keep_previous=self.keep_previous)
        published = self.clock.monotonic()
        log.info("sync %s complete in %.1fs (its end: %.2fs storing and counting, %.2fs publishing): %d resources, "
                 "%d entitlements, %d grants", sync_id, duration, counted - ended_work, published - counted,
                 stats["resources"]["total"], stats["entitlements"]["total"], stats["grants"]["total"])
        return SyncResult(sync_id, resumed, duration, stats, pruned)

    def _dispatch(self, pool: _Workers, futures: dict[cf.Future[tuple[Page[Any], str | None]],
                                                    tuple[_Lane, _Task]]) -> None:
        """Hand queued tasks whose buckets are ready to idle workers."""
        now = self.clock.monotonic()
        while len(futures) < self.workers:
            ready = self._next_lane(now)
            if ready is None:
                break
            task = ready.queue.popleft()
            ready.inflight.append(task)
            futures[pool.submit(functools.partial(self._call, ready, task))] = (ready, task)

    def _follow_up(self, lane: _Lane, task: _Task, page: Page[Any], endpoint: str | None = None) -> None:
        """Check the page's items and queue the tasks it leads to (fan-out, the next page)."""
        _only(page.items, _KIND[lane.op], lane)
        for token in page.fanout:
            lane.queue.append(_Task(token=token, resource_id=task.resource_id, resource=task.resource))
        if page.next_token is not None:
            chain = self._follow(lane, task, page.next_token, endpoint)
            follow = _Task(token=page.next_token, resource_id=task.resource_id, resource=task.resource, chain=chain)
            if page.fanout:
                lane.queue.append(follow)  # after its fan-out: at most one page of fan-out is pending
            else:
                lane.queue.appendleft(follow)  # keep page chains moving

    @staticmethod
    def _store(store: WorkingStore | StoreProcess, sync_id: str, lane: _Lane, page: Page[Any]) -> None:
        if lane.op == "list":
            store.put_resources(sync_id, page.items)
        elif lane.op == "entitlements":
            store.put_entitlements(sync_id, page.items)
        else:
            store.put_grants(sync_id, page.items)

    def _follow(self, lane: _Lane, task: _Task, token: str, endpoint: str | None) -> set[str]:
        """The chain's seen tokens with ``task.token`` added; a cycle or an endless chain is an error."""
        chain = task.chain if task.chain is not None else set()
        if task.token is not None:
            chain.add(task.token)
        where = f"{lane.key}" + (f" of {task.resource_id}" if task.resource_id else "") + \
            (f" ({endpoint})" if endpoint else "")
        if token in chain:
            raise PagingError(f"{where}: the next-page token {token!r} came back after {len(chain)} page(s), "
                              "a paging cycle; refusing to loop")
        if len(chain) + 1 >= self.max_pages:
            raise PagingError(f"{where}: more than {self.max_pages} pages in one listing; refusing to go on")
        return chain


_KIND: dict[str, type] = {"list": Resource, "entitlements": Entitlement, "grants": Grant, "type_grants": Grant}


def _only(items: Sequence[Any], kind: type, lane: _Lane) -> None:
    for item in items:
        if not isinstance(item, kind):
            raise TypeError(f"{lane.key} returned a {type(item).__name__}, expected {kind.__name__}")
