"""The working store in a process of its own, so that storing a sync does not compete for the GIL.

Encoding rows (:mod:`iac.c1z.wire`) and inserting them is most of a large sync's CPU: at 100k Concur users
about as much as parsing every response. In the sync's own process that work shares one GIL with the
workers, and SQLite gives the GIL back for every row it steps, so a thread that stores a page and a
worker that parses one keep handing the lock to each other (each hand-over can wait out the switch
interval). In a child process the two run on two cores.

:class:`StoreProcess` has the :class:`~iac.runtime._store.WorkingStore` methods the engine calls.
Writes and checkpoints are sent without waiting: the pipe keeps their order, so a checkpoint commits
exactly the writes the engine made before it. Reads (the feeds, the resume state) and the end of the
sync wait for their answer, which comes after every write sent before them; an error in a write is
raised by the next call that waits. Rows travel as plain tuples (:func:`~iac.runtime._store.resource_row`); resources
read back travel as their protobuf bytes and are decoded here.

The child runs at a lower priority (its work can lag the requests, the end of the sync waits for it
anyway), ignores SIGINT and SIGTERM (the engine decides when to stop, then checkpoints) and ends when
its pipe closes: a killed engine leaves an uncommitted transaction, which SQLite rolls back, exactly as
when the store lived in the engine's process.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, NoReturn

from iac.c1z import pb
from iac.runtime import _c1z_codec as codec
from iac.runtime._models import Entitlement, Grant, Resource, ResourceType
from iac.runtime._store import WorkingStore, grant_row, resource_row
from iac.runtime.errors import ArtifactError

__all__ = ["StoreProcess"]

_HEADER = struct.Struct("<I")
_NICENESS = 10
_PIPE_SIZE = 1 << 20


def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)


def _receive(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class StoreProcess:
    """The engine's side of the store's process."""

    def __init__(self, artifact: Path, *, connector: str) -> None:
        self.artifact = artifact
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        # The module is named, not a script: the child finds the package the engine runs from.
        self._child = subprocess.Popen(
            [sys.executable, "-c", "from iac.runtime._store_process import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)
        assert self._child.stdin is not None and self._child.stdout is not None
        self._to, self._from = self._child.stdin, self._child.stdout
        with contextlib.suppress(OSError, AttributeError):  # Linux: room for a few pages ahead of the store
            fcntl.fcntl(self._to.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        self._lock = threading.Lock()  # one caller at a time (the coordinator)
        self._closed = False
        try:
            self.path: Path = self._ask("open", artifact, connector, logging.getLogger().getEffectiveLevel())
        except BaseException:
            self.close()
            raise

    # -- the pipe ---------------------------------------------------------------------------------------

    def _tell(self, op: str, *args: Any, flush: bool = False) -> None:
        with self._lock:
            try:
                _send(self._to, (op, args, {}, False))
                if flush:  # on its way at once: a killed engine loses no checkpoint it has made
                    self._to.flush()
            except OSError:
                self._died()

    def _ask(self, op: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            try:
                _send(self._to, (op, args, kwargs, True))
                self._to.flush()
                records, ok, value = _receive(self._from)
            except (OSError, EOFError):
                self._died()
        for name, level, message in records:  # what the child logged since its last answer
            logging.getLogger(name).log(level, "%s", message)
        if not ok:
            raise value
        return value

    def _died(self) -> NoReturn:
        try:
            code = self._child.wait(10)
        except subprocess.TimeoutExpired:  # alive but its pipe is gone
            self._child.kill()
            code = self._child.wait()
        raise ArtifactError(f"{self.artifact}: the sync's store process ended unexpectedly (exit code {code})")

    # -- the WorkingStore methods the engine uses ---------------------------------------------------------

    def unfinished(self) -> tuple[str, dict[str, Any]] | None:
        result: tuple[str, dict[str, Any]] | None = self._ask("unfinished")
        return result

    def begin_sync(self, checkpoint: dict[str, Any], *, host_id: str = "", started_at: float | None = None) -> str:
        sync_id: str = self._ask("begin_sync", checkpoint, host_id=host_id, started_at=started_at)
        return sync_id

    def put_resource_types(self, sync_id: str, types: Iterable[ResourceType]) -> None:
        self._tell("put_resource_types", sync_id, list(types))

    def commit(self) -> None:
        self._ask("commit")

    def put_resources(self, sync_id: str, resources: Iterable[Resource]) -> int:
        rows = [resource_row(r) for r in resources]
        self._tell("put_resource_rows", sync_id, rows)
        return len(rows)

    def put_entitlements(self, sync_id: str, entitlements: Iterable[Entitlement]) -> int:
        items = list(entitlements)
        self._tell("put_entitlements", sync_id, items)
        return len(items)

    def put_grants(self, sync_id: str, grants: Iterable[Grant]) -> int:
        rows = [grant_row(g) for g in grants]
        self._tell("put_grant_rows", sync_id, rows)
        return len(rows)

    def checkpoint(self, sync_id: str, state: dict[str, Any]) -> None:
        self._tell("checkpoint", sync_id, state, flush=True)

    def resources_after(self, sync_id: str, resource_type: str, after_rowid: int,
                        limit: int) -> list[tuple[int, Resource]]:
        rows: list[tuple[int, bytes]] = self._ask("resource_rows_after", sync_id, resource_type, after_rowid, limit)
        return [(rowid, codec.resource_from_pb(pb.Resource.FromString(data))) for rowid, data in rows]

    def get_resource(self, sync_id: str, resource_type: str, resource_id: str) -> Resource | None:
        resource: Resource | None = self._ask("get_resource", sync_id, resource_type, resource_id)
        return resource

    def prune_dangling(self, sync_id: str, principal_types: Iterable[str]) -> int:
        removed: int = self._ask("prune_dangling", sync_id, list(principal_types))
        return removed

    def listings_complete(self, sync_id: str, principal_types: Iterable[str]) -> None:
        self._tell("listings_complete", sync_id, list(principal_types))

    def stats(self, sync_id: str) -> dict[str, Any]:
        stats: dict[str, Any] = self._ask("stats", sync_id)
        return stats

    def finish(self, sync_id: str, *, stats: dict[str, Any], ended_at: float | None = None,
               keep_previous: bool = True) -> None:
        self._ask("finish", sync_id, stats=stats, ended_at=ended_at, keep_previous=keep_previous)

    def close(self) -> None:
        """Roll back what no checkpoint committed and end the child."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._to.close()  # EOF: the child rolls back and exits
        try:
            self._child.wait(30)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._from.close()


# -- the child ------------------------------------------------------------------------------------------

class _HeldLog(logging.Handler):
    """The child's log records, held until its next answer, which carries them to the engine's process
    (logged there as its own). Held, not sent: the engine reads the pipe only when it waits for an answer."""

    def __init__(self, limit: int = 1000) -> None:
        super().__init__()
        self.records: list[tuple[str, int, str]] = []
        self.limit = limit
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.limit:
            self.records.append((record.name, record.levelno, record.getMessage()))
        else:
            self.dropped += 1

    def take(self) -> list[tuple[str, int, str]]:
        records, self.records = self.records, []
        if self.dropped:
            records.append((__name__, logging.WARNING, f"{self.dropped} more log record(s) of the store dropped"))
            self.dropped = 0
        return records


def serve() -> None:
    """The child's loop: one WorkingStore, driven by the messages on stdin."""
    # Storing can wait; the requests cannot: on a busy node the requests' threads get the cores first.
    os.nice(_NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but messages on the pipe
    held = _HeldLog()
    store: WorkingStore | None = None
    pending: BaseException | None = None  # an error in a write nobody waited for
    try:
        while True:
            try:
                op, args, kwargs, wants_reply = _receive(inp)
            except EOFError:
                return
            try:
                if pending is not None:
                    if not wants_reply:
                        continue  # the writes after a failed one are not made
                    error, pending = pending, None
                    raise error
                if op == "open":
                    artifact, connector, level = args
                    root = logging.getLogger()
                    root.handlers[:] = [held]
                    root.setLevel(level)
                    store = WorkingStore(artifact, connector=connector)
                    result: Any = store.path
                else:
                    assert store is not None
                    result = getattr(store, op)(*args, **kwargs)
                if wants_reply:
                    _send(out, (held.take(), True, result))
                    out.flush()
            except Exception as exc:
                if not wants_reply:
                    pending = exc
                    continue
                _send(out, (held.take(), False, _portable(exc)))
                out.flush()
    finally:
        if store is not None:
            store.close()


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (the engine re-raises it), else an ArtifactError saying what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return ArtifactError(f"{type(exc).__name__}: {exc}")
    return exc

