"""The simulators read time through the project's one clock (:mod:`iac.runtime`'s ``Clock``), so a test can
hand one virtual clock to both a connector and the simulator it talks to. ``ManualClock`` is the
simulators' name for :class:`~iac.runtime.VirtualClock` (it moves only when told to)."""

from __future__ import annotations

from iac.runtime import Clock, SystemClock, VirtualClock

__all__ = ["Clock", "ManualClock", "SystemClock"]

ManualClock = VirtualClock
