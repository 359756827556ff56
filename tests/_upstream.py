"""The upstream-binary helpers of the c1z and review tests, on the project's test kit (:mod:`iac.sim.upstream`):
verified binaries from ../shared/bin, simulators served over HTTPS on port 443 of a random loopback address,
and a private /etc/hosts (``unshare --mount``), never the machine's. See ../shared/notes/upstream-connectors.md.
"""

from __future__ import annotations

import contextlib
import errno
import json
import random
import re
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from starlette.types import ASGIApp

from iac.sim import serve
from iac.sim._tls import TlsFiles
from iac.sim._tls import make_certificate as _make_certificate
from iac.sim.upstream import UpstreamError, VendorEndpoint, random_loopback_address
from iac.sim.upstream import run_upstream as _run_upstream
from iac.sim.upstream import upstream_binary as _upstream_binary

REPO_ROOT = Path(__file__).resolve().parent.parent


def upstream_binary(name: str) -> Path:
    """``name`` (``baton``, ``baton-okta`` …) verified against its .sha256 and unpacked into the cache."""
    try:
        return _upstream_binary(name)
    except UpstreamError as exc:  # the binaries are part of the suite: missing is a failure, never a skip
        pytest.fail(str(exc))


def make_certificate(directory: Path, hostnames: Sequence[str]) -> tuple[Path, Path]:
    """A self-signed certificate for ``hostnames``: (certificate, key)."""
    tls = _make_certificate(hostnames[0], directory, also=hostnames[1:])
    return tls.certificate, tls.key


@contextlib.contextmanager
def serve_https(app: ASGIApp, cert: Path, key: Path) -> Iterator[str]:
    """Serve ``app`` with TLS on port 443 of a random loopback address; yields that address."""
    rng = random.SystemRandom()
    for attempt in range(20):
        host = random_loopback_address(rng)
        try:
            server = serve(app, host=host, port=443, tls=TlsFiles(cert, key, host))
            server.__enter__()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and attempt < 19:
                continue
            raise
        try:
            yield host
        finally:
            server.__exit__(None, None, None)
        return


def run_upstream(binary: Path, args: Sequence[str], *, hosts: dict[str, str], cert: Path, workdir: Path,
                 env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run an upstream binary with ``hosts`` (name → address) as its /etc/hosts and ``cert`` trusted.
    Credentials go in ``env`` (BATON_* variables), never in ``args``."""
    endpoints = [VendorEndpoint(name, address, TlsFiles(cert, cert, name)) for name, address in hosts.items()]
    run = _run_upstream(binary, args, endpoints=endpoints, env={"HOME": str(workdir), **(env or {})}, cwd=workdir,
                        timeout=timeout)
    return subprocess.CompletedProcess(run.command, run.returncode, run.stdout, run.stderr)


def baton(c1z: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(upstream_binary("baton")), "-f", str(c1z), *args], capture_output=True, text=True,
                          timeout=120)


def baton_json(c1z: Path, *args: str) -> dict[str, list[dict[str, object]]]:
    result = baton(c1z, *args, "-o", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    parsed: dict[str, list[dict[str, object]]] = json.loads(result.stdout)
    return parsed


def baton_stats(c1z: Path) -> dict[str, int]:
    """`baton stats` prints a console table even with -o json: ``name | count`` rows."""
    result = baton(c1z, "stats")
    assert result.returncode == 0, result.stderr[-2000:]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    rows = (line.split("|") for line in plain.splitlines() if "|" in line)
    return {name.strip(): int(count) for name, count in rows if count.strip().isdigit()}
