"""The least privilege a deployer identity needs to run preview/up/refresh/destroy for one stack. Pure."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from iac.backends.engine._applyset import ApplySet
from iac.backends.engine._kinds import resource_type
from iac.backends.engine._model import Manifest, ObjectRef

__all__ = ["DEPLOYER_VERBS", "SubjectKind", "deployer_rbac"]

# get: the ApplySet parent, adoption checks, rollout status; list: members by label; create + patch:
# server-side apply (an apply that creates is authorised as create too); delete: prune and destroy.
DEPLOYER_VERBS = ("create", "delete", "get", "list", "patch")


class SubjectKind(enum.StrEnum):
    service_account = "ServiceAccount"
    user = "User"
    group = "Group"


def deployer_rbac(objects: Iterable[Mapping[str, Any]], *, stack: str, namespace: str,
                  subject: str | None = None, subject_kind: SubjectKind = SubjectKind.service_account,
                  create_namespace: bool = False) -> list[Manifest]:
    """Role + RoleBinding (+ the ServiceAccount, + namespace rights when the stack creates it)."""
    name = f"iac-deployer-{stack}"
    subject = subject or name
    rules: dict[str, set[str]] = {}
    parent = ApplySet(stack, namespace).parent_ref
    for ref in [parent, *(ObjectRef.of(o) for o in objects if o.get("kind") != "Namespace")]:
        rules.setdefault(ref.group, set()).add(str(resource_type(ref)._api_info.plural))
    labels = {"app.kubernetes.io/part-of": stack, "app.kubernetes.io/managed-by": "iac"}
    subject_ref: dict[str, str] = {"kind": subject_kind.value, "name": subject}
    if subject_kind is SubjectKind.service_account:
        subject_ref["namespace"] = namespace
    else:
        subject_ref["apiGroup"] = "rbac.authorization.k8s.io"

    manifests: list[Manifest] = []
    if subject_kind is SubjectKind.service_account:
        manifests.append({"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": subject, "namespace": namespace, "labels": labels}})
    manifests.append({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "rules": [{"apiGroups": [group], "resources": sorted(resources), "verbs": list(DEPLOYER_VERBS)}
                  for group, resources in sorted(rules.items())],
    })
    manifests.append({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [subject_ref],
    })
    if create_namespace:
        # Namespaces are cluster-scoped, so this needs a ClusterRole; get/patch are pinned to the one
        # namespace, but Kubernetes cannot pin create to a name.
        cluster_name = f"{name}-namespace"
        manifests.append({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": cluster_name, "labels": labels},
            "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"],
                       "resourceNames": [namespace]},
                      {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["create"]}],
        })
        manifests.append({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": cluster_name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
            "subjects": [subject_ref],
        })
    return manifests
