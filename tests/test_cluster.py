"""The real-cluster fixture behaves like a Kubernetes API server where the deploy engine relies on it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from _cluster import KubeCluster
from lightkube import ApiError, Client
from lightkube.resources.core_v1 import ConfigMap, Namespace

pytestmark = pytest.mark.cluster


@pytest.fixture
def namespace(kube_cluster: KubeCluster) -> Iterator[str]:
    name = f"cluster-{secrets.token_hex(3)}"
    admin = kube_cluster.client()
    admin.create(Namespace.from_dict({"metadata": {"name": name}}))
    yield name
    admin.delete(Namespace, name)


def _config_map(namespace: str, value: str) -> ConfigMap:
    return ConfigMap.from_dict({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "probe", "namespace": namespace}, "data": {"k": value}})


def test_server_side_apply_creates_then_unchanged_reapply_keeps_resource_version(
        kube_cluster: KubeCluster, namespace: str) -> None:
    admin: Client = kube_cluster.client(field_manager="cluster-test")

    created = admin.apply(_config_map(namespace, "v1"))
    again = admin.apply(_config_map(namespace, "v1"))
    changed = admin.apply(_config_map(namespace, "v2"))

    assert admin.get(ConfigMap, "probe", namespace=namespace).data == {"k": "v2"}
    assert created.metadata is not None and again.metadata is not None and changed.metadata is not None
    assert again.metadata.resourceVersion == created.metadata.resourceVersion
    assert changed.metadata.resourceVersion != created.metadata.resourceVersion


def test_rbac_denies_an_unprivileged_user(kube_cluster: KubeCluster, namespace: str) -> None:
    nobody = kube_cluster.client("nobody", field_manager="cluster-test")

    with pytest.raises(ApiError) as denied:
        nobody.apply(_config_map(namespace, "v1"))

    assert denied.value.status.code == 403
    assert "nobody" in (denied.value.status.message or "")


def test_admin_kubeconfig_uses_the_iac_test_context(kube_cluster: KubeCluster) -> None:
    text = kube_cluster.kubeconfig.read_text()

    assert "current-context: iac-test" in text
    assert kube_cluster.server.startswith("https://127.0.0.1:")
