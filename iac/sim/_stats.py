"""Request counters by endpoint template and status, and the log of write requests; readable while the server runs."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["RecordedWrite", "RequestStats", "WriteLog"]


class RequestStats:
    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()

    def record(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._counts[(endpoint, status)] += 1

    def count(self, endpoint: str | None = None, status: int | None = None) -> int:
        """Requests matching ``endpoint`` (e.g. ``"GET /api/v1/users"``) and/or ``status``."""
        with self._lock:
            return sum(n for (e, s), n in self._counts.items()
                       if (endpoint is None or e == endpoint) and (status is None or s == status))

    def by_endpoint(self) -> dict[str, dict[str, int]]:
        """``{"GET /api/v1/users": {"200": 12, "429": 1}}`` — status keys are strings for JSON."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for (endpoint, status), n in sorted(self._counts.items()):
                out.setdefault(endpoint, {})[str(status)] = n
        return out

    def snapshot(self) -> dict[str, Any]:
        return {"total": self.count(), "by_endpoint": self.by_endpoint()}

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


class WriteLog:
    """Every write request a simulator received, in arrival order, with the body as sent.

    Tests read it to check *how* a client changed state, not only the end result: e.g. that a
    complete-list replace never went through an empty intermediate list.
    """

    def __init__(self) -> None:
        self._entries: list[RecordedWrite] = []
        self._effective: list[RecordedWrite] = []
        self._lock = threading.Lock()

    def record(self, method: str, path: str, body: Any, at: float) -> RecordedWrite:
        entry = RecordedWrite(method, path, body, at)
        with self._lock:
            self._entries.append(entry)
        return entry

    def answered(self, entry: RecordedWrite, status: int) -> None:
        """The vendor answered ``entry`` with ``status``; a 2xx means it carried the write out (even when
        the answer is then lost on the way back)."""
        with self._lock:
            entry.status = status
            if 200 <= status < 300:
                self._effective.append(entry)

    def entries(self, method: str | None = None, path: str | None = None) -> list[RecordedWrite]:
        """Every write request received, in arrival order, whatever its outcome."""
        with self._lock:
            return _matching(self._entries, method, path)

    def effective(self, method: str | None = None, path: str | None = None) -> list[RecordedWrite]:
        """The writes the vendor carried out, in the order it applied them: one entry per accepted request,
        even when it changed nothing the state shows (a repeated idempotent PUT, a set that already held
        the item). Counting these, not the state, is what tells a client that sent a write twice."""
        with self._lock:
            return _matching(self._effective, method, path)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._effective.clear()


def _matching(entries: list[RecordedWrite], method: str | None, path: str | None) -> list[RecordedWrite]:
    return [e for e in entries if (method is None or e.method == method) and (path is None or e.path == path)]


class RecordedWrite:
    """One write: ``body`` is the decoded JSON (or the raw text when it was not JSON); ``status``
    is filled in once the simulator answered (0 until then)."""

    __slots__ = ("at", "body", "method", "path", "status")

    def __init__(self, method: str, path: str, body: Any, at: float) -> None:
        self.method = method
        self.path = path
        self.body = body
        self.at = at
        self.status = 0

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "body": self.body, "at": self.at,
                "status": self.status}

    def __repr__(self) -> str:
        return f"RecordedWrite({self.method} {self.path} -> {self.status}: {self.body!r})"
