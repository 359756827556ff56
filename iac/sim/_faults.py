"""Fault knobs and the seeded plan that decides, per request, which fault (if any) fires.

A request's fate depends only on the seed, its method and target (path + query), and how many
times that same request was seen before. Concurrent clients that interleave differently still
get the same faults, and a retry of a failed request gets a fresh draw.
"""

from __future__ import annotations

import enum
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from iac.sim._seeded import stable_fraction

__all__ = ["Fault", "FaultPlan", "FaultSettings"]


class Fault(enum.StrEnum):
    RESET = "reset"              # the connection is cut mid-response
    STALL = "stall"              # the response is held back for `stall_seconds`
    SERVER_ERROR = "error"       # a 5xx in the vendor's error format
    RATE_LIMIT = "rate_limit"    # a 429 although the bucket still has room
    MALFORMED_PAGE = "malformed_page"  # a list page whose JSON is cut short
    LOST_ANSWER = "lost_answer"  # the request is carried out, then the connection is cut before the answer


def _knob(default: float, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class FaultSettings:
    """What to inject. Rates are probabilities in [0, 1] per request. Each field's ``help`` is what
    ``iac sim <vendor> --help`` shows for the option of the same name."""

    latency_ms: float = _knob(0.0, "Milliseconds added to every response.")
    error_rate: float = _knob(0.0, "Probability per request of a 5xx in the vendor's error format.")
    rate_limit_rate: float = _knob(0.0, "Probability per request of a 429 while the bucket still has room.")
    reset_rate: float = _knob(0.0, "Probability per request of cutting the connection mid-response.")
    stall_rate: float = _knob(0.0, "Probability per request of holding the response for --stall-seconds.")
    stall_seconds: float = _knob(30.0, "How long a stalled response is held.")
    malformed_page_rate: float = _knob(0.0, "Probability per list page of JSON cut short.")
    lost_answer_rate: float = _knob(0.0, "Probability per write of carrying it out, then cutting the connection "
                                         "before the answer (a blind retry would apply it twice).")

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"{f.name} must be a number")
            if value < 0:
                raise ValueError(f"{f.name} must not be negative")
            if f.name.endswith("_rate") and value > 1:
                raise ValueError(f"{f.name} is a probability and must be at most 1")

    def updated(self, changes: dict[str, Any]) -> FaultSettings:
        """A copy with ``changes`` applied; unknown names and bad values raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        return FaultSettings(**{**asdict(self), **changes})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class FaultPlan:
    """Draws faults for requests; counts what it injected."""

    # The order in which faults are considered; the first that fires wins.
    _ORDER = (Fault.RESET, Fault.LOST_ANSWER, Fault.STALL, Fault.SERVER_ERROR, Fault.RATE_LIMIT)

    def __init__(self, seed: int, settings: FaultSettings | None = None) -> None:
        self.seed = seed
        self.settings = settings or FaultSettings()
        self.injected: Counter[str] = Counter()
        self._seen: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def _rate(self, fault: Fault) -> float:
        s = self.settings
        return {
            Fault.RESET: s.reset_rate,
            Fault.STALL: s.stall_rate,
            Fault.SERVER_ERROR: s.error_rate,
            Fault.RATE_LIMIT: s.rate_limit_rate,
            Fault.MALFORMED_PAGE: s.malformed_page_rate,
            Fault.LOST_ANSWER: s.lost_answer_rate,
        }[fault]

    def draw(self, method: str, target: str, *, is_page: bool) -> Fault | None:
        """The fault for this arrival of ``method target``, or None. ``is_page`` allows MALFORMED_PAGE."""
        with self._lock:
            occurrence = self._seen[(method, target)]
            self._seen[(method, target)] += 1
        candidates = (*self._ORDER, Fault.MALFORMED_PAGE) if is_page else self._ORDER
        for fault in candidates:
            if fault is Fault.LOST_ANSWER and method == "GET":
                continue  # only a write can be carried out and then lose its answer
            rate = self._rate(fault)
            if rate > 0 and stable_fraction(self.seed, fault.value, method, target, occurrence) < rate:
                with self._lock:
                    self.injected[fault.value] += 1
                return fault
        return None

    def forget_history(self) -> None:
        """Start counting arrivals afresh, so the same request sequence replays the same faults."""
        with self._lock:
            self._seen.clear()
            self.injected.clear()
