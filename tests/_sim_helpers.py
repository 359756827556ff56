"""Helpers for the simulator tests: the official vendor specs as openapi-core validators."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from _required import unavailable
from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared specs sit beside the repository (../shared/specs); IAC_SPECS_DIR overrides.
SPECS_DIR = Path(os.environ.get("IAC_SPECS_DIR", REPO_ROOT.parent / "shared" / "specs"))
OKTA_SPEC = SPECS_DIR / "okta-management-2026.06.3.oas3.yaml"
# The spec's server is https://{yourOktaDomain}; requests are validated as if sent there.
OKTA_SPEC_HOST = "https://subdomain.okta.com"


def _scrub(node: Any) -> Any:
    """Drop documentation-only parts that trip reference resolution.

    The Okta spec's examples hold literal ``$ref`` keys that point nowhere (``#/definitions/base``),
    and one schema has a *property* named ``$ref``. Examples never affect validation, so they go;
    a ``$ref`` whose value is not a string is a property name and is renamed. An empty ``content``
    map (a 204) means "no body", which openapi-core reads as "a body of no known type".
    """
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("example", "examples"):
                continue
            if key == "content" and value == {}:  # "no body"; openapi-core would demand one
                continue
            if key == "$ref" and not isinstance(value, str):
                key = "x-property-named-ref"
            out[key] = _scrub(value)
        return out
    if isinstance(node, list):
        return [_scrub(item) for item in node]
    return node


def require_spec(path: Path) -> Path:
    """``path`` if the spec is there; otherwise skip locally, but fail under ``make test`` and CI, where a
    missing spec would mean the conformance tests silently stopped running."""
    if not path.exists():
        unavailable("the vendor's official spec", f"it is not at {path}", "set IAC_SPECS_DIR")
    return path


@functools.cache
def okta_openapi() -> OpenAPI:
    with OKTA_SPEC.open("rb") as fh:
        spec = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    spec = _scrub(spec)
    spec["components"].pop("examples", None)
    # The raw spec is not valid OpenAPI (e.g. a path parameter without `required: true`),
    # so the spec itself is not validated; responses are.
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))  # type: ignore[arg-type]  # None = skip, as app.py handles


def validate_response(openapi: OpenAPI, response: httpx.Response, host_url: str = OKTA_SPEC_HOST) -> None:
    """Raise openapi-core's error when ``response`` (a real HTTP exchange) breaks the spec."""
    request = response.request
    mock_request = MockRequest(host_url, request.method, request.url.path,
                               args=dict(request.url.params), headers=dict(request.headers),
                               data=request.content or None,
                               content_type=request.headers.get("content-type", "application/json"))
    mock_response = MockResponse(response.content, status_code=response.status_code,
                                 headers=dict(response.headers),
                                 content_type=response.headers.get("content-type", "application/json"))
    openapi.validate_response(mock_request, mock_response)


@dataclass
class SimProcess:
    """A running `iac sim`: read its printed lines with :meth:`line`; ``stderr`` is filled when it has ended."""

    proc: subprocess.Popen[str]
    stderr: str = ""

    def line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()


@contextmanager
def iac_sim(vendor: str, *args: str, env: Mapping[str, str] | None = None) -> Iterator[SimProcess]:
    """`iac sim VENDOR --port 0 ARGS` in a subprocess, as a user starts it. Leaving the block normally interrupts
    it with Ctrl-C and asserts a clean exit; in any case the process is gone afterwards and ``stderr`` holds what
    it printed there."""
    proc = subprocess.Popen([sys.executable, "-m", "iac", "sim", vendor, "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sim = SimProcess(proc)
    try:
        yield sim
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        _, sim.stderr = proc.communicate(timeout=10)
