"""The runtime's HTTP layer, one concern per module (read them in this order):

``headers``   what a response says about its rate-limit bucket, in seconds from its arrival
``pacing``    per-bucket admission control on the monotonic clock (:class:`Pacer`, :class:`LimitedPacer`)
``retry``     the bounds on retrying (:class:`RetryPolicy`) and backoff
``errors``    a vendor's error answer → the runtime's error tree
``client``    :class:`HttpClient`: send, pace, wait, retry
``factory``   :class:`HttpClientFactory`: a connector's clients from its settings, sharing one pacer
"""

from __future__ import annotations

from iac.runtime._http.client import (
    Authenticator,
    Bucketer,
    CountingObserver,
    HttpClient,
    HttpObserver,
    RequestTrail,
    deferring,
    tracing_requests,
)
from iac.runtime._http.errors import ErrorParser, default_error_parser, json_object_body
from iac.runtime._http.factory import HttpClientFactory, Wiring
from iac.runtime._http.headers import RateLimitInfo, next_link, parse_rate_limit
from iac.runtime._http.pacing import BucketBusy, BucketLimit, BucketView, LimitedPacer, Pacer
from iac.runtime._http.retry import DEFAULT_MAX_WAIT, RetryPolicy

__all__ = [
    "DEFAULT_MAX_WAIT",
    "Authenticator",
    "BucketBusy",
    "BucketLimit",
    "BucketView",
    "Bucketer",
    "CountingObserver",
    "ErrorParser",
    "HttpClient",
    "HttpClientFactory",
    "HttpObserver",
    "LimitedPacer",
    "Pacer",
    "RateLimitInfo",
    "RequestTrail",
    "RetryPolicy",
    "Wiring",
    "default_error_parser",
    "deferring",
    "json_object_body",
    "next_link",
    "parse_rate_limit",
    "tracing_requests",
]
