"""Opaque cursors, page-size caps and RFC 8288 ``Link`` headers shared by the simulators."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

__all__ = ["CursorCodec", "InvalidCursor", "PageSize", "link_header", "page_url"]


class InvalidCursor(ValueError):
    """A cursor that this simulator did not issue for this list."""


class CursorCodec:
    """Turns a position (an integer sort key) into a token a client cannot read or forge.

    The token is a keyed MAC of the key and the list it belongs to, followed by the key masked
    with a pad derived from that MAC: tokens look random, a cursor from ``/users`` is rejected by
    ``/groups/{id}/users``, and an edited one is rejected too.
    """

    _MAC_SIZE = 6

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _hash(self, data: bytes, size: int) -> bytes:
        return hashlib.blake2b(data, key=self._secret, digest_size=size).digest()

    def encode(self, scope: str, key: int) -> str:
        payload = key.to_bytes(8, "big")
        mac = self._hash(b"mac" + payload + scope.encode(), self._MAC_SIZE)
        pad = self._hash(b"pad" + mac + scope.encode(), 8)
        masked = bytes(a ^ b for a, b in zip(payload, pad, strict=True))
        return base64.urlsafe_b64encode(mac + masked).decode().rstrip("=")

    def decode(self, scope: str, token: str) -> int:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError as exc:
            raise InvalidCursor(token) from exc
        if len(raw) != self._MAC_SIZE + 8:
            raise InvalidCursor(token)
        mac, masked = raw[: self._MAC_SIZE], raw[self._MAC_SIZE:]
        pad = self._hash(b"pad" + mac + scope.encode(), 8)
        payload = bytes(a ^ b for a, b in zip(masked, pad, strict=True))
        if mac != self._hash(b"mac" + payload + scope.encode(), self._MAC_SIZE):
            raise InvalidCursor(token)
        return int.from_bytes(payload, "big")


@dataclass(frozen=True)
class PageSize:
    """One endpoint's ``limit`` rules: the default, the floor, the cap; ``unbounded`` values mean 'all'."""

    default: int
    maximum: int
    minimum: int = 1
    unbounded: int | None = None  # e.g. Okta apps: limit=-1 returns everything

    def resolve(self, raw: str | None) -> int | None:
        """The page size to serve (None = no paging). Raises ValueError on a non-integer."""
        value = self.default if raw is None or raw == "" else int(raw)
        if self.unbounded is not None and value == self.unbounded:
            return None
        return max(self.minimum, min(self.maximum, value))


def page_url(base_url: str, path: str, params: Mapping[str, str]) -> str:
    query = urlencode(params)
    return f"{base_url}{path}?{query}" if query else f"{base_url}{path}"


def link_header(url: str, rel: str) -> str:
    """One RFC 8288 link value, e.g. ``<https://x/api/v1/users?after=…>; rel="next"``."""
    return f'<{url}>; rel="{rel}"'
