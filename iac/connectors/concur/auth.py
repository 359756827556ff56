"""SAP Concur's refresh-token grant and the geolocation it names.

* The first token comes from ``{base}/oauth2/v0/token`` (``grant_type=refresh_token``) where ``base`` is
  ``BATON_BASE_URL`` or the configured geolocation. The response names the ``geolocation`` of the
  company; every later call — API requests and refreshes alike — goes there
  (:func:`~iac.connectors.concur.config.checked_geolocation` decides whether it may).
* Access tokens last an hour (``expires_in`` is a string); :class:`~iac.runtime.TokenProvider` renews
  them five minutes early and on a 401 (again if the renewed one expires before the retry is answered).
* A refresh may return a new refresh token. It replaces the configured one for the rest of the process,
  and a warning (never the value) says the stored secret should be rotated.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from iac.connectors.concur.client import TOKEN_PATH
from iac.connectors.concur.config import checked_geolocation
from iac.runtime import (
    AccessToken,
    Authenticator,
    Clock,
    HttpClient,
    TokenProvider,
    register_secret,
    request_token,
)

__all__ = ["ConcurSession", "HttpFactory"]

log = logging.getLogger(__name__)

HttpFactory = Callable[[str, Authenticator | None], HttpClient]
"""``(origin, auth) -> HttpClient`` for that geolocation (``auth`` None: the token endpoint's client)."""


class ConcurSession:
    """Tokens for one Concur company and the HTTP clients of its geolocation."""

    def __init__(self, *, base_url: str, client_id: str, client_secret: str, refresh_token: str,
                 trust_any_geolocation: bool, http_factory: HttpFactory, clock: Clock | None = None) -> None:
        self._credentials = (client_id, client_secret)
        self._refresh_token = refresh_token
        self._trust_any = trust_any_geolocation
        self._make = http_factory
        self.geolocation = base_url.rstrip("/")
        """Where calls go: the configured base until the first token names the company's geolocation."""
        self.rotations = 0
        """How many times Concur handed out a new refresh token in this process."""
        self._clients: dict[tuple[str, bool], HttpClient] = {}
        self._lock = threading.Lock()
        self.tokens = TokenProvider(self._refresh, clock=clock)

    def _client(self, origin: str, *, api: bool) -> HttpClient:
        with self._lock:
            client = self._clients.get((origin, api))
            if client is None:
                client = self._clients[(origin, api)] = self._make(origin, self.tokens if api else None)
            return client

    def _refresh(self) -> AccessToken:
        """The refresh-token grant (runs under the token provider's lock: one refresh at a time, so a
        rotated refresh token is never redeemed twice)."""
        client_id, client_secret = self._credentials
        response = request_token(self._client(self.geolocation, api=False), TOKEN_PATH, {
            "grant_type": "refresh_token", "client_id": client_id, "client_secret": client_secret,
            "refresh_token": self._refresh_token})
        body = response.body
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self._refresh_token:
            register_secret(rotated)
            self._refresh_token = rotated
            self.rotations += 1
            log.warning("Concur issued a new refresh token; this process uses it from now on. Rotate the stored "
                        "secret BATON_CONCUR_REFRESH_TOKEN: the configured one may stop working (the new value "
                        "is not logged)")
        if "geolocation" in body:
            geolocation = checked_geolocation(body["geolocation"], trust_any=self._trust_any)
            if geolocation != self.geolocation:
                log.info("the Concur token names geolocation %s; calls go there from now on", geolocation)
                self.geolocation = geolocation
        return response.token

    def api(self) -> HttpClient:
        """The HTTP client of the current geolocation (fetching the first token tells which one it is)."""
        self.tokens.current()
        return self._client(self.geolocation, api=True)

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()
