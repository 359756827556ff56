"""Kinds: apply order, REST resource names, and lightkube classes for built-in and custom kinds. No IO."""

from __future__ import annotations

from typing import Any

from lightkube.core.exceptions import LoadResourceError
from lightkube.core.resource import GlobalResource, NamespacedResource
from lightkube.core.resource_registry import resource_registry
from lightkube.generic_resource import create_global_resource, create_namespaced_resource

from iac.backends.engine._model import ObjectRef

__all__ = ["ResourceType", "apply_rank", "plural_of", "resource_type",
           "versions_for_group_kind"]

ResourceType = type[NamespacedResource] | type[GlobalResource]

# Things others refer to go first (namespace, credentials, identities), workloads last; deletes reverse it.
_RANK = {
    "CustomResourceDefinition": 0, "Namespace": 1, "ResourceQuota": 2, "LimitRange": 2,
    "ServiceAccount": 3, "Secret": 3, "ConfigMap": 3, "Role": 4, "RoleBinding": 5,
    "NetworkPolicy": 6, "Service": 6, "PersistentVolumeClaim": 6,
    "Deployment": 8, "StatefulSet": 8, "DaemonSet": 8, "Job": 8, "CronJob": 8,
}
_DEFAULT_RANK = 7
_STABLE_VERSIONS = ("v1", "v2", "v1beta1", "v1beta2", "v1alpha1")
# API versions older clusters serve that lightkube's (newest) models no longer carry: a stack rendered for
# Kubernetes 1.20 (kubernetes_version) has its CronJobs as batch/v1beta1.
_OLDER_SERVED = {"CronJob.batch": ("batch/v1beta1",)}


def apply_rank(kind: str) -> int:
    return _RANK.get(kind, _DEFAULT_RANK)


def resource_type(ref: ObjectRef, *, namespaced: bool | None = None) -> ResourceType:
    """The lightkube class for ``ref``'s apiVersion/kind; custom kinds get a generic class."""
    try:
        found: Any = resource_registry.load(ref.api_version, ref.kind)
        return found  # type: ignore[no-any-return]
    except (LoadResourceError, ValueError):
        pass
    group, _, version = ref.api_version.rpartition("/")
    # Custom resources: the REST name is by convention the lower-case plural of the kind.
    plural = plural_of(ref.kind)
    if namespaced is False or (namespaced is None and ref.namespace is None):
        return create_global_resource(group, version, ref.kind, plural)
    return create_namespaced_resource(group, version, ref.kind, plural)


def plural_of(kind: str) -> str:
    lower = kind.lower()
    if lower.endswith(("s", "x", "ch", "sh")):
        return f"{lower}es"
    if lower.endswith("y") and lower[-2:-1] not in ("a", "e", "i", "o", "u"):
        return f"{lower[:-1]}ies"
    return f"{lower}s"


def versions_for_group_kind(group_kind: str) -> list[str]:
    """apiVersions to list ``Kind.group`` with when no manifest names one (a kind that left the stack entirely),
    newest first: the stable versions lightkube ships models for, then older ones a cluster may serve instead
    (the caller tries the next when the server does not serve one). Empty for kinds it does not know."""
    kind, _, group = group_kind.partition(".")
    found = []
    for version in _STABLE_VERSIONS:
        api_version = f"{group}/{version}" if group else version
        try:
            resource_registry.load(api_version, kind)
        except (LoadResourceError, ValueError, ImportError):
            continue
        found.append(api_version)
    return found + [v for v in _OLDER_SERVED.get(group_kind, ()) if v not in found]
