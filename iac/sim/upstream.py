"""Run ConductorOne's own baton connectors (the anchors) against the simulators, for parity tests and benchmarks.

    with vendor_endpoint(sim.app, "acme.okta.com", workdir) as endpoint:
        result = run_upstream("baton-okta", ["--domain", "acme.okta.com", "-f", "out.c1z"],
                              endpoint=endpoint, env={"BATON_API_TOKEN": sim.token})

The binaries come from ``../shared/bin/<name>-linux-amd64.xz`` (``IAC_SHARED_DIR`` overrides ``../shared``):
the archive and the decompressed binary are checked against the ``.sha256`` file beside it and the binary is
cached in ``${IAC_CACHE_DIR:-~/.cache/iac}`` (as ``scripts/kube-apiserver.sh`` does for kube-apiserver).

The anchors talk HTTPS to the vendor's hostname only, so the simulator serves TLS on port 443 of a random
127.x.y.z address (several runs by different people can share the machine) with a fresh certificate, and the
binary runs in a private mount namespace (``unshare --mount``) where ``/etc/hosts`` maps the hostname to that
address; it trusts the certificate through ``SSL_CERT_FILE``. The machine's ``/etc/hosts`` is never touched.
Needs root (port 443 and the mount namespace), as the test suite has.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import lzma
import os
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from iac.errors import IacError
from iac.sim._server import serve
from iac.sim._tls import TlsFiles, make_certificate

__all__ = ["UpstreamError", "UpstreamRun", "VendorEndpoint", "error_log_lines", "random_loopback_address",
           "run_upstream", "shared_dir", "upstream_binary", "vendor_endpoint", "wait_with_peak_rss"]

_REPO_ROOT = Path(__file__).resolve().parents[2]
# Run the binary with /etc/hosts replaced inside its own mount namespace; "$0" is the hosts file.
_PRIVATE_HOSTS = 'mount --bind "$0" /etc/hosts && exec "$@"'


class UpstreamError(IacError):
    """An upstream binary that cannot be found, verified or started."""


def shared_dir() -> Path:
    """``$IAC_SHARED_DIR``, else ``../shared`` beside the repository."""
    return Path(os.environ.get("IAC_SHARED_DIR") or _REPO_ROOT.parent / "shared")


def _cache_dir() -> Path:
    return Path(os.environ.get("IAC_CACHE_DIR") or Path.home() / ".cache" / "iac")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_sums(sums_file: Path, archive_name: str) -> tuple[str, str]:
    """(archive sha256, binary sha256) from lines ``<hex>  <archive>`` and ``<hex>  <name> (decompressed)``."""
    archive = binary = ""
    for line in sums_file.read_text().splitlines():
        digest, _, label = line.partition("  ")
        if label.strip() == archive_name:
            archive = digest.strip()
        elif label.strip().endswith("(decompressed)"):
            binary = digest.strip()
    if not archive or not binary:
        raise UpstreamError(f"{sums_file} does not list both the archive and the decompressed binary")
    return archive, binary


def upstream_binary(name: str) -> Path:
    """The verified, executable upstream binary ``name`` (``baton-okta``, ``baton-coupa``, ``baton-celigo``,
    ``baton``), decompressed into the cache on first use."""
    archive = shared_dir() / "bin" / f"{name}-linux-amd64.xz"
    sums_file = archive.with_name(archive.name + ".sha256")
    if not archive.exists() or not sums_file.exists():
        raise UpstreamError(f"upstream binary {name}: {archive} (and its .sha256) not found; set IAC_SHARED_DIR")
    archive_sum, binary_sum = _expected_sums(sums_file, archive.name)
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    cached = cache / f"{name}-{binary_sum[:16]}"
    if cached.exists() and os.access(cached, os.X_OK):
        return cached  # named by its sha256 and only ever renamed into place complete and verified
    with (cache / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be unpacking the same binary
        if cached.exists():
            return cached
        if _sha256(archive) != archive_sum:
            raise UpstreamError(f"{archive}: sha256 does not match {sums_file.name}")
        fd, tmp_name = tempfile.mkstemp(dir=cache, prefix=f".{name}.")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, lzma.open(archive) as src:
                shutil.copyfileobj(src, out, 1 << 20)
            if _sha256(tmp) != binary_sum:
                raise UpstreamError(f"{archive}: the decompressed binary's sha256 does not match {sums_file.name}")
            tmp.chmod(0o755)
            tmp.replace(cached)
        finally:
            tmp.unlink(missing_ok=True)
    return cached


def random_loopback_address(rng: random.Random | None = None) -> str:
    """A random address in 127.0.0.0/8, never 127.0.0.x (where the usual services live)."""
    rng = rng or random.SystemRandom()
    return f"127.{rng.randrange(1, 255)}.{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"


@dataclass(frozen=True)
class VendorEndpoint:
    """A simulator served over HTTPS as ``hostname`` on ``address:443``; ``tls.certificate`` is its CA."""

    hostname: str
    address: str
    tls: TlsFiles

    @property
    def base_url(self) -> str:
        return f"https://{self.hostname}"


@contextlib.contextmanager
def vendor_endpoint(app: ASGIApp, hostname: str, workdir: Path, *, attempts: int = 20) -> Iterator[VendorEndpoint]:
    """Serve ``app`` over HTTPS for ``hostname`` on port 443 of a random loopback address (retrying another
    address when one is taken) until the block exits."""
    tls = make_certificate(hostname, workdir / "tls")
    for attempt in range(attempts):
        address = random_loopback_address()
        try:
            server = serve(app, host=address, port=443, tls=tls)
            server.__enter__()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and attempt + 1 < attempts:
                continue
            raise UpstreamError(f"cannot serve {hostname} on {address}:443: {exc.strerror or exc}") from exc
        try:
            yield VendorEndpoint(hostname, address, tls)
        finally:
            server.__exit__(None, None, None)
        return


@dataclass
class UpstreamRun:
    """What one run of an upstream binary did."""

    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    peak_rss_bytes: int
    command: list[str] = field(default_factory=list)

    def error_lines(self) -> list[str]:
        """The error lines, less baton-sdk's shutdown race after a run that succeeded: the SDK runs the
        connector as a child under a context it cancels on the way out (SIGKILL), and a goroutine waiting on
        that child may log "connector service quit unexpectedly ... signal: killed" before the process exits 0."""
        lines = error_log_lines(self.stderr + "\n" + self.stdout)
        if self.returncode == 0:
            lines = [line for line in lines if not _shutdown_race(line)]
        return lines


def _shutdown_race(line: str) -> bool:
    return "connector service quit unexpectedly" in line and "signal: killed" in line


def error_log_lines(output: str) -> list[str]:
    """The log lines at error level or above (baton logs JSON lines, or console lines with ``ERROR``)."""
    found = []
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        level = ""
        if line.startswith("{"):
            try:
                level = str(json.loads(line).get("level", ""))
            except ValueError:
                level = ""
        else:
            words = line.split()
            level = next((w for w in words[:3] if w.upper() in {"ERROR", "FATAL", "PANIC"}), "")
        if level.lower() in {"error", "fatal", "panic", "dpanic"}:
            found.append(line)
    return found


def run_upstream(binary: str | Path, args: Sequence[str], *, endpoints: Sequence[VendorEndpoint],
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 timeout: float = 600.0) -> UpstreamRun:
    """Run an upstream binary (a name for :func:`upstream_binary`, or a path) with ``args``; each of
    ``endpoints`` resolves to its address and its certificate is trusted. Secrets go in ``env``, never
    in ``args``. Only ``PATH``, ``HOME``, ``TMPDIR`` and ``env`` reach the binary."""
    path = Path(binary) if isinstance(binary, Path) else upstream_binary(binary)
    if not endpoints:
        raise UpstreamError("run_upstream needs at least one vendor endpoint")
    unshare = shutil.which("unshare")
    if unshare is None:
        raise UpstreamError("unshare (util-linux) is needed to give the upstream binary a private /etc/hosts")
    with tempfile.TemporaryDirectory(prefix="iac-upstream-") as scratch:
        hosts = Path(scratch) / "hosts"
        hosts.write_text("127.0.0.1 localhost\n" + "".join(f"{e.address} {e.hostname}\n" for e in endpoints))
        bundle = Path(scratch) / "ca.pem"
        bundle.write_bytes(b"".join(e.tls.certificate.read_bytes() for e in endpoints))
        child_env = {key: os.environ[key] for key in ("PATH", "HOME", "TMPDIR") if key in os.environ}
        child_env |= {"SSL_CERT_FILE": str(bundle), **(env or {})}
        command = [unshare, "--mount", "--propagation", "private", "sh", "-c", _PRIVATE_HOSTS, str(hosts),
                   str(path), *args]
        started = time.perf_counter()
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(command, stdout=out, stderr=err, env=child_env, cwd=cwd)
            try:
                returncode, rss_kib = wait_with_peak_rss(process, timeout)
            except UpstreamError as exc:  # say what it was waiting for (e.g. the SDK's 60 s retry after a 429)
                err.seek(0)
                last = [line for line in err.read().decode("utf-8", "replace").splitlines() if line.strip()][-1:]
                raise UpstreamError(f"{path.name}: {exc}; its last log line: {last[0][:500] if last else '(none)'}"
                                    ) from None
            wall = time.perf_counter() - started
            out.seek(0)
            err.seek(0)
            return UpstreamRun(returncode, out.read().decode("utf-8", "replace"),
                               err.read().decode("utf-8", "replace"), wall, rss_kib * 1024, command)


def _high_water_kib(pid: int) -> int:
    """``VmHWM`` of ``pid`` (the peak RSS of its current program image, reset by exec), or 0."""
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def wait_with_peak_rss(process: subprocess.Popen[Any], timeout: float) -> tuple[int, int]:
    """Wait for ``process`` (killing it after ``timeout``); its exit code and peak RSS in KiB.

    The peak is read from ``/proc/<pid>/status`` while it runs (every 20 ms; the high-water mark only grows),
    not from ``wait4``: a child started by vfork+exec inherits its parent's peak in ``ru_maxrss``, and the
    parent here holds a whole simulated org."""
    deadline = time.monotonic() + timeout
    peak = 0
    while True:
        peak = max(peak, _high_water_kib(process.pid))
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode, peak or usage.ru_maxrss
        if time.monotonic() > deadline:
            process.kill()
            _, status, _ = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            raise UpstreamError(f"the process did not exit within {timeout:.0f} s (killed)")
        time.sleep(0.02)
