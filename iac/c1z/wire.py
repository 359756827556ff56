"""Protobuf wire encoding of the two hot rows, grants and resources, without building message objects.

A sync writes hundreds of thousands of grants; building a ``Grant`` (four nested messages) or a trait's
``Struct`` profile through the protobuf runtime costs 15-60 µs a row in Python, which made the artifact,
not the vendor's rate limit, the bound of large syncs. These functions write the same bytes directly
(proto3 rules: fields in number order, default scalars omitted, oneof members always written, map entries
sorted by key, as ``SerializeToString(deterministic=True)`` does); ``tests/test_c1z.py`` checks them byte
for byte against the generated classes. (One difference: where one profile key is a prefix of another,
Python's upb runtime puts the longer first; this module sorts plain lexicographically, as Go does. Both
decode to the same message.) Everything else goes through the generated classes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "TRAIT_APP",
    "TRAIT_GROUP",
    "TRAIT_ROLE",
    "TRAIT_SECRET",
    "TRAIT_USER",
    "any_message",
    "encode_grant",
    "encode_resource",
    "encode_struct",
    "entitlement_ref",
]

_VARINTS = [bytes([n]) if n < 0x80 else bytes([(n & 0x7F) | 0x80, n >> 7]) for n in range(1 << 14)]
_DOUBLE = struct.Struct("<d")

TRAIT_USER, TRAIT_GROUP, TRAIT_ROLE, TRAIT_APP, TRAIT_SECRET = "user", "group", "role", "app", "secret"
_TYPE_URL = "type.googleapis.com/c1.connector.v2."
# The field number of ``profile`` in each trait message.
_PROFILE_FIELD = {TRAIT_USER: 3, TRAIT_GROUP: 2, TRAIT_ROLE: 1, TRAIT_APP: 4, TRAIT_SECRET: 1}
_TRAIT_URL = {TRAIT_USER: "UserTrait", TRAIT_GROUP: "GroupTrait", TRAIT_ROLE: "RoleTrait", TRAIT_APP: "AppTrait",
              TRAIT_SECRET: "SecretTrait"}


def _varint(n: int) -> bytes:
    if n < 1 << 14:
        return _VARINTS[n]
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_TAGS = [_varint(number << 3 | 2) for number in range(16)]  # length-delimited fields 0-15: one byte each


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field (string, bytes, message), written even when empty."""
    size = len(payload)
    return _TAGS[number] + (_VARINTS[size] if size < 16384 else _varint(size)) + payload


def _string(number: int, text: str) -> bytes:
    """A proto3 string field: omitted when empty."""
    return _field(number, text.encode()) if text else b""


def _value(value: Any) -> bytes:
    """A ``google.protobuf.Value``: exactly one member of its ``kind`` oneof."""
    kind = type(value)
    if kind is str:
        raw: bytes = value.encode()
        size = len(raw)
        return b"\x1a" + (_VARINTS[size] if size < 16384 else _varint(size)) + raw
    if value is None:
        return b"\x08\x00"
    if kind is bool:
        return b"\x20\x01" if value else b"\x20\x00"
    if isinstance(value, int | float):
        return b"\x11" + _DOUBLE.pack(float(value))
    if isinstance(value, str):
        return _field(3, value.encode())
    if isinstance(value, Mapping):
        return _field(5, encode_struct(value))
    if isinstance(value, list | tuple):
        return _field(6, b"".join(_field(1, _value(v)) for v in value))
    raise ValueError(f"cannot store a {type(value).__name__} in a profile")


_KEY_FIELDS: dict[str, bytes] = {}
"""A struct key's encoded field (tag, length, UTF-8): profiles repeat the same few keys on every row."""
_KEY_FIELDS_MAX = 4096


def _key_field(key: str) -> bytes:
    encoded = _KEY_FIELDS.get(key)
    if encoded is None:
        encoded = _field(1, key.encode())  # a map entry writes its key even if empty
        if len(_KEY_FIELDS) < _KEY_FIELDS_MAX:
            _KEY_FIELDS[key] = encoded
    return encoded


def encode_struct(values: Mapping[str, Any]) -> bytes:
    """A ``google.protobuf.Struct`` (a map: entries sorted by key, as deterministic serialization does).

    The hottest loop of a sync (ten entries on each of 100k users): string values, the common case, are
    written inline rather than through :func:`_value` and :func:`_field`."""
    entries = []
    for key in sorted(values):
        value = values[key]
        if type(value) is str:
            raw = value.encode()
            size = len(raw)
            encoded = b"\x1a" + (_VARINTS[size] if size < 16384 else _varint(size)) + raw
        else:
            encoded = _value(value)
        size = len(encoded)
        entry = _key_field(key) + b"\x12" + (_VARINTS[size] if size < 16384 else _varint(size)) + encoded
        size = len(entry)
        entries.append(b"\x0a" + (_VARINTS[size] if size < 16384 else _varint(size)) + entry)
    return b"".join(entries)


def any_message(name: str, payload: bytes) -> bytes:
    """A ``google.protobuf.Any`` holding the ``c1.connector.v2.<name>`` message ``payload``."""
    return _field(1, (_TYPE_URL + name).encode()) + _string_bytes(2, payload)


def _string_bytes(number: int, payload: bytes) -> bytes:
    return _field(number, payload) if payload else b""


def _resource_id(resource_type: str, resource: str) -> bytes:
    return _string(1, resource_type) + _string(2, resource)


def encode_resource(resource_type: str, resource_id: str, display_name: str, *, parent: tuple[str, str] | None = None,
                    trait: str | None = None, profile: Mapping[str, Any] | None = None, status: int | None = None,
                    login: str = "", emails: Sequence[str] = ()) -> bytes:
    """A ``c1.connector.v2.Resource``: the profile goes in the trait (``trait``: ``user`` … ``secret``), or in
    ``Resource.profile`` without one; ``status`` is the enum number (UserTrait.Status for users,
    Resource.status otherwise); login and emails (the first primary) only for users."""
    out = _field(1, _resource_id(resource_type, resource_id))
    if parent is not None:
        out += _field(2, _resource_id(*parent))
    out += _string(3, display_name)
    struct_bytes = encode_struct(profile) if profile else None
    if trait == TRAIT_USER:
        body = b"".join(_field(1, _string(1, e) + (b"\x10\x01" if i == 0 else b"")) for i, e in enumerate(emails))
        if status is not None:
            body += _field(2, b"\x08" + _varint(status) if status else b"")
        if struct_bytes is not None:
            body += _field(3, struct_bytes)
        body += _string(6, login)
        return out + _field(4, any_message(_TRAIT_URL[trait], body))
    if trait is not None:
        body = _field(_PROFILE_FIELD[trait], struct_bytes) if struct_bytes is not None else b""
        out += _field(4, any_message(_TRAIT_URL[trait], body))
    elif struct_bytes is not None:
        out += _field(9, struct_bytes)
    if status is not None:
        out += _field(11, b"\x08" + _varint(status) if status else b"")
    return out


def entitlement_ref(entitlement_id: str, resource_type: str, resource_id: str) -> bytes:
    """Field 1 of a Grant: the entitlement by id and resource (cacheable: every grant of it repeats it)."""
    return _field(1, _field(1, _field(1, _resource_id(resource_type, resource_id))) + _string(2, entitlement_id))


def grant_metadata(metadata: Mapping[str, Any]) -> bytes:
    """The ``GrantMetadata`` annotation of a grant (cacheable: grants often carry the same metadata)."""
    return _field(4, any_message("GrantMetadata", _field(1, encode_struct(metadata))))


def encode_grant(grant_id: str, entitlement: bytes, principal_type: str, principal_id: str, *,
                 expandable: Sequence[str] = (), metadata: Mapping[str, Any] | None = None,
                 encoded_metadata: bytes = b"") -> bytes:
    """A ``c1.connector.v2.Grant``; ``entitlement`` from :func:`entitlement_ref`; ``encoded_metadata`` from
    :func:`grant_metadata`, in place of ``metadata``."""
    out = entitlement + _field(2, _field(1, _resource_id(principal_type, principal_id))) + _string(3, grant_id)
    if expandable:
        out += _field(4, any_message("GrantExpandable", b"".join(_field(1, e.encode()) for e in expandable)))
    if encoded_metadata:
        out += encoded_metadata
    elif metadata:
        out += grant_metadata(metadata)
    return out
