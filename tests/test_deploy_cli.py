"""`iac preview/up/refresh/destroy/rbac` as a user runs them, against the real kube-apiserver."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from _cluster import KubeCluster
from _stacks import write_stack
from conftest import EXAMPLE_ENV, RunIac
from lightkube import codecs
from lightkube.resources.core_v1 import Namespace, Secret

pytestmark = pytest.mark.cluster


def _namespace() -> str:
    return f"cli-{secrets.token_hex(3)}"


def test_preview_detailed_exitcode_then_up_prints_a_summary(kube_cluster: KubeCluster, tmp_path: Path,
                                                             run_iac: RunIac) -> None:
    stack = write_stack(tmp_path / "stack.py", name="cli", namespace=_namespace(), connectors=["alpha"])
    target = ("--kubeconfig", str(kube_cluster.kubeconfig), "--context", "iac-test")

    before = run_iac("preview", str(stack), *target, "--detailed-exitcode", env=EXAMPLE_ENV)
    applied = run_iac("up", str(stack), *target, env=EXAMPLE_ENV)
    after = run_iac("preview", str(stack), *target, "--detailed-exitcode", env=EXAMPLE_ENV)
    broken = run_iac("preview", str(stack), "--kubeconfig", str(kube_cluster.kubeconfig), "--context", "nope",
                     "--detailed-exitcode", env=EXAMPLE_ENV)

    assert before.returncode == 2, before.stderr
    assert "  + Deployment/baton-alpha" in before.stdout
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[-1] == "5 created, 0 updated, 0 deleted (6 writes)"
    assert after.returncode == 0, after.stderr
    assert after.stdout.splitlines()[-1] == "0 to create, 0 to update, 0 to delete, 5 unchanged"
    assert broken.returncode == 1
    assert broken.stderr.count("\n") == 1 and "nope" in broken.stderr


def test_no_secret_value_reaches_any_output(kube_cluster: KubeCluster, tmp_path: Path, run_iac: RunIac) -> None:
    namespace = _namespace()
    stack = write_stack(tmp_path / "stack.py", name="leak", namespace=namespace, connectors=["alpha", "beta"])
    target = ("--kubeconfig", str(kube_cluster.kubeconfig))
    rotated = {**EXAMPLE_ENV, "OKTA_API_TOKEN": "sentinel-rotated-okta-token-0007"}
    runs = [run_iac("up", str(stack), *target, env=EXAMPLE_ENV)]
    for output in ("text", "json"):
        runs.append(run_iac("preview", str(stack), *target, "-o", output, env=rotated))
    runs.append(run_iac("up", str(stack), *target, env=rotated))
    # An out-of-band edit of a Secret value: refresh must name the key and hide both values.
    kube_cluster.client().patch(Secret, "baton-alpha", {"data": {"BATON_API_TOKEN": _b64("sentinel-edit-0008")}},
                                namespace=namespace, field_manager="kubectl-edit")
    for output in ("text", "json"):
        runs.append(run_iac("refresh", str(stack), *target, "-o", output, env=rotated))
    runs.append(run_iac("up", str(stack), *target, "-o", "json", env=rotated))
    runs.append(run_iac("destroy", str(stack), *target, env=rotated))

    assert [r.returncode for r in runs] == [0] * len(runs), [r.stderr for r in runs]
    assert ".data.BATON_API_TOKEN: (secret value changed)" in runs[1].stdout
    planned = {(c["kind"], c["name"]): c for c in json.loads(runs[2].stdout)["changes"]}
    assert planned["Secret", "baton-alpha"]["fields"] == [
        {"path": ".data.BATON_API_TOKEN", "change": "changed", "masked": True}]
    assert ".data.BATON_API_TOKEN: secret value changed by kubectl-edit (Update)" in runs[4].stdout
    shown = "".join(r.stdout + r.stderr for r in runs)
    for value in [*EXAMPLE_ENV.values(), rotated["OKTA_API_TOKEN"], "sentinel-edit-0008"]:
        assert value not in shown
        assert _b64(value) not in shown


def test_printed_rbac_lets_the_deployer_deploy_and_others_fail_cleanly(
        kube_cluster: KubeCluster, tmp_path: Path, run_iac: RunIac) -> None:
    namespace = _namespace()
    admin = kube_cluster.client()
    admin.create(Namespace.from_dict({"metadata": {"name": namespace}}))
    stack = write_stack(tmp_path / "stack.py", name="rbac", namespace=namespace, connectors=["alpha"],
                        create_namespace=False)

    printed = run_iac("rbac", str(stack), "--user", "deployer")
    for manifest in codecs.load_all_yaml(printed.stdout):
        admin.create(manifest)
    as_deployer = ("--kubeconfig", str(kube_cluster.kubeconfig_for("deployer")))
    deployed = run_iac("up", str(stack), *as_deployer, env=EXAMPLE_ENV)
    denied = run_iac("up", str(stack), "--kubeconfig", str(kube_cluster.kubeconfig_for("nobody")),
                     env=EXAMPLE_ENV)
    destroyed = run_iac("destroy", str(stack), *as_deployer)

    assert printed.returncode == 0, printed.stderr
    assert deployed.returncode == 0, deployed.stderr
    assert denied.returncode == 2
    assert denied.stderr == (f'error: forbidden: user "nobody" cannot get secrets in namespace {namespace} '
                             "(for Secret/applyset-rbac); `iac rbac` prints the Role a deployer needs\n")
    assert destroyed.returncode == 0, destroyed.stderr
    assert destroyed.stdout.splitlines()[-1].startswith("0 created, 0 updated, 4 deleted")


def test_up_wait_says_no_controller_reports_status(kube_cluster: KubeCluster, tmp_path: Path,
                                                   run_iac: RunIac) -> None:
    stack = write_stack(tmp_path / "stack.py", name="wait", namespace=_namespace(), connectors=["alpha"])

    waited = run_iac("up", str(stack), "--kubeconfig", str(kube_cluster.kubeconfig), "--wait", "--timeout", "1",
                     env=EXAMPLE_ENV)

    assert waited.returncode == 2
    assert "timed out after 1s waiting for rollout: Deployment/baton-alpha: no controller has reported status" \
        in waited.stderr


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()
