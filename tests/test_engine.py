"""The deploy engine against a real kube-apiserver: create, no-op, update, prune, drift, conflicts,
RBAC, dry-run and destroy, each asserted on what the cluster holds afterwards."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from _cluster import KubeCluster
from _stacks import write_stack
from lightkube import Client
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Namespace, Secret, ServiceAccount
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.types import PatchType

from iac.backends.engine import (
    PART_OF_LABEL,
    Action,
    ApplySet,
    Engine,
    FieldConflictError,
    ForbiddenError,
    Report,
    SubjectKind,
    connect,
    deployer_rbac,
)
from iac.errors import ApplyError
from iac.render import render_stack
from iac.spec import load_stack

pytestmark = pytest.mark.cluster

STACK = "eng"
APPLYSET_IDS = Path(__file__).parent / "data" / "kubectl-applyset-ids.json"
KINDS: list[Any] = [Secret, ServiceAccount, NetworkPolicy, Deployment, ConfigMap]
IMAGE_PATH = '.spec.template.spec.containers[name="connector"].image'


class StackUnderTest:
    """One stack in its own namespace, with helpers to render it and to look at the cluster."""

    def __init__(self, cluster: KubeCluster, workdir: Path) -> None:
        self.cluster = cluster
        self.workdir = workdir
        self.namespace = f"eng-{secrets.token_hex(3)}"
        self.admin: Client = cluster.client()
        self.applyset = ApplySet(STACK, self.namespace)

    def objects(self, *connectors: str, quiet: tuple[str, ...] = (),
                create_namespace: bool = True) -> list[dict[str, Any]]:
        path = write_stack(self.workdir / "stack.py", name=STACK, namespace=self.namespace,
                           connectors=connectors, create_namespace=create_namespace, quiet=quiet)
        return render_stack(load_stack(path))

    def engine(self, user: str = "admin") -> Engine:
        api = connect(self.cluster.kubeconfig_for(user))
        self.cluster.closing(api.client)
        return Engine(api, stack=STACK, namespace=self.namespace)

    def versions(self) -> dict[str, str]:
        """``Kind/name`` → resourceVersion of everything of the stack's kinds in the namespace."""
        found = {}
        for kind in KINDS:
            for obj in self.admin.list(kind, namespace=self.namespace):
                if obj.metadata.name != "default":  # the ServiceAccount every namespace gets (w/ controller)
                    found[f"{kind.__name__}/{obj.metadata.name}"] = obj.metadata.resourceVersion
        return found

    def create_namespace(self) -> None:
        self.admin.create(Namespace.from_dict({"metadata": {"name": self.namespace}}))


@pytest.fixture
def stack(kube_cluster: KubeCluster, tmp_path: Path, example_env: dict[str, str]) -> StackUnderTest:
    return StackUnderTest(kube_cluster, tmp_path)


def _members(connector: str) -> set[str]:
    name = f"baton-{connector}"
    return {f"Secret/{name}", f"ServiceAccount/{name}", f"NetworkPolicy/{name}", f"Deployment/{name}"}


def _actions(report: Report) -> dict[str, str]:
    return {str(change.ref): change.action.value for change in report.changes}


def _bystander_labels(connector: str) -> dict[str, str]:
    """The labels a stack's own objects carry: a bystander wearing them must still be left alone."""
    return {"app": f"baton-{connector}", "app.kubernetes.io/part-of": STACK,
            "app.kubernetes.io/managed-by": "iac", "baton": "true", "baton-app": connector}


def test_up_creates_everything_and_an_unchanged_reup_writes_nothing(stack: StackUnderTest) -> None:
    objects = stack.objects("alpha", "beta")

    created = stack.engine().up(objects)
    before = stack.versions()
    again = stack.engine().up(objects)

    assert _actions(created) == {f"Namespace/{stack.namespace}": "create",
                                 **dict.fromkeys(_members("alpha") | _members("beta"), "create")}
    assert set(before) == _members("alpha") | _members("beta") | {f"Secret/{stack.applyset.parent_name}"}
    assert again.writes == 0
    assert {c.action for c in again.changes} == {Action.UNCHANGED}
    assert stack.versions() == before
    parent = stack.admin.get(Secret, stack.applyset.parent_name, namespace=stack.namespace)
    assert parent.metadata.annotations["applyset.kubernetes.io/contains-group-kinds"] == \
        "Deployment.apps,NetworkPolicy.networking.k8s.io,Secret,ServiceAccount"
    deployment = stack.admin.get(Deployment, "baton-alpha", namespace=stack.namespace)
    assert deployment.metadata.labels[PART_OF_LABEL] == stack.applyset.id


def test_changing_one_setting_updates_only_that_object(stack: StackUnderTest) -> None:
    stack.engine().up(stack.objects("alpha", "beta"))
    before = stack.versions()
    changed = stack.objects("alpha", "beta", quiet=("beta",))

    plan = stack.engine().preview(changed)
    applied = stack.engine().up(changed)
    after = stack.versions()

    updates = [c for c in plan.changes if c.action is not Action.UNCHANGED]
    assert [str(c.ref) for c in updates] == ["Deployment/baton-beta"]
    assert [(f.path, f.before, f.after) for f in updates[0].fields] == [
        ('.spec.template.spec.containers[name="connector"].env[name="BATON_SKIP_SECONDARY_EMAILS"].value',
         "false", "true")]
    assert [str(c.ref) for c in applied.changes if c.action is Action.UPDATE] == ["Deployment/baton-beta"]
    assert applied.writes == 1
    assert {k for k in after if after[k] != before[k]} == {"Deployment/baton-beta"}


def test_removed_connector_is_pruned_and_lookalike_bystanders_are_untouched(stack: StackUnderTest) -> None:
    stack.engine().up(stack.objects("alpha", "beta"))
    other_stack = ApplySet("other", stack.namespace)
    stack.admin.create(ConfigMap.from_dict({"metadata": {
        "name": "bystander-beta", "namespace": stack.namespace, "labels": _bystander_labels("beta")}}))
    stack.admin.create(Secret.from_dict({"metadata": {
        "name": "other-stack-beta", "namespace": stack.namespace,
        "labels": {**_bystander_labels("beta"), PART_OF_LABEL: other_stack.id}}}))
    before = stack.versions()

    plan = stack.engine().preview(stack.objects("alpha"))
    pruned = stack.engine().up(stack.objects("alpha"))
    after = stack.versions()

    assert {str(c.ref) for c in plan.changes if c.action is Action.DELETE} == _members("beta")
    assert {str(c.ref) for c in pruned.changes if c.action is Action.DELETE} == _members("beta")
    assert set(before) - set(after) == _members("beta")
    assert {k: after[k] for k in ("ConfigMap/bystander-beta", "Secret/other-stack-beta")} == \
        {k: before[k] for k in ("ConfigMap/bystander-beta", "Secret/other-stack-beta")}
    parent = stack.admin.get(Secret, stack.applyset.parent_name, namespace=stack.namespace)
    assert "baton-beta" not in parent.metadata.annotations["applyset.kubernetes.io/inventory"]


def test_out_of_band_edits_are_reported_by_refresh_and_repaired_by_up(stack: StackUnderTest) -> None:
    objects = stack.objects("alpha", "beta")
    stack.engine().up(objects)
    # What `kubectl set image` and `kubectl delete` do: plain updates/deletes under other managers.
    stack.admin.patch(Deployment, "baton-alpha", {"spec": {"template": {"spec": {"containers": [
        {"name": "connector", "image": "evil/image:1"}]}}}}, namespace=stack.namespace,
        field_manager="kubectl-set")
    stack.admin.delete(Secret, "baton-beta", namespace=stack.namespace)

    drift = stack.engine().refresh(objects)
    repaired = stack.engine().up(objects)
    after = stack.engine().refresh(objects)

    assert {(str(d.ref), d.state) for d in drift.drifted} == {("Deployment/baton-alpha", "modified"),
                                                              ("Secret/baton-beta", "missing")}
    modified = next(d for d in drift.drifted if d.state == "modified")
    assert [(f.path, f.manager, f.actual) for f in modified.fields] == [
        (IMAGE_PATH, "kubectl-set", "evil/image:1")]
    assert _actions(repaired)["Deployment/baton-alpha"] == "update"
    assert _actions(repaired)["Secret/baton-beta"] == "create"
    live = stack.admin.get(Deployment, "baton-alpha", namespace=stack.namespace)
    assert live.spec.template.spec.containers[0].image != "evil/image:1"
    assert not after.has_drift


def test_a_field_applied_by_another_manager_is_a_conflict_until_forced(stack: StackUnderTest) -> None:
    objects = stack.objects("alpha")
    stack.engine().up(objects)
    stack.admin.patch(Deployment, "baton-alpha", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "baton-alpha"},
        "spec": {"template": {"spec": {"containers": [{"name": "connector", "image": "theirs:2"}]}}}},
        namespace=stack.namespace, patch_type=PatchType.APPLY, field_manager="other-tool", force=True)

    with pytest.raises(FieldConflictError) as conflict:
        stack.engine().up(objects)
    forced = stack.engine().up(objects, force_conflicts=True)

    message = str(conflict.value)
    assert IMAGE_PATH in message and "other-tool" in message and "--force-conflicts" in message
    assert "\n" not in message
    assert _actions(forced)["Deployment/baton-alpha"] == "update"
    live = stack.admin.get(Deployment, "baton-alpha", namespace=stack.namespace)
    assert live.spec.template.spec.containers[0].image != "theirs:2"


@pytest.mark.parametrize("connectors", [["alpha"], ["alpha", "beta", "gamma"]], ids=["one-by-one", "listed"])
def test_an_object_of_another_stack_is_refused_not_taken_over(stack: StackUnderTest, connectors: list[str]) -> None:
    # Few new objects are checked with a GET each, many with a LIST per kind: both must refuse.
    stack.engine().up(stack.objects(*connectors))
    before = stack.versions()
    clashing = render_stack(load_stack(write_stack(
        stack.workdir / "other.py", name="other", namespace=stack.namespace, connectors=connectors,
        create_namespace=False)))
    other = Engine(stack.engine().api, stack="other", namespace=stack.namespace)

    with pytest.raises(ApplyError, match=r"Secret/baton-alpha .* belongs to another ApplySet"):
        other.up(clashing)

    assert stack.versions() == before


def test_forbidden_is_one_line_naming_verb_resource_and_namespace(stack: StackUnderTest) -> None:
    stack.create_namespace()
    objects = stack.objects("alpha", create_namespace=False)

    with pytest.raises(ForbiddenError) as denied:
        stack.engine("nobody").up(objects)

    assert str(denied.value).startswith(
        f'forbidden: user "nobody" cannot get secrets in namespace {stack.namespace}')
    assert stack.versions() == {}


def test_preview_is_a_dry_run_that_persists_nothing(stack: StackUnderTest) -> None:
    stack.create_namespace()
    fresh = stack.objects("alpha", create_namespace=False)

    plan = stack.engine().preview(fresh)
    assert stack.versions() == {}
    stack.engine().up(fresh)
    before = stack.versions()
    changed_plan = stack.engine().preview(stack.objects("alpha", quiet=("alpha",), create_namespace=False))

    assert _actions(plan) == dict.fromkeys(_members("alpha"), "create")
    assert plan.writes == 0 and changed_plan.writes == 0
    assert _actions(changed_plan)["Deployment/baton-alpha"] == "update"
    assert stack.versions() == before


def test_destroy_removes_exactly_the_applyset_members_then_the_parent(stack: StackUnderTest) -> None:
    stack.engine().up(stack.objects("alpha", "beta"))
    stack.admin.create(ConfigMap.from_dict({"metadata": {
        "name": "bystander", "namespace": stack.namespace, "labels": _bystander_labels("alpha")}}))
    before = stack.versions()

    destroyed = stack.engine().destroy()
    again = stack.engine().destroy()

    assert {str(c.ref) for c in destroyed.changes} == _members("alpha") | _members("beta")
    assert stack.versions() == {"ConfigMap/bystander": before["ConfigMap/bystander"]}
    assert again.changes == [] and again.writes == 0
    assert stack.admin.get(Namespace, stack.namespace).metadata.name == stack.namespace


def test_the_printed_role_is_enough_for_a_deployer_and_needed(stack: StackUnderTest) -> None:
    stack.create_namespace()
    objects = stack.objects("alpha", "beta", create_namespace=False)
    for manifest in deployer_rbac(objects, stack=STACK, namespace=stack.namespace, subject="deployer",
                                  subject_kind=SubjectKind.user):
        stack.admin.create(_resource(manifest))
    deployer = stack.engine("deployer")

    plan = deployer.preview(objects)
    deployer.up(objects)
    pruned = deployer.up(stack.objects("alpha", create_namespace=False))
    drift = deployer.refresh(objects)
    destroyed = deployer.destroy()

    assert plan.counts()[Action.CREATE] == 8
    assert pruned.counts()[Action.DELETE] == 4
    assert drift.deployed
    assert destroyed.counts()[Action.DELETE] == 4
    assert stack.versions() == {}
    with pytest.raises(ForbiddenError):  # the same calls without the binding
        stack.engine("nobody").preview(objects)


def test_wait_says_when_no_controller_reports_rollout_status(stack: StackUnderTest) -> None:
    objects = stack.objects("alpha")
    engine = stack.engine()
    engine.up(objects)

    with pytest.raises(ApplyError, match="no controller has reported status") as timeout:
        engine.wait_for_rollout(objects, timeout=0.5, interval=0.1)

    assert "Deployment/baton-alpha" in str(timeout.value)


@pytest.mark.parametrize("recorded", json.loads(APPLYSET_IDS.read_text())["applysets"],
                         ids=lambda recorded: f"{recorded['namespace']}/{recorded['stack']}")
def test_applyset_ids_match_the_ones_kubectl_computes(recorded: dict[str, str]) -> None:
    """kubectl's own ids (recorded with kubectl v1.32.4; Debian's kubectl 1.20 predates ApplySets, so the
    suite does not run it): an ApplySet our engine writes is one kubectl can prune and extend."""
    assert ApplySet(recorded["stack"], recorded["namespace"]).id == recorded["id"]


def _resource(manifest: dict[str, Any]) -> Any:
    from lightkube import codecs

    return codecs.from_dict(manifest)
