"""Deterministic building blocks for generated data: draws, ids and timestamps fixed by the seed alone."""

from __future__ import annotations

import hashlib
import random
import time

__all__ = [
    "BASE62",
    "IdCodec",
    "iso_timestamp",
    "short_code",
    "stable_fraction",
    "sub_random",
    "token_from_seed",
]

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def stable_fraction(seed: int, *key: object) -> float:
    """A uniform number in [0, 1) fixed by ``seed`` and ``key`` alone (no process-level hash salt)."""
    digest = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def sub_random(seed: int, purpose: str) -> random.Random:
    """An independent RNG per purpose, so adding a column to one generator never shifts another's values."""
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))


def short_code(seed: int, purpose: str, length: int) -> str:
    """A few base62 characters fixed by the seed (e.g. the org-specific tail of Okta ids)."""
    digest = hashlib.blake2b(f"{seed}:{purpose}".encode(), digest_size=length).digest()
    return "".join(BASE62[b % 62] for b in digest)


def token_from_seed(seed: int, length: int = 42) -> str:
    """An SSWS-looking API token derived from the seed (Okta tokens are '00' + 40 characters)."""
    digest = hashlib.blake2b(f"{seed}:api-token".encode(), digest_size=64).digest()
    chars = [BASE62[b % 62] for b in digest]
    return ("00" + "".join(chars))[:length]


def _to_base62(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        out.append(BASE62[digit])
    return "".join(reversed(out))


def _from_base62(text: str) -> int:
    value = 0
    for ch in text:
        digit = BASE62.find(ch)
        if digit < 0:
            raise ValueError(ch)
        value = value * 62 + digit
    return value


class IdCodec:
    """Maps a dense index to a vendor-looking id and back without storing either.

    The id is ``prefix + base62(affine(index)) + suffix``. The affine map is a bijection on
    ``62**width`` (its multiplier is coprime to 62), so ids are unique, look random, and
    decode in O(1) — 100k users need no id list and no id→index dict.
    """

    def __init__(self, seed: int, prefix: str, *, width: int = 14, suffix: str = "") -> None:
        rng = sub_random(seed, f"id:{prefix}")
        self.prefix = prefix
        self.suffix = suffix
        self._width = width
        self._modulus: int = 62**width
        multiplier = rng.randrange(self._modulus // 62, self._modulus)
        while multiplier % 2 == 0 or multiplier % 31 == 0:
            multiplier += 1
        self._multiplier = multiplier
        self._offset = rng.randrange(self._modulus)
        self._inverse: int = pow(multiplier, -1, self._modulus)

    def encode(self, index: int) -> str:
        scrambled = (index * self._multiplier + self._offset) % self._modulus
        return f"{self.prefix}{_to_base62(scrambled, self._width)}{self.suffix}"

    def decode(self, ident: str) -> int | None:
        """The index ``ident`` was made from, or None when it is not an id of this codec."""
        body_len = len(self.prefix) + self._width + len(self.suffix)
        if len(ident) != body_len or not ident.startswith(self.prefix) or not ident.endswith(self.suffix):
            return None
        try:
            scrambled = _from_base62(ident[len(self.prefix): len(self.prefix) + self._width])
        except ValueError:
            return None
        return ((scrambled - self._offset) * self._inverse) % self._modulus


def iso_timestamp(epoch_seconds: float) -> str:
    """Okta's timestamp style: ``2020-08-27T18:15:57.000Z``."""
    # time.strftime is ~3x faster than datetime here, and a user carries six timestamps.
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(epoch_seconds)))
