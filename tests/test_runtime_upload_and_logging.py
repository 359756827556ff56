"""Artifact upload (PUT to a configured URL), log redaction and the JSON log format."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import random
from pathlib import Path

import httpx
import pytest

from iac.runtime import RetryPolicy, VirtualClock, configure_logging, redact, register_secret, upload_artifact
from iac.runtime.errors import AuthError


def test_upload_puts_the_file_with_its_checksum_and_retries(tmp_path: Path) -> None:
    artifact = tmp_path / "sync.sqlite"
    payload = random.Random(3).randbytes(1_300_000)  # three 512 KiB chunks
    artifact.write_bytes(payload)
    received: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        received.append(request)
        return httpx.Response(503 if len(received) == 1 else 201)

    status = upload_artifact(artifact, "https://collector.internal/baton/okta.sqlite", sync_id="s1",
                             token="upload-secret", clock=VirtualClock(), transport=httpx.MockTransport(handler))
    assert status == 201 and len(received) == 2
    final = received[-1]
    assert final.method == "PUT" and final.url.path == "/baton/okta.sqlite"
    assert final.content == payload  # the retry streamed the whole file again
    assert final.headers["x-content-sha256"] == hashlib.sha256(payload).hexdigest()
    assert final.headers["x-baton-sync-id"] == "s1"
    assert final.headers["authorization"] == "Bearer upload-secret"


def test_upload_failures_are_reported_as_api_errors(tmp_path: Path) -> None:
    artifact = tmp_path / "a.sqlite"
    artifact.write_bytes(b"x")
    with pytest.raises(AuthError):
        upload_artifact(artifact, "https://collector.internal/a", sync_id="s", clock=VirtualClock(),
                        retry=RetryPolicy(max_attempts=2),
                        transport=httpx.MockTransport(lambda r: httpx.Response(401)))


def test_registered_secrets_and_auth_headers_never_reach_the_log() -> None:
    register_secret("sentinel-registered-secret")
    stream = io.StringIO()
    handler = configure_logging("debug", "json", host_id="pod-1", stream=stream, secrets=["sentinel-two"])
    try:
        log = logging.getLogger("iac.test")
        log.info("token is %s", "sentinel-registered-secret", extra={"sync_id": "abc"})
        log.debug("headers {'Authorization': 'SSWS 00abcdefghijklmnop'} and sentinel-two")
        try:
            raise ValueError("boom sentinel-two")
        except ValueError:
            log.exception("failed")
    finally:
        logging.getLogger("iac").removeHandler(handler)
    text = stream.getvalue()
    assert "sentinel-registered-secret" not in text and "sentinel-two" not in text
    assert "00abcdefghijklmnop" not in text
    lines = [json.loads(line) for line in text.strip().splitlines()]
    assert lines[0]["msg"] == "token is [REDACTED]" and lines[0]["sync_id"] == "abc"
    assert lines[0]["host_id"] == "pod-1" and lines[0]["level"] == "info"
    assert "exc" in lines[2] and "[REDACTED]" in lines[2]["exc"]
    assert redact("Bearer abcdefghijkl") == "Bearer [REDACTED]"
