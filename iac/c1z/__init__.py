"""c1z, baton's sync artifact format: read any baton connector's files, write ours.

A c1z v1 is ``C1ZF\\x00`` followed by one zstd frame of a SQLite database whose ``v1_*`` tables hold
``c1.connector.v2`` protobuf messages (``iac.c1z.pb``: generated from the .proto files in ``_pb/``, which
carry baton-sdk's message names and field numbers). A c1z v3 (``C1Z3``, a Pebble store) is refused.

This package is a format library beside :mod:`iac.runtime`: it imports nothing from the CLI or the backends.
"""

from __future__ import annotations

from iac.c1z import pb
from iac.c1z._reader import (
    C1Z_V1_MAGIC,
    C1Z_V3_MAGIC,
    SDK_GRANT_INDEXES,
    C1zError,
    C1zReader,
    SyncRunInfo,
    decompress_c1z,
    open_c1z,
    parse_c1z_time,
    sniff,
)

__all__ = [
    "C1Z_V1_MAGIC",
    "C1Z_V3_MAGIC",
    "SDK_GRANT_INDEXES",
    "C1zError",
    "C1zReader",
    "SyncRunInfo",
    "decompress_c1z",
    "open_c1z",
    "parse_c1z_time",
    "pb",
    "sniff",
]
