"""Coupa OAuth2 client credentials: ``POST https://<tenant>/oauth2/token`` with the client id and secret
as HTTP Basic (RFC 6749 §2.3.1), the read scopes and — only when provisioning is on — the write scopes.

The anchor fetched its token once and never again; here :class:`~iac.runtime.TokenProvider` renews it
before it expires and once when the API answers 401 (:mod:`iac.runtime._oauth`).

``core.accounting.read`` (account groups) is optional: it is asked for first, and when Coupa refuses the
request with ``invalid_scope`` (the client was not granted it) the token is fetched without it and
account groups are left out of the sync.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from iac.connectors.coupa.client import TOKEN_PATH
from iac.runtime import AccessToken, HttpClient, request_token
from iac.runtime.errors import BadRequestError

__all__ = ["ClientCredentials"]

log = logging.getLogger(__name__)


class ClientCredentials:
    """The token fetch for :class:`~iac.runtime.TokenProvider`; ``optional`` scopes are dropped on refusal."""

    def __init__(self, http: HttpClient, client_id: str, client_secret: str, scopes: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> None:
        self.http = http
        self._client = (client_id, client_secret)
        self.scopes = scopes
        self.optional = optional
        self._lock = threading.Lock()

    def __call__(self) -> AccessToken:
        with self._lock:
            wanted = self.scopes + self.optional
            try:
                response = request_token(self.http, TOKEN_PATH, {"grant_type": "client_credentials",
                                                                 "scope": " ".join(wanted)}, basic=self._client)
            except BadRequestError as exc:
                if exc.code != "invalid_scope" or not self.optional:
                    raise
                log.info("the Coupa client was not granted %s; continuing without it (account groups are "
                         "not synced)", " ".join(self.optional))
                self.optional = ()
                wanted = self.scopes
                response = request_token(self.http, TOKEN_PATH, {"grant_type": "client_credentials",
                                                                 "scope": " ".join(wanted)}, basic=self._client)
            token = response.token
            if not token.scopes:  # the server did not echo the scopes: what was asked for was granted
                token = dataclasses.replace(token, scopes=frozenset(wanted))
            return token
