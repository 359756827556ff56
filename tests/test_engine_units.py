"""The deploy engine's pure parts: ApplySet identity, field ownership, diffs, drift, RBAC. No cluster."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from iac.backends.engine import (
    DEPLOYER_VERBS,
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    PART_OF_LABEL,
    TOOLING_ANNOTATION,
    ApplySet,
    ObjectRef,
    Report,
    SubjectKind,
    deployer_rbac,
)
from iac.backends.engine._fields import diff_owned, foreign_drift, format_path, in_sync
from iac.backends.engine._model import Action, ObjectChange
from iac.errors import ApplyError


def _deployment(image: str = "img:1", env: str = "info") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "ns", "labels": {"app": "app"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
                 "template": {"metadata": {"labels": {"app": "app"}},
                              "spec": {"containers": [{"name": "c", "image": image,
                                                       "env": [{"name": "LEVEL", "value": env}]}]}}},
    }


# What the API server records for the manifest above when "iac" applies it.
_OWNED = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {"f:replicas": {}, "f:selector": {},
               "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                              "f:spec": {"f:containers": {'k:{"name":"c"}': {
                                  ".": {}, "f:name": {}, "f:image": {},
                                  "f:env": {'k:{"name":"LEVEL"}': {".": {}, "f:name": {}, "f:value": {}}}}}}}},
}


def _live(obj: dict[str, Any], managed: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    live = copy.deepcopy(obj)
    live["metadata"]["resourceVersion"] = "7"
    live["metadata"]["managedFields"] = [
        {"manager": m, "operation": op, "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": f}
        for m, op, f in managed]
    # Server defaulting adds fields nobody applied; they must not count as changes.
    live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"
    return live


def test_applyset_id_is_the_kep_hash_of_the_parent_gknn() -> None:
    # Cross-checked with kubectl 1.32 (`apply --applyset=secret/applyset-probe -n default`).
    assert ApplySet("probe", "default").id == "applyset-KYlqI7R8EFTWuAiwuaUY387hpibS6Y837BmAOQWnwSM-v1"
    assert ApplySet("probe", "other").id != ApplySet("probe", "default").id


def test_applyset_parent_lists_sorted_group_kinds_and_members_get_the_part_of_label() -> None:
    applyset = ApplySet("demo", "ns")
    refs = [ObjectRef("Deployment", "a", "ns", "apps/v1"), ObjectRef("Secret", "a", "ns", "v1"),
            ObjectRef("NetworkPolicy", "a", "ns", "networking.k8s.io/v1")]

    parent = applyset.parent(refs, extra_group_kinds=["ConfigMap"])
    member = applyset.member(_deployment())

    assert parent["metadata"]["name"] == "applyset-demo"
    assert parent["metadata"]["labels"][ID_LABEL] == applyset.id
    assert parent["metadata"]["annotations"][GROUP_KINDS_ANNOTATION] == \
        "ConfigMap,Deployment.apps,NetworkPolicy.networking.k8s.io,Secret"
    assert parent["metadata"]["annotations"][TOOLING_ANNOTATION].startswith("iac/v")
    assert member["metadata"]["labels"] == {"app": "app", PART_OF_LABEL: applyset.id}


def test_applyset_refuses_objects_of_another_applyset_and_parents_of_other_tools() -> None:
    applyset = ApplySet("demo", "ns")
    foreign = _deployment()
    foreign["metadata"]["labels"][PART_OF_LABEL] = "applyset-someone-else-v1"
    kubectl_parent = {"metadata": {"labels": {ID_LABEL: applyset.id},
                                   "annotations": {TOOLING_ANNOTATION: "kubectl/v1.30"}}}

    with pytest.raises(ApplyError, match="already carries label"):
        applyset.member(foreign)
    with pytest.raises(ApplyError, match="not an iac ApplySet"):
        applyset.check_parent(kubectl_parent)


def test_in_sync_only_when_owned_fields_hold_desired_values() -> None:
    desired = _deployment()
    live = _live(desired, [("iac", "Apply", _OWNED)])

    changed_image = _deployment(image="img:2")
    dropped_env = _deployment()
    del dropped_env["spec"]["template"]["spec"]["containers"][0]["env"]
    added_label = _deployment()
    added_label["metadata"]["labels"]["new"] = "x"

    assert in_sync(desired, live, "iac")
    assert not in_sync(changed_image, live, "iac")
    assert not in_sync(dropped_env, live, "iac")  # applying would remove an owned field
    assert not in_sync(added_label, live, "iac")  # a field we do not own yet
    assert not in_sync(desired, live, "someone-else")


def test_diff_names_owned_fields_only_and_ignores_server_defaults() -> None:
    before = _live(_deployment(), [("iac", "Apply", _OWNED)])
    after = _live(_deployment(image="img:2", env="debug"), [("iac", "Apply", _OWNED)])
    after["metadata"]["annotations"] = {"set-by-someone": "else"}  # not ours: not in the diff

    changes = diff_owned(before, after, "iac")

    assert [(c.path, c.before, c.after) for c in changes] == [
        ('.spec.template.spec.containers[name="c"].env[name="LEVEL"].value', "info", "debug"),
        ('.spec.template.spec.containers[name="c"].image', "img:1", "img:2"),
    ]


def test_secret_values_are_masked_in_diffs_and_drift() -> None:
    owned: dict[str, Any] = {"f:data": {"f:token": {}, "f:new": {}}, "f:type": {}}
    before = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "managedFields": [
        {"manager": "iac", "operation": "Apply", "apiVersion": "v1", "fieldsV1": {"f:data": {"f:token": {}}}}]},
        "data": {"token": "b2xkLXNlY3JldA=="}, "type": "Opaque"}
    after = {**before, "metadata": {"name": "s", "managedFields": [
        {"manager": "iac", "operation": "Apply", "apiVersion": "v1", "fieldsV1": owned}]},
        "data": {"token": "bmV3LXNlY3JldA==", "new": "YWRkZWQ="}}
    edited = {**before, "metadata": {"name": "s", "managedFields": [
        {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "v1",
         "fieldsV1": {"f:data": {"f:token": {}}}}]}, "data": {"token": "ZWRpdGVk"}}

    changes = diff_owned(before, after, "iac")
    drift = foreign_drift(after, edited, "iac")

    assert [(c.path, c.kind, c.masked) for c in changes] == [(".data.new", "added", True),
                                                             (".data.token", "changed", True)]
    assert all(c.to_dict().keys() == {"path", "change", "masked"} for c in changes)
    assert [(d.path, d.manager, d.masked, d.expected, d.actual) for d in drift] == \
        [(".data.token", "kubectl-edit", True, None, None)]
    shown = repr(changes) + repr(drift) + repr([c.to_dict() for c in changes]) + repr([d.to_dict() for d in drift])
    for value in ("b2xkLXNlY3JldA==", "bmV3LXNlY3JldA==", "YWRkZWQ=", "ZWRpdGVk"):
        assert value not in shown


def test_drift_is_a_field_the_stack_sets_now_owned_by_someone_else() -> None:
    desired = _deployment()
    owned_without_image = copy.deepcopy(_OWNED)
    del owned_without_image["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']["f:image"]
    live = _live(_deployment(image="evil:1"), [
        ("iac", "Apply", owned_without_image),
        ("kubectl-set", "Update", {"f:spec": {"f:template": {"f:spec": {"f:containers": {
            'k:{"name":"c"}': {"f:image": {}}}}}}}),
    ])

    drift = foreign_drift(desired, live, "iac")

    assert [(d.path, d.manager, d.operation, d.expected, d.actual) for d in drift] == [
        ('.spec.template.spec.containers[name="c"].image', "kubectl-set", "Update", "img:1", "evil:1")]
    assert foreign_drift(desired, _live(desired, [("iac", "Apply", _OWNED)]), "iac") == []


def test_format_path_uses_the_api_servers_notation() -> None:
    assert format_path(("f:spec", "f:ports", 'k:{"port":53,"protocol":"UDP"}', "f:port")) == \
        '.spec.ports[port=53,protocol="UDP"].port'
    assert format_path(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


def test_report_summary_counts_each_action() -> None:
    ref = ObjectRef("Secret", "s", "ns", "v1")
    report = Report("demo", "ns", planned=False, changes=[
        ObjectChange(ref, Action.CREATE), ObjectChange(ref, Action.CREATE), ObjectChange(ref, Action.UPDATE),
        ObjectChange(ref, Action.UNCHANGED)])

    assert report.summary() == "2 created, 1 updated, 0 deleted, 1 unchanged"
    assert Report("demo", "ns", planned=True).summary() == "0 to create, 0 to update, 0 to delete"


def test_rbac_grants_exactly_the_verbs_on_the_stack_kinds() -> None:
    objects = [_deployment(), {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}},
               {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "a"}}]

    manifests = deployer_rbac(objects, stack="demo", namespace="ns", subject="deployer",
                              subject_kind=SubjectKind.user)
    by_kind = {m["kind"]: m for m in manifests}

    assert set(by_kind) == {"Role", "RoleBinding"}
    assert by_kind["Role"]["rules"] == [
        {"apiGroups": [""], "resources": ["secrets", "serviceaccounts"], "verbs": list(DEPLOYER_VERBS)},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": list(DEPLOYER_VERBS)},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": list(DEPLOYER_VERBS)},
    ]
    assert by_kind["RoleBinding"]["subjects"] == [
        {"kind": "User", "name": "deployer", "apiGroup": "rbac.authorization.k8s.io"}]
    with_namespace = deployer_rbac(objects, stack="demo", namespace="ns", create_namespace=True)
    assert [m["kind"] for m in with_namespace] == [
        "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]


def test_a_stuck_pod_is_described_by_its_reason() -> None:
    from iac.backends.engine._engine import _pod_problem

    def pod(**status: Any) -> dict[str, Any]:
        return {"metadata": {"name": "baton-okta-1"}, "status": status}

    def container(**fields: Any) -> dict[str, Any]:
        return {"name": "connector", "restartCount": 0, **fields}

    assert _pod_problem(pod(phase="Running", containerStatuses=[container(ready=True, state={"running": {}})])) is None
    assert _pod_problem(pod(phase="Pending", conditions=[
        {"type": "PodScheduled", "status": "False", "message": "0/1 nodes are available: 1 Insufficient memory."}])) \
        == "pod baton-okta-1: not scheduled: 0/1 nodes are available: 1 Insufficient memory."
    assert _pod_problem(pod(phase="Pending", containerStatuses=[container(state={"waiting": {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "x:1"'}})])) \
        == 'pod baton-okta-1 container connector: ImagePullBackOff: Back-off pulling image "x:1"'
    assert _pod_problem(pod(phase="Running", containerStatuses=[container(
        restartCount=3, state={"waiting": {"reason": "CrashLoopBackOff"}},
        lastState={"terminated": {"reason": "OOMKilled", "exitCode": 137}})])) \
        == ("pod baton-okta-1 container connector: CrashLoopBackOff, restarted 3 times: last exit: OOMKilled, "
            "code 137")
    assert _pod_problem(pod(phase="Running", containerStatuses=[container(ready=False, state={"running": {}})])) \
        == "pod baton-okta-1 container connector: running but not Ready (its readiness probe is not passing)"
