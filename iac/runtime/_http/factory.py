"""A connector's HTTP clients, built one way from its settings and what the caller injects.

Every bundled connector builds its clients through :class:`HttpClientFactory`: the rate-limit share,
timeout, connection pool size, retry bounds and User-Agent come from the runtime settings, the
transport, clock and observer from :class:`Wiring` (tests, simulators, the bench, metrics). All clients
of one factory share one pacer, so a token endpoint, an API and several geolocations of one vendor
are paced together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from iac._version import __version__
from iac.runtime._clock import Clock, SystemClock
from iac.runtime._http.client import Authenticator, Bucketer, HttpClient, HttpObserver
from iac.runtime._http.errors import ErrorParser
from iac.runtime._http.pacing import BucketLimit, LimitedPacer, Pacer
from iac.runtime._http.retry import RetryPolicy
from iac.runtime._settings import RuntimeSettings

__all__ = ["HttpClientFactory", "Wiring"]


@dataclass(frozen=True, slots=True)
class Wiring:
    """What the caller injects into a connector's HTTP clients (tests, simulators, the bench, metrics)."""

    transport: httpx.BaseTransport | None = None
    clock: Clock | None = None
    observer: HttpObserver | None = None


class HttpClientFactory:
    """Builds a vendor's :class:`HttpClient`\\ s; ``product`` names the User-Agent (``baton-iac-<product>``).

    ``limits`` are documented limits the vendor announces in no header (:class:`LimitedPacer`).
    """

    def __init__(self, settings: RuntimeSettings, wiring: Wiring, *, product: str, bucket_of: Bucketer,
                 error_parser: ErrorParser | None = None, limits: Mapping[str, BucketLimit] | None = None,
                 retry: RetryPolicy | None = None) -> None:
        self.settings = settings
        self.wiring = wiring
        self.clock: Clock = wiring.clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.bucket_of = bucket_of
        self.error_parser = error_parser
        self.user_agent = f"baton-iac-{product}/{__version__}"
        share, cap = settings.rate_limit_share, self.retry.max_reset_wait
        self.pacer: Pacer = (LimitedPacer(limits, share=share, clock=self.clock, max_wait=cap) if limits
                             else Pacer(share=share, clock=self.clock, max_wait=cap))

    def client(self, base_url: str, *, headers: Mapping[str, str] | None = None,
               auth: Authenticator | None = None, connections: int | None = None) -> HttpClient:
        """A client for ``base_url``. ``connections`` defaults to one per sync worker plus a few (token
        renewals, probes); a token endpoint needs two."""
        return HttpClient(
            base_url, headers={"User-Agent": self.user_agent, **(headers or {})}, transport=self.wiring.transport,
            clock=self.clock, bucket_of=self.bucket_of, retry=self.retry, timeout=self.settings.http_timeout_seconds,
            error_parser=self.error_parser, observer=self.wiring.observer, pacer=self.pacer, auth=auth,
            max_connections=connections if connections is not None else self.settings.workers + 4,
        )
