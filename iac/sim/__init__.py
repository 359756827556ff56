"""Stateful, seeded simulators of the vendor APIs our connectors sync from (for tests, benchmarks, demos).

    from iac.sim import OktaSim, serve

    sim = OktaSim(seed=1, users=300, groups=20, apps=5)
    with serve(sim.app) as base_url:       # uvicorn on 127.0.0.1, free port, background thread
        ...                                # HTTP with sim.auth_headers
    sim.dataset.memberships()              # exact ground truth, no HTTP
    sim.stats.by_endpoint()                # request counts by endpoint and status
    sim.set_faults(error_rate=0.1)         # or POST /__sim/faults

The other vendors follow the same pattern: `CoupaSim` (OAuth client credentials, complete-list PUTs),
`ConcurSim` (refresh-token OAuth, Identity v4.1, Spend roles, asynchronous User Provisioning) and
`CeligoSim` (ashares, invites, Link-header paging). Each has ``dataset`` (ground truth), ``writes``
(every write request as sent; ``writes.effective()``: those the vendor carried out, in order, even when the
state de-duplicates them), ``expire_tokens()`` (also ``POST /__sim/tokens/expire``) where tokens expire.

Shared machinery (seeded data, faults, rate-limit buckets, counters, OAuth tokens, the server runner)
lives in the private modules; each vendor is one public module (`iac.sim.okta`, `iac.sim.coupa`, …). A new
vendor subclasses ``SimulatorBase`` with ``Endpoint`` handlers that take a ``SimRequest`` and return a
``SimResponse`` or raise ``SimError``.
"""

from __future__ import annotations

from iac.sim._celigo_data import Ashare, CeligoDataset, CeligoIntegration
from iac.sim._clock import Clock, ManualClock, SystemClock
from iac.sim._concur_data import ConcurDataset, ConcurUser
from iac.sim._coupa_data import LICENSE_FLAGS, CoupaDataset, CoupaUser
from iac.sim._faults import Fault, FaultSettings
from iac.sim._http import Endpoint, SimError, SimRequest, SimResponse, SimulatorBase
from iac.sim._okta_data import (
    AppRecord,
    BindingMember,
    DeviceRecord,
    GroupRecord,
    OktaDataset,
    RoleAssignment,
    UserRecord,
)
from iac.sim._ratelimit import BucketState, FixedWindowLimiter, Limiter, TokenBucketLimiter
from iac.sim._server import run, serve
from iac.sim._stats import RecordedWrite, RequestStats, WriteLog
from iac.sim._tls import TlsFiles, make_certificate
from iac.sim.celigo import CELIGO_RATE_LIMIT, CeligoSim
from iac.sim.concur import CONCUR_RATE_LIMITS, CONCUR_SCOPES, ConcurSim, ProvisionRequest
from iac.sim.coupa import COUPA_PAGE_SIZE, COUPA_RATE_LIMIT, COUPA_SCOPES, CoupaSim
from iac.sim.okta import OKTA_PAGE_SIZES, OKTA_RATE_LIMITS, OktaSim

__all__ = [
    "CELIGO_RATE_LIMIT",
    "CONCUR_RATE_LIMITS",
    "CONCUR_SCOPES",
    "COUPA_PAGE_SIZE",
    "COUPA_RATE_LIMIT",
    "COUPA_SCOPES",
    "LICENSE_FLAGS",
    "OKTA_PAGE_SIZES",
    "OKTA_RATE_LIMITS",
    "AppRecord",
    "Ashare",
    "BindingMember",
    "BucketState",
    "CeligoDataset",
    "CeligoIntegration",
    "CeligoSim",
    "Clock",
    "ConcurDataset",
    "ConcurSim",
    "ConcurUser",
    "CoupaDataset",
    "CoupaSim",
    "CoupaUser",
    "DeviceRecord",
    "Endpoint",
    "Fault",
    "FaultSettings",
    "FixedWindowLimiter",
    "GroupRecord",
    "Limiter",
    "ManualClock",
    "OktaDataset",
    "OktaSim",
    "ProvisionRequest",
    "RecordedWrite",
    "RequestStats",
    "RoleAssignment",
    "SimError",
    "SimRequest",
    "SimResponse",
    "SimulatorBase",
    "SystemClock",
    "TlsFiles",
    "TokenBucketLimiter",
    "UserRecord",
    "WriteLog",
    "make_certificate",
    "run",
    "serve",
]
