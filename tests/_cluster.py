"""A real, throwaway Kubernetes API server for tests: Debian's etcd plus kube-apiserver v1.20.2.

``tests/conftest.py`` re-exports the fixture::

    from _cluster import kube_cluster  # noqa: F401  (session fixture: real kube-apiserver)

The apiserver binary comes from ``scripts/kube-apiserver.sh`` (cache, shared archive, or a build from
Debian's source package); etcd and openssl from ``scripts/install-test-deps.sh``. ``make test`` runs both.
When something is missing the fixture skips locally but fails under ``IAC_REQUIRE_CLUSTER=1`` (``make test``
and CI; see _required.py), so CI can never go green without the real server.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NoReturn

import httpx
import pytest
import yaml
from _required import unavailable
from lightkube import Client
from lightkube.config.kubeconfig import KubeConfig

__all__ = ["KubeCluster", "kube_cluster", "start_cluster"]

REPO_ROOT = Path(__file__).resolve().parent.parent
APISERVER_VERSION = "v1.20.2"
CONTEXT = "iac-test"
USERS = ("admin", "deployer", "nobody")  # admin is in system:masters; the others start with no RBAC at all
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


@dataclass
class KubeCluster:
    """A running etcd + kube-apiserver pair. ``kubeconfig`` is the admin's, context ``iac-test``."""

    server: str
    kubeconfig: Path
    ca_file: Path
    tokens: dict[str, str]
    workdir: Path
    startup_seconds: float
    pids: dict[str, int] = field(default_factory=dict)
    """etcd and kube-apiserver process ids (benchmarks read their CPU time)."""
    _clients: list[Client] = field(default_factory=list, repr=False)

    def kubeconfig_for(self, user: str) -> Path:
        """Write (once) and return a kubeconfig that authenticates as ``user`` (admin, deployer, nobody)."""
        if user not in self.tokens:
            raise KeyError(f"unknown test user {user!r}; known: {', '.join(self.tokens)}")
        path = self.workdir / f"kubeconfig-{user}.yaml"
        if not path.exists():
            path.write_text(yaml.safe_dump(_kubeconfig_dict(self.server, self.ca_file, user, self.tokens[user])))
            path.chmod(0o600)
        return path

    def client(self, user: str = "admin", *, namespace: str | None = None,
               field_manager: str | None = None) -> Client:
        """A lightkube client for ``user`` against this server; closed when the cluster stops."""
        config = KubeConfig.from_file(self.kubeconfig_for(user))
        return self.closing(Client(config=config, namespace=namespace, field_manager=field_manager,
                                   trust_env=False))

    def closing(self, client: Client) -> Client:
        """Keep ``client`` until teardown, then close it: a client dropped mid-session would leak
        sockets as ResourceWarnings, which this suite turns into errors."""
        self._clients.append(client)
        return client

    def close_clients(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


def _unavailable(reason: str) -> NoReturn:
    unavailable("the real kube-apiserver", reason,
                "run `make test` (it runs scripts/install-test-deps.sh and scripts/kube-apiserver.sh)")


def _find_apiserver() -> Path | None:
    """An explicit path, the cache, or the shared archive (cheap: ~2 s to unpack). Never builds here."""
    explicit = os.environ.get("IAC_KUBE_APISERVER")
    if explicit:
        return Path(explicit) if os.access(explicit, os.X_OK) else None
    cache_dir = Path(os.environ.get("IAC_CACHE_DIR") or Path.home() / ".cache" / "iac")
    cached = cache_dir / f"kube-apiserver-{APISERVER_VERSION}"
    script = REPO_ROOT / "scripts" / "kube-apiserver.sh"
    shared_dir = Path(os.environ.get("IAC_SHARED_DIR") or REPO_ROOT.parent / "shared")
    archive_present = any((d / f"kube-apiserver-{APISERVER_VERSION}-linux-amd64.xz").is_file()
                          for d in (shared_dir / "bin", shared_dir))
    if not (cached.is_file() or archive_present) or not script.is_file():
        return None
    # The script verifies checksums; it only builds from source when neither cache nor archive is usable,
    # which we rule out above because a 5-minute build does not belong in a fixture.
    result = subprocess.run([str(script)], capture_output=True, text=True, check=False, timeout=120)
    if result.returncode != 0:
        return None
    path = Path(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else None
    return path if path and os.access(path, os.X_OK) else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _kubeconfig_dict(server: str, ca_file: Path, user: str, token: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user}}],
        "current-context": CONTEXT,
    }


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a grace period; only ever the PID we started."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)


def _wait_ready(server: str, token: str, procs: dict[str, subprocess.Popen[bytes]], logs: dict[str, Path],
                deadline: float) -> None:
    last = "no answer yet"
    # verify=False only for the readiness probe: the serving cert appears in --cert-dir while starting.
    with httpx.Client(verify=False, timeout=2.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} during startup\n"
                                       f"--- {name} log ---\n{_tail(logs[name])}")
            try:
                response = http.get(f"{server}/readyz", headers={"Authorization": f"Bearer {token}"})
                if response.status_code == 200:
                    return
                last = f"/readyz {response.status_code}: {response.text[-300:]}"
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.2)
    raise RuntimeError(f"kube-apiserver not ready after {STARTUP_TIMEOUT_S:.0f}s ({last})\n"
                       + "\n".join(f"--- {n} log ---\n{_tail(p)}" for n, p in logs.items()))


def _tmp_parent() -> str | None:
    """etcd fsyncs every write; tmpfs keeps a few hundred applies fast. Falls back to the default tmp dir."""
    override = os.environ.get("IAC_CLUSTER_TMPDIR")
    if override:
        return override
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@contextlib.contextmanager
def start_cluster(apiserver: Path, etcd: str, openssl: str) -> Iterator[KubeCluster]:
    """Start etcd and kube-apiserver on free loopback ports; stop both and remove all state on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="iac-kube-", dir=_tmp_parent()))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    log_files: list[IO[bytes]] = []
    logs = {"etcd": workdir / "etcd.log", "kube-apiserver": workdir / "kube-apiserver.log"}
    started = time.monotonic()
    try:
        tokens = {user: secrets.token_hex(16) for user in USERS}
        groups = {"admin": "system:masters"}
        token_file = workdir / "tokens.csv"
        token_file.write_text("".join(f'{tok},{user},{user}-uid,"{groups.get(user, "")}"\n'
                                      for user, tok in tokens.items()))
        token_file.chmod(0o600)
        sa_key = workdir / "sa.key"
        subprocess.run([openssl, "genrsa", "-out", str(sa_key), "2048"], check=True, capture_output=True)

        client_port, peer_port = _free_port(), _free_port()
        etcd_url, peer_url = f"http://127.0.0.1:{client_port}", f"http://127.0.0.1:{peer_port}"
        etcd_log = logs["etcd"].open("wb")
        log_files.append(etcd_log)
        procs["etcd"] = subprocess.Popen(
            [etcd, "--name", "iac-test", "--data-dir", str(workdir / "etcd"),
             "--listen-client-urls", etcd_url, "--advertise-client-urls", etcd_url,
             "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
             "--initial-cluster", f"iac-test={peer_url}", "--log-level", "warn"],
            stdout=etcd_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        secure_port = _free_port()
        server = f"https://127.0.0.1:{secure_port}"
        cert_dir = workdir / "certs"
        api_log = logs["kube-apiserver"].open("wb")
        log_files.append(api_log)
        procs["kube-apiserver"] = subprocess.Popen(
            [str(apiserver), f"--etcd-servers={etcd_url}",
             "--bind-address=127.0.0.1", f"--secure-port={secure_port}", "--insecure-port=0",
             f"--cert-dir={cert_dir}", f"--token-auth-file={token_file}",
             "--authorization-mode=RBAC",
             "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
             f"--service-account-key-file={sa_key}", f"--service-account-signing-key-file={sa_key}",
             "--service-cluster-ip-range=10.96.0.0/24", "--profiling=false", "--v=1"],
            stdout=api_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        _wait_ready(server, tokens["admin"], procs, logs, started + STARTUP_TIMEOUT_S)
        # --cert-dir holds a self-signed serving cert for 127.0.0.1 (with its CA in the same file).
        ca_file = cert_dir / "apiserver.crt"
        cluster = KubeCluster(server=server, kubeconfig=workdir / "kubeconfig-admin.yaml", ca_file=ca_file,
                              tokens=tokens, workdir=workdir, startup_seconds=time.monotonic() - started,
                              pids={name: proc.pid for name, proc in procs.items()})
        cluster.kubeconfig_for("admin")
        try:
            yield cluster
        finally:
            cluster.close_clients()
    finally:
        for name in ("kube-apiserver", "etcd"):
            if name in procs:
                _stop(procs[name])
        for f in log_files:
            f.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[KubeCluster]:
    """A real kube-apiserver v1.20.2 for the whole session (admin kubeconfig, context ``iac-test``)."""
    etcd = shutil.which("etcd") or ("/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None)
    openssl = shutil.which("openssl")
    if etcd is None or openssl is None:
        _unavailable("etcd or openssl is not installed (scripts/install-test-deps.sh)")
    apiserver = _find_apiserver()
    if apiserver is None:
        _unavailable(f"no kube-apiserver {APISERVER_VERSION} binary (scripts/kube-apiserver.sh)")
    try:
        with start_cluster(apiserver, etcd, openssl) as cluster:
            yield cluster
    except RuntimeError as exc:
        # Startup failures carry the log tails; show them instead of a bare traceback.
        pytest.fail(f"could not start the test cluster: {exc}", pytrace=False)
