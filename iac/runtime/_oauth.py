"""OAuth 2.0 access tokens for connectors: fetched when first needed, renewed before they expire, and
renewed at most once per token the server rejects.

    fetch = lambda: request_token(token_http, "/oauth2/token", form, basic=(client_id, secret)).token
    tokens = TokenProvider(fetch, clock=clock)
    api = HttpClient(base_url, auth=tokens)        # Authorization: Bearer <token> on every request

* **Before expiry.** A token is replaced once ``now >= expires_at - lead``, where ``lead`` is
  ``min(renew_before, 10 % of the token's lifetime)``: an hour-long token is renewed five minutes
  early, a 24-hour token too, a 20-second test token two seconds early.
* **On a 401.** :class:`~iac.runtime.HttpClient` calls :meth:`TokenProvider.renew` with the refused token.
  Renewal is single-flight: the requests refused the same token share one fetch, and a request refused
  a token that was already replaced just retries with the new one. The client asks again only when the
  renewed token had worked for other requests before it was refused too (it expired while the retry was
  in flight), never twice for one token and at most ``RetryPolicy.max_renewals`` times per request.
* **Secrets.** Every access and refresh token is registered with the log redactor the moment it is
  seen; ``repr()`` of the token objects never shows a value.

:func:`request_token` is the token endpoint call (a form POST through a paced, retrying
:class:`~iac.runtime.HttpClient`); vendors' quirks (Concur's string ``expires_in`` and geolocation,
Coupa's optional scopes) stay in the connectors' fetch functions.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from iac.runtime._clock import Clock, SystemClock
from iac.runtime._http import HttpClient
from iac.runtime._logging import register_secret
from iac.runtime.errors import ApiError, AuthError, BadRequestError

__all__ = ["AccessToken", "TokenProvider", "TokenResponse", "request_token"]

log = logging.getLogger(__name__)

# RFC 6749 §5.2 errors that mean "these credentials do not work", whatever status the server chose.
_CREDENTIAL_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token. ``expires_at`` is epoch seconds (None: the server announced no lifetime)."""

    value: str = field(repr=False)
    issued_at: float
    expires_at: float | None = None
    scopes: frozenset[str] = frozenset()

    def renew_at(self, renew_before: float) -> float | None:
        """When to replace this token: ``min(renew_before, 10 % of its lifetime)`` before it expires."""
        if self.expires_at is None:
            return None
        lifetime = max(0.0, self.expires_at - self.issued_at)
        return self.expires_at - min(renew_before, 0.1 * lifetime)


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """The token and the whole response body (``refresh_token``, Concur's ``geolocation``, …)."""

    token: AccessToken
    body: Mapping[str, Any] = field(repr=False)


def _expires_in(value: Any) -> float | None:
    """``3600``, ``3600.0`` or ``"3600"`` (Concur sends a string) → seconds; anything else → None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value > 0 else None
    if isinstance(value, str):
        try:
            seconds = float(value.strip())
        except ValueError:
            return None
        return seconds if seconds > 0 else None
    return None


def request_token(http: HttpClient, path: str, form: Mapping[str, str], *,
                  basic: tuple[str, str] | None = None) -> TokenResponse:
    """POST ``form`` (``application/x-www-form-urlencoded``) to the token endpoint and parse the answer.

    ``basic`` sends the client id and secret as HTTP Basic (RFC 6749 §2.3.1: each form-encoded first)
    instead of in the form. Credential errors (``invalid_grant``, ``invalid_client``, …) raise
    :class:`~iac.runtime.errors.AuthError` whatever their status; other refusals keep their type, so a
    caller can react to ``invalid_scope``. Nothing sent or received appears in error messages.
    """
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    if basic is not None:
        pair = f"{quote(basic[0], safe='')}:{quote(basic[1], safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    try:
        response = http.request("POST", path, content=urlencode(dict(form)).encode(), headers=headers,
                                replayable=True)  # a second token grant changes nothing at the vendor
    except BadRequestError as exc:
        if exc.code in _CREDENTIAL_ERRORS:
            raise AuthError(f"HTTP {exc.status}: the token endpoint refused the credentials"
                            + (f": {exc.summary}" if exc.summary else ""), method=exc.method, path=exc.path,
                            status=exc.status, code=exc.code, summary=exc.summary) from None
        raise
    try:
        body = response.json()
    except ValueError:
        raise ApiError("the token endpoint answered with a body that is not JSON", method="POST", path=path,
                       status=response.status_code) from None
    value = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise ApiError("the token endpoint answered without an access_token", method="POST", path=path,
                       status=response.status_code)
    register_secret(value)
    refresh = body.get("refresh_token")
    if isinstance(refresh, str):
        register_secret(refresh)
    now = http.clock.time()
    lifetime = _expires_in(body.get("expires_in"))
    scope = body.get("scope")
    scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
    token = AccessToken(value, now, None if lifetime is None else now + lifetime, scopes)
    return TokenResponse(token, body)


class TokenProvider:
    """An :class:`~iac.runtime.Authenticator` for bearer tokens; ``fetch`` gets a new token (any grant).

    Thread-safe: at most one fetch runs at a time, and threads waiting for it reuse its result.
    """

    def __init__(self, fetch: Callable[[], AccessToken], *, clock: Clock | None = None,
                 renew_before: float = 300.0) -> None:
        self._fetch = fetch
        self.clock = clock or SystemClock()
        self.renew_before = renew_before
        self._token: AccessToken | None = None
        self._lock = threading.Lock()
        self.fetches = 0
        """How many tokens were fetched (tests and metrics)."""

    def _due(self, token: AccessToken | None) -> bool:
        if token is None:
            return True
        renew_at = token.renew_at(self.renew_before)
        return renew_at is not None and self.clock.time() >= renew_at

    def _replace(self, reason: str) -> AccessToken:
        token = self._fetch()
        register_secret(token.value)
        self._token = token
        self.fetches += 1
        expires = "no announced expiry" if token.expires_at is None else \
            f"valid for {token.expires_at - token.issued_at:.0f}s"
        log.debug("fetched an access token (%s; %s)", reason, expires)
        return token

    def current(self) -> AccessToken:
        """A token that is not due for renewal (fetched now when there is none or it is due)."""
        token = self._token
        if not self._due(token):
            assert token is not None
            return token
        with self._lock:
            token = self._token
            if not self._due(token):
                assert token is not None
                return token
            return self._replace("first use" if token is None else "renewal before expiry")

    def headers(self) -> dict[str, str]:
        token = self.current()
        return {"Authorization": f"Bearer {token.value}"}

    def renew(self, rejected: Mapping[str, str]) -> bool:
        """The server refused the token in ``rejected``: fetch another, unless that already happened."""
        header = next((v for k, v in rejected.items() if k.lower() == "authorization"), "")
        _, _, value = header.partition(" ")
        if not value:
            return False
        with self._lock:
            current = self._token
            if current is not None and current.value != value:
                return True  # another request already replaced the refused token
            self._replace("the server refused the token (401)")
        return True

    def invalidate(self) -> None:
        """Forget the token; the next request fetches a new one."""
        with self._lock:
            self._token = None
