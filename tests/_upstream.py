"""Run the upstream baton binaries (../shared/bin) against the project's simulators.

The binaries insist on HTTPS vendor hostnames (acme.okta.com, api.integrator.io, …), so a simulator is
served with TLS on port 443 of a random loopback address, the binary trusts our certificate through
``SSL_CERT_FILE``, and it resolves the hostname through a private /etc/hosts bound in a mount namespace
(``unshare --mount``), never touching the machine's. See ../shared/notes/upstream-connectors.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import lzma
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import uvicorn
from starlette.types import ASGIApp

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("IAC_SHARED_DIR") or REPO_ROOT.parent / "shared")
CACHE_DIR = Path(os.environ.get("IAC_CACHE_DIR") or Path.home() / ".cache" / "iac")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upstream_binary(name: str) -> Path:
    """``name`` (``baton``, ``baton-okta`` …) verified against its .sha256 and unpacked into the cache."""
    archive = SHARED_DIR / "bin" / f"{name}-linux-amd64.xz"
    sums = archive.with_name(archive.name + ".sha256")
    if not archive.is_file() or not sums.is_file():
        pytest.fail(f"{archive} (and its .sha256) is missing: the upstream baton binaries are part of the suite")
    lines = [line.split() for line in sums.read_text().splitlines() if line.strip()]
    archive_sum = next(parts[0] for parts in lines if parts[1].endswith(".xz"))
    binary_sum = next(parts[0] for parts in lines if "(decompressed)" in " ".join(parts))
    target = CACHE_DIR / f"{name}-linux-amd64"
    if target.is_file() and _sha256(target) == binary_sum:
        return target
    assert _sha256(archive) == archive_sum, f"{archive}: sha256 mismatch"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    with lzma.open(archive) as src, tmp.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    assert _sha256(tmp) == binary_sum, f"{archive}: the decompressed binary's sha256 does not match"
    tmp.chmod(0o755)
    os.replace(tmp, target)
    return target


def random_loopback() -> str:
    rng = random.SystemRandom()
    return f"127.{rng.randint(1, 254)}.{rng.randint(0, 254)}.{rng.randint(2, 254)}"


def make_certificate(directory: Path, hostnames: Sequence[str]) -> tuple[Path, Path]:
    """A self-signed certificate for ``hostnames``: (certificate, key)."""
    cert, key = directory / "sim.crt", directory / "sim.key"
    san = ",".join(f"DNS:{h}" for h in hostnames)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", f"/CN={hostnames[0]}", "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True)
    return cert, key


@contextlib.contextmanager
def serve_https(app: ASGIApp, cert: Path, key: Path) -> Iterator[str]:
    """Serve ``app`` with TLS on port 443 of a random loopback address; yields that address."""
    for _ in range(20):
        host = random_loopback()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, 443))
        except OSError:
            sock.close()
            continue
        break
    else:
        raise RuntimeError("no free loopback address for port 443")
    sock.listen(256)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", http="h11", ws="none",
                            ssl_certfile=str(cert), ssl_keyfile=str(key), timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the HTTPS simulator did not start")
        time.sleep(0.01)
    try:
        yield host
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def run_upstream(binary: Path, args: Sequence[str], *, hosts: dict[str, str], cert: Path, workdir: Path,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run an upstream binary with ``hosts`` (name → address) as its /etc/hosts and ``cert`` trusted."""
    hosts_file = workdir / "hosts"
    hosts_file.write_text("127.0.0.1 localhost\n" + "".join(f"{ip} {name}\n" for name, ip in hosts.items()))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(workdir), "SSL_CERT_FILE": str(cert)}
    command = ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts_file),
               str(binary), *args]
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
