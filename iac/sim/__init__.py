"""Stateful, seeded simulators of the vendor APIs our connectors sync from (for tests, benchmarks, demos).

    from iac.sim import OktaSim, serve

    sim = OktaSim(seed=1, users=300, groups=20, apps=5)
    with serve(sim.app) as base_url:       # uvicorn on 127.0.0.1, free port, background thread
        ...                                # HTTP with sim.auth_headers
    sim.dataset.memberships()              # exact ground truth, no HTTP
    sim.stats.by_endpoint()                # request counts by endpoint and status
    sim.set_faults(error_rate=0.1)         # or POST /__sim/faults

Shared machinery (seeded data, faults, rate-limit buckets, counters, the server runner) lives in the
private modules; each vendor is one public module (`iac.sim.okta`).
"""

from __future__ import annotations

from iac.sim._clock import Clock, ManualClock, SystemClock
from iac.sim._faults import Fault, FaultSettings
from iac.sim._http import SimulatorBase
from iac.sim._okta_data import AppRecord, BindingMember, GroupRecord, OktaDataset, RoleAssignment, UserRecord
from iac.sim._ratelimit import BucketState, FixedWindowLimiter, Limiter, TokenBucketLimiter
from iac.sim._server import run, serve
from iac.sim._stats import RequestStats
from iac.sim.okta import OKTA_PAGE_SIZES, OKTA_RATE_LIMITS, OktaSim

__all__ = [
    "OKTA_PAGE_SIZES",
    "OKTA_RATE_LIMITS",
    "AppRecord",
    "BindingMember",
    "BucketState",
    "Clock",
    "Fault",
    "FaultSettings",
    "FixedWindowLimiter",
    "GroupRecord",
    "Limiter",
    "ManualClock",
    "OktaDataset",
    "OktaSim",
    "RequestStats",
    "RoleAssignment",
    "SimulatorBase",
    "SystemClock",
    "TokenBucketLimiter",
    "UserRecord",
    "run",
    "serve",
]
