"""The example stack on a one-node cluster where pods really run (tests/_node.py): `iac up --wait` rolls it
out, each pod syncs its vendor's simulator, and the kubelet enforces what the manifests declare.

The simulators run in this process, inside the node's network namespace; each connector reaches its own
through the stack's ``base_url_override``. Everything a test reads from a pod it reads from the running
container (``/proc/PID`` on the host) or through a loopback relay to the pod's IP.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from _node import NodeCluster, simulated_stack
from conftest import EXAMPLE_ENV, REPO_ROOT
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Node, Pod

from iac.c1z import open_c1z
from iac.demo import DEMO_C1_CREDENTIALS, Sandbox
from iac.render import render_manifests
from iac.spec import Stack

ROLLOUT_TIMEOUT_S = 120

_BROKEN_STACK_FILE = '''\
from iac import ConductorOne, Okta, Stack, secret

stack = Stack("broken", namespace="broken-connectors", create_namespace=True,
              conductorone=ConductorOne(client_id=secret.env("C1_CLIENT_ID"), client_secret=secret.env("C1_CLIENT_SECRET")))
stack.add(
    # No such image anywhere: the kubelet cannot pull it (there is no registry).
    Okta("noimage", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN"), image="localhost/no-such-image:1"),
    # Runs, but the simulator refuses its token: /ready never passes.
    Okta("badtoken", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN"), base_url_override={url!r}),
)
'''


def iac(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV and k != "KUBECONFIG"}
    return subprocess.run([sys.executable, "-m", "iac", *args], capture_output=True, text=True, timeout=timeout,
                          env={**base, "COLUMNS": "200", **env}, cwd=REPO_ROOT)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


@dataclass
class Deployed:
    node: NodeCluster
    stack: Stack
    stack_file: Path
    environ: dict[str, str]
    sandboxes: dict[str, Sandbox]
    objects: list[dict[str, Any]]
    up: subprocess.CompletedProcess[str]
    up_seconds: float

    @property
    def namespace(self) -> str:
        return self.stack.namespace

    def iac(self, *args: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = {**(environ or self.environ), "KUBECONFIG": str(self.node.kubeconfig)}
        return iac(*args, str(self.stack_file), env=env)

    def rendered(self, kind: str, name: str) -> dict[str, Any]:
        [obj] = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        return obj

    def deployments(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == "Deployment"]

    def pods(self, deployment: str) -> list[Pod]:
        selector = self.rendered("Deployment", deployment)["spec"]["selector"]["matchLabels"]
        return [pod for pod in self.node.client().list(Pod, namespace=self.namespace, labels=selector)
                if pod.metadata and not pod.metadata.deletionTimestamp]

    def ready_pod(self, deployment: str) -> Pod:
        def one_ready() -> Pod | None:
            pods = self.pods(deployment)
            if len(pods) == 1 and _is_ready(pods[0]):
                return pods[0]
            return None

        pod: Pod = wait_for(f"one Ready pod of {deployment}", one_ready, timeout=ROLLOUT_TIMEOUT_S)
        return pod

    def pid(self, deployment: str) -> int:
        pod = self.ready_pod(deployment)
        assert pod.metadata and pod.metadata.name
        return self.node.container_pid(self.namespace, pod.metadata.name)

    def pod_url(self, deployment: str, path: str) -> str:
        pod = self.ready_pod(deployment)
        assert pod.status and pod.status.podIP
        host, port = self.node.forward(pod.status.podIP, 8081)
        return f"http://{host}:{port}{path}"


def _is_ready(pod: Pod) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return pod.status is not None and pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in conditions)


def _subset(rendered: Any, live: Any, path: str = "") -> list[str]:
    """Where ``live`` differs from ``rendered`` (the server may add defaults, never change what we wrote)."""
    if isinstance(rendered, dict):
        if not isinstance(live, dict):
            return [f"{path}: {live!r} is not a mapping"]
        return [d for key, value in rendered.items() for d in _subset(value, live.get(key), f"{path}.{key}")]
    if isinstance(rendered, list):
        if not isinstance(live, list) or len(live) != len(rendered):
            return [f"{path}: {live!r} != {rendered!r}"]
        return [d for i, (r, v) in enumerate(zip(rendered, live, strict=True)) for d in _subset(r, v, f"{path}[{i}]")]
    return [] if rendered == live else [f"{path}: live {live!r} != rendered {rendered!r}"]


@pytest.fixture(scope="module")
def deployed(node_cluster: NodeCluster, node_runtime_image: str, tmp_path_factory: pytest.TempPathFactory,
             ) -> Iterator[Deployed]:
    with simulated_stack(node_cluster, tmp_path_factory.mktemp("node-stack")) as simulated:
        assert set(simulated.sandboxes) == {"okta", "coupa", "concur", "celigo"}
        objects = [m.obj for m in render_manifests(simulated.stack, environ=simulated.environ)]
        env = {**simulated.environ, "KUBECONFIG": str(node_cluster.kubeconfig)}
        started = time.monotonic()
        up = iac("up", str(simulated.stack_file), "--wait", "--timeout", str(ROLLOUT_TIMEOUT_S), env=env)
        seconds = time.monotonic() - started
        yield Deployed(node_cluster, simulated.stack, simulated.stack_file, simulated.environ, simulated.sandboxes,
                       objects, up, seconds)
        # Leave the namespace empty for the next module that deploys.
        iac("destroy", str(simulated.stack_file), env=env)


def test_up_wait_rolls_out_every_connector_as_rendered(deployed: Deployed) -> None:
    assert deployed.up.returncode == 0, deployed.up.stdout + deployed.up.stderr
    assert "rollout complete" in deployed.up.stdout + deployed.up.stderr
    client = deployed.node.client()
    assert len(deployed.deployments()) == 4
    for rendered in deployed.deployments():
        name = rendered["metadata"]["name"]
        live = client.get(Deployment, name, namespace=deployed.namespace).to_dict()
        assert _subset(rendered["spec"], live["spec"], name) == []
        assert live["status"]["availableReplicas"] == 1
        [pod] = deployed.pods(name)
        assert _is_ready(pod), f"{name}: {pod.status}"
        # The pod runs exactly the rendered template (the controller only adds defaults).
        assert _subset(rendered["spec"]["template"]["spec"], pod.to_dict()["spec"], f"{name} pod") == []
        assert pod.metadata and pod.metadata.annotations
        assert pod.metadata.annotations["checksum/secret"] == \
            rendered["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]


def test_each_pod_syncs_its_simulator_onto_the_data_volume(deployed: Deployed, tmp_path: Path) -> None:
    for rendered in deployed.deployments():
        name = rendered["metadata"]["name"]
        connector = rendered["spec"]["template"]["metadata"]["labels"]["baton-app"]
        sandbox = deployed.sandboxes[connector]
        pid = deployed.pid(name)

        def synced(url: str = deployed.pod_url(name, "/metrics")) -> bool:
            return any(line.startswith("baton_syncs_total{") and 'outcome="success"' in line
                       and float(line.rsplit(" ", 1)[1]) >= 1
                       for line in httpx.get(url, timeout=5).text.splitlines())

        wait_for(f"{name} to finish a sync", synced, timeout=90)
        assert sandbox.requests() > 0, f"{name} never called its simulator"
        # The artifact is on the pod's data volume: read it through the container's own root.
        artifact = Path(f"/proc/{pid}/root/data/sync.c1z")
        assert artifact.is_file(), f"{name}: no /data/sync.c1z in the running container"
        copy = tmp_path / f"{connector}.c1z"
        copy.write_bytes(artifact.read_bytes())  # published atomically: a whole c1z
        with open_c1z(copy) as c1z:
            counts = {kind: sum(by_type.values()) for kind, by_type in c1z.counts().items()}
        assert sum(counts.values()) > 0, f"{name}: artifact has no rows ({counts})"


def test_metrics_and_probes_answer(deployed: Deployed) -> None:
    for rendered in deployed.deployments():
        name = rendered["metadata"]["name"]
        assert httpx.get(deployed.pod_url(name, "/live"), timeout=5).status_code == 200
        assert httpx.get(deployed.pod_url(name, "/ready"), timeout=5).status_code == 200
        metrics = httpx.get(deployed.pod_url(name, "/metrics"), timeout=5)
        assert metrics.status_code == 200
        assert "baton_http_requests_total" in metrics.text


def _status(pid: int) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: value.strip() for key, value in pairs}


def _cgroup_dir(pid: int, controller: str) -> Path:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return Path("/sys/fs/cgroup") / controller / path.lstrip("/")
    raise AssertionError(f"no {controller} cgroup for {pid}")


def _quantity_bytes(value: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix, factor in units.items():
        if value.endswith(suffix):
            return int(value[: -len(suffix)]) * factor
    return int(value)


def _millicores(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)


def test_the_kubelet_enforces_what_the_manifests_declare(deployed: Deployed) -> None:
    rendered = deployed.rendered("Deployment", deployed.deployments()[0]["metadata"]["name"])
    name = rendered["metadata"]["name"]
    limits = rendered["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    pid = deployed.pid(name)
    status = _status(pid)
    assert status["Uid"].split() == ["65532"] * 4
    assert status["Gid"].split() == ["65532"] * 4
    for capabilities in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[capabilities], 16) == 0, f"{capabilities} {status[capabilities]}"
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"  # filter mode: RuntimeDefault
    mounts = [line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()]
    [root] = [m for m in mounts if m[4] == "/"]
    assert "ro" in root[5].split(","), f"root mounted {root[5]}"
    assert not [m for m in mounts if "serviceaccount" in m[4]], "a service-account token is mounted"
    assert [m for m in mounts if m[4] == "/data"] and [m for m in mounts if m[4] == "/tmp"]
    memory = int((_cgroup_dir(pid, "memory") / "memory.limit_in_bytes").read_text())
    assert memory == _quantity_bytes(limits["memory"])
    cpu_dir = _cgroup_dir(pid, "cpu")
    quota, period = (int((cpu_dir / f"cpu.cfs_{k}_us").read_text()) for k in ("quota", "period"))
    assert quota * 1000 // period == _millicores(limits["cpu"])
    # And the process really cannot write outside its volumes.
    probe = Path(f"/proc/{pid}/root/etc/iac-node-probe")
    with pytest.raises(OSError):
        probe.write_text("x")


def test_unchanged_up_leaves_pods_alone(deployed: Deployed) -> None:
    before = {d["metadata"]["name"]: deployed.ready_pod(d["metadata"]["name"]).metadata.uid  # type: ignore[union-attr]
              for d in deployed.deployments()}
    again = deployed.iac("up", "--wait", "--timeout", "60")
    assert again.returncode == 0, again.stderr
    time.sleep(2)  # a rollout, had one started, would have replaced a pod by now
    after = {name: [p.metadata.uid for p in deployed.pods(name)] for name in before}  # type: ignore[union-attr]
    assert after == {name: [uid] for name, uid in before.items()}


def test_rotating_a_credential_rolls_the_pod_onto_the_new_value(deployed: Deployed) -> None:
    okta = deployed.sandboxes["okta"]
    [name] = [d["metadata"]["name"] for d in deployed.deployments()
              if d["spec"]["template"]["metadata"]["labels"]["baton-app"] == "okta"]
    old_pod = deployed.ready_pod(name)
    assert old_pod.metadata and old_pod.metadata.annotations
    new_token = "rotated-okta-token-" + os.urandom(8).hex()
    okta.simulator.token = new_token  # the vendor side rotates first; the old token now fails
    environ = {**deployed.environ, "OKTA_API_TOKEN": new_token}
    rolled = deployed.iac("up", "--wait", "--timeout", str(ROLLOUT_TIMEOUT_S), environ=environ)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert new_token not in rolled.stdout + rolled.stderr
    new_pod = deployed.ready_pod(name)
    assert new_pod.metadata and new_pod.metadata.annotations
    assert new_pod.metadata.uid != old_pod.metadata.uid
    assert new_pod.metadata.annotations["checksum/secret"] != old_pod.metadata.annotations["checksum/secret"]
    pid = deployed.node.container_pid(deployed.namespace, new_pod.metadata.name or "")
    environ_of_pod = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert f"BATON_API_TOKEN={new_token}".encode() in environ_of_pod
    # Ready means its sync with the new token succeeded against the simulator.
    assert httpx.get(deployed.pod_url(name, "/ready"), timeout=5).status_code == 200
    deployed.environ = environ


def test_destroy_removes_the_pods(deployed: Deployed) -> None:
    pids = {d["metadata"]["name"]: deployed.pid(d["metadata"]["name"]) for d in deployed.deployments()}
    destroyed = deployed.iac("destroy")
    assert destroyed.returncode == 0, destroyed.stderr
    client = deployed.node.client()
    assert list(client.list(Deployment, namespace=deployed.namespace)) == []
    # Every pod is deleted and its connector process stops (the runtime exits on SIGTERM within a second).
    # The API objects themselves go when the kubelet's status loop confirms, 10 s to a minute later here.
    wait_for("every pod to be deleted or gone", lambda: all(
        p.metadata and p.metadata.deletionTimestamp for p in client.list(Pod, namespace=deployed.namespace)))
    wait_for("every connector process to exit", lambda: not [
        name for name, pid in pids.items() if Path(f"/proc/{pid}").exists()], timeout=30)


def test_up_wait_names_the_pod_and_reason_when_a_rollout_cannot_finish(
        node_cluster: NodeCluster, node_runtime_image: str, tmp_path: Path) -> None:
    from iac.sim import OktaSim

    sim = OktaSim(seed=5, users=10, groups=3, apps=1)
    with node_cluster.serve(sim.app) as url:
        stack_file = tmp_path / "broken.py"
        stack_file.write_text(_BROKEN_STACK_FILE.format(url=url))
        env = {"KUBECONFIG": str(node_cluster.kubeconfig), "OKTA_API_TOKEN": "not-the-simulator-token",
               "C1_CLIENT_ID": DEMO_C1_CREDENTIALS["BATON_CLIENT_ID"],
               "C1_CLIENT_SECRET": DEMO_C1_CREDENTIALS["BATON_CLIENT_SECRET"]}
        try:
            # Wait (outside the CLI) until both pods are stuck for good, so a short --wait sees them stuck
            # however slow the machine is; a rollout that never finishes looks the same to --wait.
            assert iac("up", str(stack_file), env=env).returncode == 0
            client = node_cluster.client()

            def stuck() -> bool:
                states = {}
                for pod in client.list(Pod, namespace="broken-connectors"):
                    for status in (pod.status.containerStatuses if pod.status else None) or []:
                        waiting = status.state.waiting if status.state else None
                        states[status.name + (pod.metadata.name if pod.metadata else "")] = (
                            waiting.reason if waiting else "running" if status.state and status.state.running else "")
                return sorted(states.values()) in (["ErrImagePull", "running"], ["ImagePullBackOff", "running"])

            wait_for("one pod failing to pull, one running", stuck, timeout=90)
            result = iac("up", str(stack_file), "--wait", "--timeout", "5", env=env)
            assert result.returncode != 0, result.stdout + result.stderr
            message = " ".join(result.stderr.split())
            assert "timed out after 5s waiting for rollout" in message
            assert "pod baton-noimage-" in message, message
            assert "ErrImagePull" in message or "ImagePullBackOff" in message, message
            assert "running but not Ready (its readiness probe is not passing" in message, message
            assert "Traceback" not in result.stderr
            assert sim.stats.count() > 0  # the badly configured pod did run and call its simulator
        finally:
            iac("destroy", str(stack_file), env=env)


def test_every_component_is_still_up(node_cluster: NodeCluster) -> None:
    """After all of the above the node is still Ready and every component alive (figures in the summary)."""
    peaks = node_cluster.peak_rss_mib()
    assert set(peaks) == {"etcd", "containerd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                          "kubelet"}
    node = node_cluster.client().get(Node, node_cluster.node_name)
    conditions = (node.status.conditions if node.status else None) or []
    assert [c.status for c in conditions if c.type == "Ready"] == ["True"]
