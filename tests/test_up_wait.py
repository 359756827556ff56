"""`iac up --wait` on the apiserver-only fixture: a stand-in for the deployment controller writes the
Deployment's status through the status subresource, as kube-controller-manager would, so the success path
runs; a rollout whose pod crash-loops times out naming the Deployment, the pod and the reason."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from _cluster import KubeCluster
from _stacks import write_stack
from conftest import EXAMPLE_ENV, RunIac
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

pytestmark = pytest.mark.cluster

DEPLOYMENT = "baton-alpha"


@contextmanager
def deployment_controller(client: Client, namespace: str,
                          on_deployment: Callable[[Client, Any], None]) -> Iterator[None]:
    """Until the block ends: whenever Deployment/baton-alpha's generation is newer than its status says,
    call ``on_deployment(client, deployment)`` to report on it (as the deployment controller would)."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        while not stop.wait(0.05):
            try:
                deployment = client.get(Deployment, DEPLOYMENT, namespace=namespace)
            except ApiError:
                continue  # not applied yet
            status = deployment.status
            if status is None or (status.observedGeneration or 0) < (deployment.metadata.generation or 0):
                try:
                    on_deployment(client, deployment)
                except BaseException as exc:  # reported when the block ends
                    errors.append(exc)
                    return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not errors, errors


def report(client: Client, deployment: Any, *, available: int) -> None:
    status = {"observedGeneration": deployment.metadata.generation, "replicas": 1, "updatedReplicas": 1,
              "readyReplicas": available, "availableReplicas": available, "unavailableReplicas": 1 - available}
    client.patch(Deployment.Status, DEPLOYMENT, {"status": status}, namespace=deployment.metadata.namespace,
                 patch_type=PatchType.MERGE)


def crash_looping_pod(client: Client, deployment: Any) -> None:
    """The pod a ReplicaSet would have made, with the status a kubelet reports for a container that keeps
    exiting; then the Deployment's status: updated, not available."""
    namespace = deployment.metadata.namespace
    template = deployment.spec.template
    name = f"{DEPLOYMENT}-7d9f8c6b5-x2x4q"
    pod = Pod.from_dict({"metadata": {"name": name, "namespace": namespace, "labels": dict(template.metadata.labels)},
                         "spec": {"containers": [{"name": "connector", "image": "localhost/baton-iac:test"}],
                                  "serviceAccountName": template.spec.serviceAccountName,
                                  "automountServiceAccountToken": False}})
    client.create(pod)
    waiting = {"reason": "CrashLoopBackOff",
               "message": "back-off 40s restarting failed container=connector pod=" + name}
    client.patch(Pod.Status, name, {"status": {"phase": "Running", "containerStatuses": [{
        "name": "connector", "ready": False, "restartCount": 3, "image": "localhost/baton-iac:test", "imageID": "",
        "state": {"waiting": waiting},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 2, "startedAt": None, "finishedAt": None}},
    }]}}, namespace=namespace, patch_type=PatchType.MERGE)
    report(client, deployment, available=0)


def _stack(tmp_path: Path) -> tuple[Path, str]:
    namespace = f"wait-{secrets.token_hex(3)}"
    return write_stack(tmp_path / "stack.py", name="wait", namespace=namespace, connectors=["alpha"]), namespace


def test_up_wait_returns_once_the_deployment_rolled_out(kube_cluster: KubeCluster, tmp_path: Path,
                                                         run_iac: RunIac) -> None:
    stack, namespace = _stack(tmp_path)
    started = time.monotonic()
    with deployment_controller(kube_cluster.client(), namespace,
                               lambda client, deployment: report(client, deployment, available=1)):
        waited = run_iac("up", str(stack), "--kubeconfig", str(kube_cluster.kubeconfig), "--wait",
                         "--timeout", "60", env=EXAMPLE_ENV)
    assert waited.returncode == 0, waited.stderr
    assert "rollout complete" in waited.stderr + waited.stdout
    assert time.monotonic() - started < 30, "--wait should return soon after the status says rolled out"


def test_up_wait_times_out_naming_the_deployment_the_pod_and_the_reason(kube_cluster: KubeCluster, tmp_path: Path,
                                                                        run_iac: RunIac) -> None:
    stack, namespace = _stack(tmp_path)
    with deployment_controller(kube_cluster.client(), namespace, crash_looping_pod):
        waited = run_iac("up", str(stack), "--kubeconfig", str(kube_cluster.kubeconfig), "--wait",
                         "--timeout", "3", env=EXAMPLE_ENV)
    assert waited.returncode == 2, waited.stderr
    expected = (f"timed out after 3s waiting for rollout: Deployment/{DEPLOYMENT}: 0/1 available, 1/1 updated "
                f"(pod {DEPLOYMENT}-7d9f8c6b5-x2x4q container connector: CrashLoopBackOff, restarted 3 times: "
                "back-off 40s restarting failed container")
    assert expected in waited.stderr, waited.stderr
    assert not [v for v in EXAMPLE_ENV.values() if v in waited.stderr + waited.stdout]
