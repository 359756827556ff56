"""OAuth 2.0 bookkeeping shared by the simulators: access tokens that expire, refresh tokens that rotate.

Token values are derived from the seed and a counter, so a replayed run hands out the same tokens.
Time comes from the simulator's `Clock`, so a test can make a token expire by moving a `ManualClock`,
and `TokenIssuer.expire_all` ends every live token at once (the "token expired mid-sync" case).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import itertools
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from iac.sim._clock import Clock

__all__ = ["AccessToken", "RefreshGrant", "RefreshTokens", "TokenIssuer", "TokenState", "hs256_jwt"]


class TokenState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"   # issued here, past its lifetime or ended by `expire_all`
    UNKNOWN = "unknown"   # never issued here (or garbled)


@dataclass(frozen=True)
class AccessToken:
    value: str
    client_id: str
    scopes: frozenset[str]
    issued_at: float
    expires_at: float | None  # None: never expires

    def expires_in(self, now: float) -> int | None:
        return None if self.expires_at is None else max(0, round(self.expires_at - now))


def _derive(seed: int, purpose: str, number: int, size: int = 24, *, hex_digits: bool = False) -> str:
    digest = hashlib.blake2b(f"{seed}:{purpose}:{number}".encode(), digest_size=size).digest()
    return digest.hex() if hex_digits else base64.urlsafe_b64encode(digest).decode().rstrip("=")


class TokenIssuer:
    """Issues bearer tokens and answers whether one is still good. Thread-safe."""

    def __init__(self, seed: int, clock: Clock, *, lifetime: float | None, prefix: str = "",
                 purpose: str = "access-token", hex_size: int | None = None) -> None:
        """``hex_size``: tokens of that many random bytes in hex (Celigo's style) instead of base64url."""
        self._seed = seed
        self._hex_size = hex_size
        self._clock = clock
        self.lifetime = lifetime
        self._prefix = prefix
        self._purpose = purpose
        self._numbers = itertools.count(1)
        self._tokens: dict[str, AccessToken] = {}
        self._lock = threading.Lock()

    def issue(self, client_id: str, scopes: Iterable[str], *, lifetime: float | None = None) -> AccessToken:
        """A new token; ``lifetime`` overrides the issuer's default for this one token."""
        now = self._clock.time()
        ttl = self.lifetime if lifetime is None else lifetime
        with self._lock:
            number = next(self._numbers)
            value = self._prefix + (_derive(self._seed, self._purpose, number) if self._hex_size is None else
                                    _derive(self._seed, self._purpose, number, self._hex_size, hex_digits=True))
            token = AccessToken(value, client_id, frozenset(scopes), now, None if ttl is None else now + ttl)
            self._tokens[value] = token
        return token

    def check(self, value: str) -> tuple[TokenState, AccessToken | None]:
        with self._lock:
            token = self._tokens.get(value)
        if token is None:
            return TokenState.UNKNOWN, None
        if token.expires_at is not None and self._clock.time() >= token.expires_at:
            return TokenState.EXPIRED, token
        return TokenState.VALID, token

    def expire_all(self) -> int:
        """End every token that is still valid; returns how many were."""
        now = self._clock.time()
        ended = 0
        with self._lock:
            for value, token in self._tokens.items():
                if token.expires_at is None or token.expires_at > now:
                    self._tokens[value] = replace(token, expires_at=now)
                    ended += 1
        return ended

    def live_count(self) -> int:
        now = self._clock.time()
        with self._lock:
            return sum(1 for t in self._tokens.values() if t.expires_at is None or t.expires_at > now)


@dataclass(frozen=True)
class RefreshGrant:
    """What a redeemed refresh token yields: its owner, its scopes and the refresh token to hand back."""

    client_id: str
    scopes: frozenset[str]
    refresh_token: str
    refresh_expires_at: float


@dataclass
class _Refresh:
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    successor: str | None = None      # set once rotated
    superseded_at: float | None = None


class RefreshTokens:
    """Long-lived refresh tokens, optionally rotated on every use.

    With ``rotate``, redeeming a token returns a new one and the old one keeps working for
    ``grace_seconds`` (a client whose response got lost can retry); redeeming it again inside the
    grace period returns the *same* successor, so a retried refresh does not fork the chain.
    """

    def __init__(self, seed: int, clock: Clock, *, rotate: bool, grace_seconds: float, lifetime: float) -> None:
        self._seed = seed
        self._clock = clock
        self.rotate = rotate
        self.grace_seconds = grace_seconds
        self.lifetime = lifetime
        self._numbers = itertools.count(1)
        self._tokens: dict[str, _Refresh] = {}
        self._lock = threading.Lock()

    def _mint_locked(self, client_id: str, scopes: frozenset[str], now: float) -> str:
        value = _derive(self._seed, "refresh-token", next(self._numbers), size=27)
        self._tokens[value] = _Refresh(client_id, scopes, now + self.lifetime)
        return value

    def mint(self, client_id: str, scopes: Iterable[str]) -> str:
        """A fresh refresh token, as a company-token flow or an admin would hand one out."""
        with self._lock:
            return self._mint_locked(client_id, frozenset(scopes), self._clock.time())

    def redeem(self, value: str, client_id: str) -> RefreshGrant | None:
        """The grant for ``value``, or None when it is unknown, expired, another client's, or rotated
        out longer than the grace period ago."""
        now = self._clock.time()
        with self._lock:
            entry = self._tokens.get(value)
            if entry is None or entry.client_id != client_id or now >= entry.expires_at:
                return None
            if entry.superseded_at is not None:
                if now > entry.superseded_at + self.grace_seconds or entry.successor is None:
                    return None
                value, entry = entry.successor, self._tokens[entry.successor]
                return RefreshGrant(entry.client_id, entry.scopes, value, entry.expires_at)
            if not self.rotate:
                return RefreshGrant(entry.client_id, entry.scopes, value, entry.expires_at)
            successor = self._mint_locked(entry.client_id, entry.scopes, now)
            entry.successor, entry.superseded_at = successor, now
            return RefreshGrant(entry.client_id, entry.scopes, successor, self._tokens[successor].expires_at)

    def is_valid(self, value: str) -> bool:
        """Whether ``value`` could be redeemed now (rotated-out tokens only inside the grace period)."""
        now = self._clock.time()
        with self._lock:
            entry = self._tokens.get(value)
            if entry is None or now >= entry.expires_at:
                return False
            return entry.superseded_at is None or now <= entry.superseded_at + self.grace_seconds


def hs256_jwt(claims: dict[str, Any], key: bytes) -> str:
    """A JWT signed with HS256 under ``key``: good enough for id_tokens nobody here verifies."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signature = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"
