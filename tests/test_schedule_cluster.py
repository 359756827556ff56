"""A scheduled connector through the deploy engine on the real kube-apiserver v1.20.2, which serves CronJob only
as batch/v1beta1: the stack says so (kubernetes_version="1.20"). Apply, a no-op re-apply, the switch to a
Deployment (the CronJob is pruned under the version the cluster serves), destroy."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from _cluster import KubeCluster
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import PersistentVolumeClaim

from iac import ConductorOne, Okta, Stack, Storage, secret
from iac.backends.engine import Action, Engine, connect
from iac.render import render_stack

pytestmark = pytest.mark.cluster

ENV = {"TOK": "sentinel-schedule-token", "C1S": "sentinel-schedule-c1"}
CronJobV1beta1 = create_namespaced_resource("batch", "v1beta1", "CronJob", "cronjobs")


def _stack(namespace: str, **settings: Any) -> Stack:
    return Stack("sched", namespace=namespace, create_namespace=True, kubernetes_version="1.20",
                 conductorone=ConductorOne(client_id="id", client_secret=secret.env("C1S"))).add(
        Okta("okta", domain="acme.okta.com", api_token=secret.env("TOK"), storage=Storage(size="2Gi"), **settings))


def _contains(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(_contains(v, actual.get(k)) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and \
            all(_contains(e, a) for e, a in zip(expected, actual, strict=True))
    return bool(expected == actual)


def test_engine_applies_prunes_and_destroys_a_cronjob_on_kubernetes_1_20(kube_cluster: KubeCluster) -> None:
    namespace = f"sched-{secrets.token_hex(3)}"
    admin = kube_cluster.client()
    api = connect(kube_cluster.kubeconfig)
    kube_cluster.closing(api.client)
    engine = Engine(api, stack="sched", namespace=namespace)

    scheduled = render_stack(_stack(namespace, schedule="0 */6 * * *"), environ=ENV)
    assert [o["apiVersion"] for o in scheduled if o["kind"] == "CronJob"] == ["batch/v1beta1"]
    engine.up(scheduled)
    for obj in scheduled:
        if obj["kind"] in ("CronJob", "PersistentVolumeClaim"):
            resource = CronJobV1beta1 if obj["kind"] == "CronJob" else PersistentVolumeClaim
            live = admin.get(resource, obj["metadata"]["name"], namespace=namespace).to_dict()
            assert _contains(obj["spec"], live["spec"]), obj["kind"]
    assert not engine.preview(scheduled).has_changes, "a second apply changes nothing"

    # The schedule goes: a Deployment replaces the CronJob, which the engine prunes as batch/v1beta1 (the
    # ApplySet records only CronJob.batch, and batch/v1 is not served here).
    service = render_stack(_stack(namespace), environ=ENV)
    report = engine.up(service)
    assert {(c.ref.kind, c.action) for c in report.changes} >= {("CronJob", Action.DELETE),
                                                                 ("Deployment", Action.CREATE)}
    assert not list(admin.list(CronJobV1beta1, namespace=namespace))
    assert admin.get(Deployment, "baton-okta", namespace=namespace).metadata is not None
    claim = admin.get(PersistentVolumeClaim, "baton-okta-data", namespace=namespace)
    assert claim.metadata is not None and claim.metadata.deletionTimestamp is None, "the artifact's claim stays"

    engine.up(scheduled)  # and back
    engine.destroy()
    assert not list(admin.list(CronJobV1beta1, namespace=namespace)), "deleted, its Jobs not orphaned"
    assert not list(admin.list(Deployment, namespace=namespace))
