"""Optional hand-off of each finished artifact: ``PUT`` to a configured HTTP URL (``BATON_UPLOAD_URL``).

The ConductorOne control plane (gRPC ``BatonService.UploadAsset``) cannot be reached offline, so the
runtime keeps the artifact on the data volume and, when configured, streams it to any HTTP endpoint
(an object store's pre-signed URL, an internal collector). Retries come from :class:`HttpClient`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx

from iac.runtime._clock import Clock
from iac.runtime._http import HttpClient, HttpObserver, RetryPolicy

__all__ = ["upload_artifact"]

log = logging.getLogger(__name__)
_CHUNK = 512 * 1024


class _FileBody:
    """A re-iterable file body: each retry streams the file again, in 512 KiB chunks."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __iter__(self) -> Iterator[bytes]:
        with self.path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                yield chunk


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in _FileBody(path):
        digest.update(chunk)
    return digest.hexdigest()


def upload_artifact(path: Path, url: str, *, sync_id: str, token: str | None = None, timeout: float = 300.0,
                    clock: Clock | None = None, observer: HttpObserver | None = None,
                    retry: RetryPolicy | None = None, transport: httpx.BaseTransport | None = None) -> int:
    """PUT ``path`` to ``url``; returns the response status. Raises an ApiError when it keeps failing."""
    headers = {"Content-Type": "application/octet-stream", "X-Baton-Sync-Id": sync_id,
               "X-Content-SHA256": _sha256(path), "Content-Length": str(path.stat().st_size)}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with HttpClient(url, clock=clock, observer=observer, retry=retry, timeout=timeout, transport=transport) as http:
        response = http.request("PUT", url, content=_FileBody(path), headers=headers,
                                replayable=True)  # the same artifact under the same sync id
    log.info("uploaded the artifact of sync %s (%d bytes): HTTP %d", sync_id, path.stat().st_size,
             response.status_code)
    return response.status_code
