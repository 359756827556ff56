"""A one-node Kubernetes v1.20.2 cluster where pods really run: etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, containerd and kubelet, all inside a network namespace this module creates.

Which fixture to use: ``kube_cluster`` (``_cluster.py``, apiserver only, ~4 s) is enough for anything that
only reads and writes API objects; ``node_cluster`` (this module, ~20 s, once per session) is for tests that
need Deployments to roll out, pods to run, probes to be probed and the kubelet to enforce what the manifests
declare. Both start lazily: only when a collected test asks for them.

Use it from a test module::

    from _node import NodeCluster, node_cluster, node_runtime_image  # noqa: F401  (session fixtures)

    def test_pods(node_cluster: NodeCluster, node_runtime_image: str) -> None:
        client = node_cluster.client()                 # lightkube, admin (also "deployer", "nobody")
        node_cluster.kubeconfig                        # admin kubeconfig for `iac up --kubeconfig ...`
        with node_cluster.serve(app) as base_url:      # an ASGI app (a simulator) pods can reach
            ...
        host, port = node_cluster.forward(pod_ip, 8081)  # a loopback relay to an address in the namespace
        node_cluster.container_pid("ns", "pod-name")   # host PID of a running container: read /proc/PID/...
        node_cluster.load_image(archive)               # an OCI archive (podman save --format oci-archive)
        node_cluster.load_podman_image("localhost/x:1")  # podman save + import, no registry

``simulated_stack(node, directory)`` serves a simulator per connector of a stack (the example by default) inside
the namespace and writes that stack with each ``base_url_override`` pointed at its simulator.
``node_runtime_image`` builds the runtime image (scripts/build-image.sh) and loads it into the node;
pods use it as ``imagePullPolicy: IfNotPresent`` (no registry exists). ``start_node_cluster(...)`` is the
context manager behind the fixture, for scripts (``scripts/demo-cluster.py``) and benchmarks.

The network rule of these machines: test traffic goes only to loopback or into namespaces the run creates.
So the node IP, the bridge, the pod CIDR and whatever pods must reach live in the namespace; the tests reach
the apiserver (and any pod or simulator port, through ``forward``) over a relay on a random 127.x.y.z
address. No address is ever added to the machine's own interfaces.

Host side effects, all undone at teardown: the kubelet sets ``vm.overcommit_memory``, ``kernel.panic`` and
``kernel.panic_on_oops`` (saved before the first of any concurrent sessions starts a kubelet, restored when the
last one stops: ``/run/iac-node/sysctls.json`` under a lock); pod cgroups live under a private ``cgroupRoot`` (removed);
containerd's pod network namespaces ``/run/netns/cni-*`` (unmounted and removed); ``/var/log/pods`` and
``/var/log/containers`` entries of our pods (removed). Everything else (containerd root/state/socket, kubelet
root, CNI IPAM state) lives in the work directory. Processes are stopped by PID, pods' tasks first.

Missing pieces skip locally but fail under ``IAC_REQUIRE_CLUSTER=1`` (``make test``, CI): ``_required.py``.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import random
import secrets
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import httpx
import pytest
import yaml
from _cluster import USERS, KubeCluster, _kubeconfig_dict, _stop, _tail, _tmp_parent
from _image import BUILD_SECONDS, build_runtime_image
from _required import unavailable

__all__ = ["NODE_FIGURES", "NodeCluster", "SimulatedStack", "node_cluster", "node_runtime_image", "simulated_stack",
           "start_node_cluster"]

REPO_ROOT = Path(__file__).resolve().parent.parent
KUBE_VERSION = "v1.20.2"
COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")
NODE_NAME = "iac-node"
# Inside the namespace only. The bridge's address is also the node IP: pods reach it (the simulators listen
# there) without any route beyond their own subnet, and the kubelet gets the non-loopback IP it insists on.
POD_SUBNET = "10.244.0.0/24"
NODE_IP = "10.244.0.1"
BRIDGE = "iacbr0"
SERVICE_RANGE = "10.96.0.0/24"
APISERVER_PORT = 6443
PAUSE_IMAGE = "localhost/iac-pause:3.4"
CNI_BIN_DIR = Path("/usr/lib/cni")
KUBELET_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops")
SYSCTL_STATE = Path("/run/iac-node/sysctls.json")  # shared by concurrent sessions (see _sysctl_registry)
STARTUP_TIMEOUT_S = 90.0
CLONE_NEWNET = 0x40000000
KUBELET_DEVICE_PLUGINS = Path("/var/lib/kubelet/device-plugins")  # a constant in kubelet 1.20, not --root-dir
HOST_DIRS = (KUBELET_DEVICE_PLUGINS.parent, Path("/var/log/pods"), Path("/var/log/containers"))
NODE_FIGURES: list[str] = []
"""Start-up time and peak memory of the session's node, printed in the terminal summary (conftest)."""

T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


def _unavailable(reason: str) -> NoReturn:
    unavailable("the one-node cluster", reason,
                "run `make test` (scripts/install-test-deps.sh, scripts/kube-binary.sh, scripts/pause-image.sh)")


def _enter_netns(path: Path) -> None:
    """Move the calling thread (only it) into the network namespace at ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({path}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def in_netns(path: Path, fn: Callable[[], T]) -> T:
    """Run ``fn`` on a fresh thread inside the namespace: sockets it creates belong to the namespace."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            _enter_netns(path)
            result.append(fn())
        except BaseException as exc:  # re-raised on the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="iac-node-netns")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def _random_loopback() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


class Relay:
    """A TCP relay from a random loopback address on the host to ``host:port`` inside a namespace.

    The accepting thread enters the namespace, so every upstream connection it opens is made there."""

    def __init__(self, netns: Path, host: str, port: int, *, listen_host: str | None = None) -> None:
        self.target = (host, port)
        self.listener = socket.create_server((listen_host or _random_loopback(), 0))
        self.listener.settimeout(0.2)
        self.address: tuple[str, int] = self.listener.getsockname()[:2]
        self._stopping = threading.Event()
        self._netns = netns
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name=f"iac-relay-{port}")
        self._thread.start()

    def _accept_loop(self) -> None:
        _enter_netns(self._netns)
        while not self._stopping.is_set():
            try:
                downstream, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                downstream.close()
                continue
            upstream.settimeout(None)
            downstream.settimeout(None)
            with self._lock:
                self._open.update((downstream, upstream))
            threading.Thread(target=self._pump, args=(downstream, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while peers and not self._stopping.is_set():
                readable, _, _ = select.select(list(peers), [], [], 0.5)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:  # half-close: pass it on, keep the other direction open
                        with contextlib.suppress(OSError):
                            peers[sock].shutdown(socket.SHUT_WR)
                        del peers[sock]
                        continue
                    peers[sock].sendall(data)
        except OSError:
            pass
        finally:
            for sock in (a, b):
                sock.close()
                with self._lock:
                    self._open.discard(sock)

    def close(self) -> None:
        self._stopping.set()
        self.listener.close()
        self._thread.join(timeout=2)
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.close()
            self._open.clear()


@dataclass
class NodeCluster(KubeCluster):
    """A running one-node cluster. ``server`` is the loopback relay to the apiserver; ``kubeconfig`` the
    admin's (context ``iac-test``); ``kubeconfig_for``/``client`` as for ``KubeCluster``."""

    netns: str = ""
    node_name: str = NODE_NAME
    node_ip: str = NODE_IP
    containerd_socket: Path = Path()
    images: set[str] = field(default_factory=set)
    """Image references loaded into the node's containerd."""
    _relays: list[Relay] = field(default_factory=list, repr=False)
    _servers: list[contextlib.ExitStack] = field(default_factory=list, repr=False)

    @property
    def netns_path(self) -> Path:
        return Path("/run/netns") / self.netns

    def netns_command(self, args: list[str]) -> list[str]:
        """``args`` prefixed to run inside the node's network namespace (only the network is changed)."""
        return ["nsenter", f"--net={self.netns_path}", "--", *args]

    def in_netns(self, fn: Callable[[], T]) -> T:
        return in_netns(self.netns_path, fn)

    def forward(self, host: str, port: int) -> tuple[str, int]:
        """A loopback (host, port) that relays to ``host:port`` inside the namespace (a pod IP, the node IP);
        closed at teardown."""
        relay = Relay(self.netns_path, host, port)
        self._relays.append(relay)
        return relay.address

    @contextlib.contextmanager
    def serve(self, app: Any) -> Iterator[str]:
        """Serve an ASGI app (a simulator) inside the namespace; yields the base URL pods use
        (``http://<node IP>:<port>``)."""
        from iac.sim import serve

        stack = contextlib.ExitStack()
        url = self.in_netns(lambda: stack.enter_context(serve(app, host="0.0.0.0")))
        self._servers.append(stack)
        try:
            yield url.replace("0.0.0.0", self.node_ip)
        finally:
            stack.close()
            self._servers.remove(stack)

    def ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``ctr`` against the node's containerd, in the kubelet's namespace (k8s.io)."""
        return subprocess.run(["ctr", "--address", str(self.containerd_socket), "--namespace", "k8s.io", *args],
                              capture_output=True, text=True, check=check, timeout=timeout)

    def load_image(self, archive: Path) -> None:
        """Import an OCI archive (its ``org.opencontainers.image.ref.name`` becomes the image name)."""
        result = self.ctr("images", "import", str(archive), check=False, timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"ctr images import {archive} failed: {result.stderr.strip()[-2000:]}")
        self.images.update(name for name in self.ctr("images", "ls", "-q").stdout.split()
                           if not name.startswith("sha256:"))

    def load_podman_image(self, reference: str) -> None:
        """Save a podman image as an OCI archive and import it into the node (no registry)."""
        with tempfile.TemporaryDirectory(prefix="iac-image-", dir=self.workdir) as tmp:
            archive = Path(tmp) / "image.tar"
            env = {**os.environ, "CONTAINERS_CONF": str(REPO_ROOT / "containers" / "containers.conf"),
                   "CONTAINERS_STORAGE_CONF": str(REPO_ROOT / "containers" / "storage.conf")}
            subprocess.run(["podman", "save", "--format", "oci-archive", "-o", str(archive), reference],
                           check=True, capture_output=True, env=env, timeout=300)
            self.load_image(archive)
        self.images.add(reference)

    def container_pid(self, namespace: str, pod: str, container: str = "connector") -> int:
        """Host PID of a running container's main process (read ``/proc/PID/status``, ``cgroup``...)."""
        from lightkube.resources.core_v1 import Pod

        live = self.client().get(Pod, pod, namespace=namespace)
        statuses = (live.status.containerStatuses if live.status else None) or []
        [status] = [s for s in statuses if s.name == container]
        if not status.containerID:
            raise RuntimeError(f"{namespace}/{pod} container {container} has no container ID yet")
        container_id = status.containerID.split("://", 1)[1]
        for line in self.ctr("tasks", "ls").stdout.splitlines()[1:]:
            task, pid, state = line.split()[:3]
            if task == container_id and state == "RUNNING":
                return int(pid)
        raise RuntimeError(f"{namespace}/{pod} container {container} ({container_id[:12]}) is not running")

    def component_log(self, name: str, lines: int = 60) -> str:
        return _tail(self.workdir / f"{name}.log", lines)

    def peak_rss_mib(self) -> dict[str, float]:
        """Peak resident memory (VmHWM) of each component so far, MiB."""
        peaks: dict[str, float] = {}
        for name, pid in self.pids.items():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[name] = int(line.split()[1]) / 1024
        return peaks


# -- preparing -------------------------------------------------------------------------------------------

def _script_paths(*args: str) -> list[Path]:
    result = subprocess.run([str(REPO_ROOT / "scripts" / args[0]), *args[1:]], capture_output=True, text=True,
                            check=False, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/{args[0]} failed: {result.stderr.strip()[-1500:]}")
    return [Path(line) for line in result.stdout.split()]


_DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []


def _missing_tools() -> list[str]:
    missing = [tool for tool in ("etcd", "openssl", "containerd", "containerd-shim-runc-v2", "runc", "ctr", "ip",
                                 "nsenter", "podman", "xz") if shutil.which(tool) is None]
    missing += [f"{CNI_BIN_DIR}/{plugin}" for plugin in ("bridge", "host-local", "loopback")
                if not (CNI_BIN_DIR / plugin).is_file()]
    return missing


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


def _certificates(pki: Path, relay_ip: str) -> None:
    """A CA and the apiserver's serving certificate, valid for the relay address and the node's."""
    pki.mkdir(parents=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3", "-subj", "/CN=iac-node-ca",
             cwd=pki)
    names = ["IP:127.0.0.1", f"IP:{relay_ip}", f"IP:{NODE_IP}", "IP:10.96.0.1", "DNS:localhost", "DNS:kubernetes",
             "DNS:kubernetes.default", "DNS:kubernetes.default.svc"]
    (pki / "apiserver.ext").write_text(f"subjectAltName={','.join(names)}\nextendedKeyUsage=serverAuth\n"
                                       "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n")
    _openssl("req", *ec, "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver",
             cwd=pki)
    _openssl("x509", "-req", "-in", "apiserver.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "apiserver.crt", "-days", "3", "-extfile", "apiserver.ext", cwd=pki)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)


def _containerd_config(workdir: Path) -> str:
    base = workdir / "containerd"
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{base}/root"
state = "{base}/state"
# /opt/containerd and the snapshotters this machine cannot use stay out of it.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "{base}/containerd.sock"
[ttrpc]
  address = "{base}/containerd.sock.ttrpc"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # Required here: root lacks CAP_SYS_RESOURCE, and writing oom_score_adj -998 fails every sandbox.
  restrict_oom_score_adj = true
  disable_apparmor = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [{cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [{cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{base}/runc"
  [{cri}.cni]
    bin_dir = "{CNI_BIN_DIR}"
    conf_dir = "{workdir}/cni"
"""


def _cni_config(workdir: Path) -> dict[str, Any]:
    # No default route and no masquerade: pods reach the bridge subnet (the node IP) and nothing else.
    return {"cniVersion": "0.4.0", "name": "iac-pods", "plugins": [{
        "type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
        "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                 "dataDir": str(workdir / "cni-ipam")}}]}


def _kubelet_config(cgroup_root: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "cgroupDriver": "cgroupfs", "cgroupRoot": cgroup_root, "failSwapOn": False,
        "makeIPTablesUtilChains": False, "readOnlyPort": 0, "port": 10250, "address": NODE_IP,
        "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
        # Only the apiserver (in the same namespace) can reach the kubelet's port: logs and exec work.
        "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        # A shared CI disk must not put the node under DiskPressure (and taint it) halfway through a run.
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False, "nodeStatusUpdateFrequency": "4s",
        "resolvConf": "/etc/resolv.conf",
    }


def _cgroup_hierarchies() -> list[Path]:
    """The mounted cgroup v1 hierarchies (cgroupfs driver) plus the v2 one when mounted."""
    roots = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, mountpoint, fstype = line.split()[:3]
        if fstype in ("cgroup", "cgroup2"):
            roots.append(Path(mountpoint))
    return roots


def _make_cgroup_root(name: str) -> list[Path]:
    created = []
    for hierarchy in _cgroup_hierarchies():
        path = hierarchy / name
        path.mkdir(exist_ok=True)
        created.append(path)
        if (hierarchy / "cpuset.cpus").exists():  # a new cpuset starts empty; copy the parent's
            for key in ("cpuset.cpus", "cpuset.mems"):
                (path / key).write_text((hierarchy / key).read_text())
    return created


def _remove_cgroup_tree(root: Path) -> None:
    if not root.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def _write_kubeconfig(path: Path, server: str, ca: Path, user: str, token: str) -> Path:
    path.write_text(yaml.safe_dump(_kubeconfig_dict(server, ca, user, token)))
    path.chmod(0o600)
    return path


def _read_sysctls() -> dict[str, str]:
    return {key: (Path("/proc/sys") / key).read_text().strip() for key in KUBELET_SYSCTLS}


@contextlib.contextmanager
def _sysctl_registry() -> Iterator[dict[str, Any]]:
    """The machine-wide record of who runs a kubelet and what the sysctls were before the first one, under
    an exclusive lock: concurrent test sessions must restore the values from before any of them started."""
    SYSCTL_STATE.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{SYSCTL_STATE}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state: dict[str, Any] = json.loads(SYSCTL_STATE.read_text()) if SYSCTL_STATE.is_file() else {}
        except (OSError, ValueError):
            state = {}
        # Sessions that died without tearing down no longer count.
        state["users"] = [pid for pid in state.get("users", []) if Path(f"/proc/{pid}").exists()]
        yield state
        SYSCTL_STATE.write_text(json.dumps(state))


def _claim_sysctls() -> None:
    with _sysctl_registry() as state:
        if not state["users"]:
            state["saved"] = _read_sysctls()
        state["users"].append(os.getpid())


def _release_sysctls() -> None:
    """The last session to stop its kubelet writes back the values from before the first one started."""
    with _sysctl_registry() as state:
        state["users"] = [pid for pid in state["users"] if pid != os.getpid()]
        if state["users"]:
            return
        for key, value in (state.get("saved") or {}).items():
            path = Path("/proc/sys") / key
            with contextlib.suppress(OSError):
                if path.read_text().strip() != value:
                    path.write_text(value)
        state.pop("saved", None)


def _mounts_under(*prefixes: Path) -> list[str]:
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        mountpoint = line.split()[1].replace("\\040", " ")
        if any(mountpoint == str(p) or mountpoint.startswith(f"{p}/") for p in prefixes):
            found.append(mountpoint)
    return found


def _wait_until(what: str, check: Callable[[], str | None], procs: dict[str, subprocess.Popen[bytes]],
                workdir: Path, deadline: float) -> None:
    """Poll ``check`` (None: done; a string: why not yet) until the deadline; a dead process fails at once."""
    last = "no answer yet"
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode} while waiting for {what}\n"
                                   f"--- {name} log ---\n{_tail(workdir / f'{name}.log')}")
        try:
            outcome = check()
        except (httpx.HTTPError, OSError, subprocess.SubprocessError) as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        if outcome is None:
            return
        last = outcome
        time.sleep(0.25)
    raise RuntimeError(f"timed out waiting for {what} ({last})\n"
                       + "\n".join(f"--- {n} log ---\n{_tail(workdir / f'{n}.log', 25)}" for n in procs))


# -- the cluster -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def start_node_cluster(binaries: dict[str, Path], pause_archive: Path, *,
                       progress: Callable[[str], None] = lambda _msg: None) -> Iterator[NodeCluster]:
    """Start the one-node cluster; stop it and undo every host change on exit (see the module docstring)."""
    started = time.monotonic()
    suffix = secrets.token_hex(3)
    netns = f"iac-node-{suffix}"
    netns_path = Path("/run/netns") / netns
    workdir = Path(tempfile.mkdtemp(prefix=f"iac-node-{suffix}-", dir=_tmp_parent()))
    cgroup_root = f"iac-node-{suffix}"
    procs: dict[str, subprocess.Popen[bytes]] = {}
    log_files: list[IO[bytes]] = []
    _claim_sysctls()
    # Paths the kubelet hard-codes; removed at teardown when this run created them.
    host_dirs = [path for path in HOST_DIRS if not path.exists()]
    cgroups: list[Path] = []
    relay: Relay | None = None
    cluster: NodeCluster | None = None
    netns_created = False

    def spawn(name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log = (workdir / f"{name}.log").open("wb")
        log_files.append(log)
        # A killed test run must not leave a cluster behind: each component dies with the process that
        # started it (the parent-death signal survives the exec of nsenter and of the component).
        procs[name] = subprocess.Popen([*_DIE_WITH_PARENT, "nsenter", f"--net={netns_path}", "--", *args], stdout=log,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env={**os.environ, **(env or {})}, cwd=workdir)

    try:
        progress(f"network namespace {netns}")
        _ip("netns", "add", netns)
        netns_created = True
        _ip("-n", netns, "link", "set", "lo", "up")
        _ip("-n", netns, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", netns, "addr", "add", f"{NODE_IP}/24", "dev", BRIDGE)
        _ip("-n", netns, "link", "set", BRIDGE, "up")

        relay_ip = _random_loopback()
        pki = workdir / "pki"
        _certificates(pki, relay_ip)
        ca = pki / "ca.crt"
        tokens = {user: secrets.token_hex(16) for user in USERS}
        system_tokens = {name: secrets.token_hex(16) for name in ("controller-manager", "scheduler", "kubelet")}
        identities = [(tokens["admin"], "admin", "system:masters"), (tokens["deployer"], "deployer", ""),
                      (tokens["nobody"], "nobody", ""),
                      # The controller-manager runs every controller with its own identity (no per-controller
                      # service-account credentials, which cost ~10 s of start-up waiting for their tokens).
                      (system_tokens["controller-manager"], "system:kube-controller-manager", "system:masters"),
                      (system_tokens["scheduler"], "system:kube-scheduler", ""),
                      (system_tokens["kubelet"], f"system:node:{NODE_NAME}", "system:nodes")]
        token_file = pki / "tokens.csv"
        token_file.write_text("".join(f'{tok},{user},{user}-uid,"{group}"\n' for tok, user, group in identities))
        token_file.chmod(0o600)
        inside = f"https://127.0.0.1:{APISERVER_PORT}"
        kubeconfigs = {name: _write_kubeconfig(workdir / f"{name}.kubeconfig", inside, ca, user, tok)
                       for name, user, tok in (
                           ("controller-manager", "system:kube-controller-manager",
                            system_tokens["controller-manager"]),
                           ("scheduler", "system:kube-scheduler", system_tokens["scheduler"]),
                           ("kubelet", f"system:node:{NODE_NAME}", system_tokens["kubelet"]))}

        progress("etcd, containerd, kube-apiserver")
        spawn("etcd", ["etcd", "--name", NODE_NAME, "--data-dir", str(workdir / "etcd"),
                       "--listen-client-urls", "http://127.0.0.1:2379",
                       "--advertise-client-urls", "http://127.0.0.1:2379",
                       "--listen-peer-urls", "http://127.0.0.1:2380", "--log-level", "warn"])
        (workdir / "containerd.toml").write_text(_containerd_config(workdir))
        (workdir / "cni").mkdir()
        (workdir / "cni" / "10-iac-pods.conflist").write_text(json.dumps(_cni_config(workdir), indent=2))
        spawn("containerd", ["containerd", "--config", str(workdir / "containerd.toml")])
        spawn("kube-apiserver", [
            str(binaries["kube-apiserver"]), "--etcd-servers=http://127.0.0.1:2379",
            "--bind-address=0.0.0.0", f"--secure-port={APISERVER_PORT}", "--insecure-port=0",
            f"--advertise-address={NODE_IP}", f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}", f"--token-auth-file={token_file}",
            "--authorization-mode=Node,RBAC", "--enable-admission-plugins=NodeRestriction",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.key'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_RANGE}", "--kubelet-preferred-address-types=InternalIP",
            "--profiling=false", "--v=1"])

        relay = Relay(netns_path, "127.0.0.1", APISERVER_PORT, listen_host=relay_ip)
        server = f"https://{relay.address[0]}:{relay.address[1]}"
        cluster = NodeCluster(server=server, kubeconfig=workdir / "kubeconfig-admin.yaml", ca_file=ca,
                              tokens=tokens, workdir=workdir, startup_seconds=0.0, netns=netns,
                              containerd_socket=workdir / "containerd" / "containerd.sock")
        cluster._relays.append(relay)
        cluster.kubeconfig_for("admin")
        deadline = started + STARTUP_TIMEOUT_S

        def containerd_up() -> str | None:
            result = cluster.ctr("version", check=False, timeout=10)
            return None if result.returncode == 0 else result.stderr.strip()[-200:]

        _wait_until("containerd", containerd_up, procs, workdir, deadline)
        cluster.load_image(pause_archive)
        if PAUSE_IMAGE not in cluster.images:
            raise RuntimeError(f"{pause_archive} did not import as {PAUSE_IMAGE} (got {sorted(cluster.images)})")

        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        verify = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(verify=verify, timeout=3.0, trust_env=False, headers=admin) as http:
            def apiserver_ready() -> str | None:
                response = http.get(f"{server}/readyz")
                return None if response.status_code == 200 else f"/readyz {response.status_code}"

            _wait_until("kube-apiserver /readyz", apiserver_ready, procs, workdir, deadline)

            progress("controller-manager, scheduler, kubelet")
            spawn("kube-controller-manager", [
                str(binaries["kube-controller-manager"]), f"--kubeconfig={kubeconfigs['controller-manager']}",
                f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={ca}",
                "--leader-elect=false", "--bind-address=127.0.0.1", "--port=0",
                f"--flex-volume-plugin-dir={workdir / 'flexvolume'}", "--v=1"])
            spawn("kube-scheduler", [
                str(binaries["kube-scheduler"]), f"--kubeconfig={kubeconfigs['scheduler']}",
                "--leader-elect=false", "--bind-address=127.0.0.1", "--port=0", "--v=1"])
            cgroups = _make_cgroup_root(cgroup_root)
            kubelet_config = workdir / "kubelet.yaml"
            kubelet_config.write_text(yaml.safe_dump(_kubelet_config(f"/{cgroup_root}")))
            kubelet_root = workdir / "kubelet"
            spawn("kubelet", [
                str(binaries["kubelet"]), f"--config={kubelet_config}",
                f"--kubeconfig={kubeconfigs['kubelet']}", "--container-runtime=remote",
                f"--container-runtime-endpoint=unix://{cluster.containerd_socket}",
                f"--root-dir={kubelet_root}", f"--cert-dir={kubelet_root / 'pki'}",
                f"--volume-plugin-dir={kubelet_root / 'volume-plugins'}", f"--node-ip={NODE_IP}",
                f"--hostname-override={NODE_NAME}", f"--pod-infra-container-image={PAUSE_IMAGE}", "--v=1"],
                # Otherwise its in-tree AWS credential provider probes the cloud metadata address.
                env={"AWS_EC2_METADATA_DISABLED": "true"})

            def node_ready() -> str | None:
                response = http.get(f"{server}/api/v1/nodes/{NODE_NAME}")
                if response.status_code != 200:
                    return f"node {response.status_code}"
                node = response.json()
                ready = [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"]
                if not ready or ready[0]["status"] != "True":
                    return f"node not Ready: {ready[0].get('message') if ready else 'no condition yet'}"
                if node["spec"].get("taints"):
                    return f"node tainted: {node['spec']['taints']}"
                return None

            _wait_until("a Ready node", node_ready, procs, workdir, deadline)

            def default_service_account() -> str | None:  # the controllers are working, not only healthy
                response = http.get(f"{server}/api/v1/namespaces/default/serviceaccounts/default")
                return None if response.status_code == 200 else "no default ServiceAccount yet"

            _wait_until("the controller-manager", default_service_account, procs, workdir, deadline)

        cluster.startup_seconds = time.monotonic() - started
        cluster.pids = {name: proc.pid for name, proc in procs.items()}
        progress(f"node {NODE_NAME} Ready after {cluster.startup_seconds:.1f} s")
        try:
            yield cluster
        finally:
            cluster.close_clients()
    finally:
        _teardown(cluster, procs, workdir, netns, netns_created, cgroups, host_dirs)
        for log in log_files:
            log.close()


def _teardown(cluster: NodeCluster | None, procs: dict[str, subprocess.Popen[bytes]], workdir: Path, netns: str,
              netns_created: bool, cgroups: list[Path],
              host_dirs: list[Path]) -> None:
    """Pods' tasks first, then kubelet, scheduler, controller-manager, apiserver, etcd, containerd; then
    mounts, namespaces, cgroups, sysctls, logs and the work directory."""
    pod_dirs: list[str] = []
    pod_uids: set[str] = set()  # of every pod whose containers are still around: their log dirs go too
    if cluster is not None:
        for stack in list(cluster._servers):
            stack.close()
        with contextlib.suppress(Exception):
            verify = ssl.create_default_context(cafile=str(cluster.ca_file))
            response = httpx.get(f"{cluster.server}/api/v1/pods", verify=verify, timeout=3,
                                 headers={"Authorization": f"Bearer {cluster.tokens['admin']}"}, trust_env=False)
            pod_dirs = [f"{p['metadata']['namespace']}_{p['metadata']['name']}_{p['metadata']['uid']}"
                        for p in response.json().get("items", [])]
    if "kubelet" in procs:
        _stop(procs["kubelet"])
    sandbox_netns: set[str] = set()
    if cluster is not None and "containerd" in procs and procs["containerd"].poll() is None:
        with contextlib.suppress(Exception):
            for container_id in cluster.ctr("containers", "ls", "-q", timeout=30).stdout.split():
                info = json.loads(cluster.ctr("containers", "info", container_id, timeout=30).stdout)
                pod_uid = (info.get("Labels") or {}).get("io.kubernetes.pod.uid")
                if pod_uid:
                    pod_uids.add(pod_uid)
                for ns in (info.get("Spec") or {}).get("linux", {}).get("namespaces", []):
                    if ns.get("type") == "network" and ns.get("path", "").startswith("/var/run/netns/cni-"):
                        sandbox_netns.add(ns["path"])
                cluster.ctr("tasks", "kill", "--signal", "SIGKILL", container_id, check=False, timeout=30)
            for container_id in cluster.ctr("containers", "ls", "-q", timeout=30).stdout.split():
                for _ in range(50):  # a killed task needs a moment before it can be deleted
                    deleted = cluster.ctr("tasks", "delete", container_id, check=False, timeout=30)
                    if deleted.returncode == 0 or "not found" in deleted.stderr:
                        break
                    time.sleep(0.1)
                cluster.ctr("containers", "delete", container_id, check=False, timeout=30)
    if cluster is not None:
        for relay in cluster._relays:
            relay.close()
        cluster._relays.clear()
    for name in ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd", "containerd"):
        if name in procs:
            _stop(procs[name])
    _release_sysctls()
    for path in sandbox_netns:
        with contextlib.suppress(OSError):
            subprocess.run(["umount", path], capture_output=True, check=False, timeout=30)
            os.unlink(path)
    for mountpoint in sorted(_mounts_under(workdir), key=len, reverse=True):
        subprocess.run(["umount", "-l", mountpoint], capture_output=True, check=False, timeout=30)
    if netns_created:
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True, check=False, timeout=30)
    for root in cgroups:
        _remove_cgroup_tree(root)
    for entry in pod_dirs:
        shutil.rmtree(Path("/var/log/pods") / entry, ignore_errors=True)
    # Pods already deleted from the API keep their log directory when the kubelet stopped before cleaning
    # up; the kubelet's own pod directories name every pod UID it ran.
    kubelet_pods = workdir / "kubelet" / "pods"
    uids = pod_uids | ({entry.name for entry in kubelet_pods.iterdir()} if kubelet_pods.is_dir() else set())
    if uids and Path("/var/log/pods").is_dir():
        for entry in Path("/var/log/pods").iterdir():
            if entry.name.rsplit("_", 1)[-1] in uids:
                shutil.rmtree(entry, ignore_errors=True)
    containers_log = Path("/var/log/containers")
    if containers_log.is_dir():
        for link in containers_log.iterdir():
            if link.is_symlink() and not link.exists():
                with contextlib.suppress(OSError):
                    link.unlink()
    for path in host_dirs:
        if path == KUBELET_DEVICE_PLUGINS.parent:
            shutil.rmtree(path, ignore_errors=True)  # only the device-plugin socket the kubelet made
        else:
            with contextlib.suppress(OSError):
                path.rmdir()
    shutil.rmtree(workdir, ignore_errors=True)


# -- a stack on the node -----------------------------------------------------------------------------------

EXAMPLE_STACK = REPO_ROOT / "stacks" / "example.py"

# A stack with each connector pointed at its simulator; everything else exactly as written.
_SIMULATED_STACK = '''\
import runpy

original = runpy.run_path({original!r})["stack"]
stack = original.model_copy(update={{"connectors": [
    c.model_copy(update={{"base_url_override": {urls!r}[c.name]}}) for c in original.connectors]}})
'''


@dataclass
class SimulatedStack:
    """A stack file whose connectors call simulators inside the node, and what ``iac up`` needs for it."""

    stack_file: Path
    stack: Any  # iac.spec.Stack
    environ: dict[str, str]
    """Values of the stack's ``secret.env`` references: the simulators' own credentials."""
    sandboxes: dict[str, Any]  # connector name -> iac.demo.Sandbox (its simulator and credentials)


@contextlib.contextmanager
def simulated_stack(node: NodeCluster, directory: Path, *, original: Path = EXAMPLE_STACK, users: int = 40,
                    seed: int = 3) -> Iterator[SimulatedStack]:
    """Serve a simulator for each connector of ``original`` inside the node's namespace, write
    ``directory/<name>_on_node.py`` (the same stack, each ``base_url_override`` pointed at its simulator), and
    create the stack's namespace with the Secrets its ``secret.kubernetes`` references name."""
    from lightkube.resources.core_v1 import Namespace, Secret

    from iac.demo import _stack_environ, sandbox_for
    from iac.spec import load_stack

    source = load_stack(original)
    sandboxes = {c.name: s for c in source.self_hosted if (s := sandbox_for(c, seed=seed, users=users))}
    with contextlib.ExitStack() as running:
        for sandbox in sandboxes.values():
            sandbox.base_url = running.enter_context(node.serve(sandbox.simulator.app))
        stack_file = directory / f"{original.stem}_on_node.py"
        stack_file.write_text(_SIMULATED_STACK.format(
            original=str(original), urls={name: s.base_url for name, s in sandboxes.items()}))
        stack = load_stack(stack_file)
        environ, existing = _stack_environ(stack, sandboxes)
        client = node.client()
        client.apply(Namespace.from_dict({"metadata": {"name": stack.namespace}}), field_manager="iac-test")
        for name, values in existing.items():
            client.apply(Secret.from_dict({"metadata": {"name": name, "namespace": stack.namespace},
                                           "stringData": values}), field_manager="iac-test")
        yield SimulatedStack(stack_file, stack, environ, sandboxes)


# -- fixtures --------------------------------------------------------------------------------------------

def find_components() -> tuple[dict[str, Path], Path]:
    """The node binaries and the pause image archive (provisioned by the scripts); RuntimeError naming what is
    missing otherwise."""
    if os.geteuid() != 0:
        raise RuntimeError("it needs root (network namespaces, containerd, kubelet)")
    missing = _missing_tools()
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)} (scripts/install-test-deps.sh)")
    paths = _script_paths("kube-binary.sh", *COMPONENTS)
    [pause_archive] = _script_paths("pause-image.sh")
    return dict(zip(COMPONENTS, paths, strict=True)), pause_archive


@pytest.fixture(scope="session")
def node_cluster() -> Iterator[NodeCluster]:
    """The one-node cluster, started once per session when a test first asks for it."""
    try:
        binaries, pause_archive = find_components()
    except (RuntimeError, ValueError) as exc:
        _unavailable(str(exc))
    try:
        with start_node_cluster(binaries, pause_archive) as cluster:
            yield cluster
            peaks = cluster.peak_rss_mib()
            NODE_FIGURES.append(
                f"one-node cluster: Ready in {cluster.startup_seconds:.1f} s; peak RSS "
                + ", ".join(f"{name} {mib:.0f} MiB" for name, mib in sorted(peaks.items()))
                + f" (sum {sum(peaks.values()):.0f} MiB)")
    except RuntimeError as exc:
        pytest.fail(f"could not start the one-node cluster: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def node_runtime_image(node_cluster: NodeCluster) -> str:
    """The runtime image (scripts/build-image.sh), loaded into the node; returns its reference."""
    try:
        reference = build_runtime_image()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    started = time.monotonic()
    node_cluster.load_podman_image(reference)
    NODE_FIGURES.append(f"runtime image: built in {BUILD_SECONDS[0]:.1f} s (once per session), "
                        f"loaded into containerd in {time.monotonic() - started:.1f} s")
    return reference
