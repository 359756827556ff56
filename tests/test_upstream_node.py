"""The upstream baton images (baton-okta, baton-coupa, baton-celigo) and the project's own runtime image as real
pods on the one-node cluster (tests/_node.py), run exactly as our manifests say.

The images: one layer on top of the session's runtime image (its Debian base carries the glibc and libsqlite3 the
upstream binaries need) with the verified binary at ``/usr/local/bin/baton-X`` as the entrypoint, tagged as
upstream tags it (``ghcr.io/conductorone/baton-okta:v0.25`` …), so the rendered manifests run unedited.

The vendors: each simulator behind its real hostname over TLS, all on port 443 of the node IP inside the node's
network namespace (one server, routed by ``Host``; one certificate naming every host). A pod reaches it through
``hostAliases`` and trusts it through a CA mounted from a ConfigMap (``SSL_CERT_FILE`` names the file). Those are
the only additions the test makes to a pod; everything else (securityContext, env, envFrom, volumes,
workingDir, probes) is as rendered.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import itertools
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _node import NODE_FIGURES, NodeCluster
from lightkube import Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Namespace, PersistentVolume, Pod
from starlette.types import ASGIApp, Receive, Scope, Send
from test_image import podman
from test_node import _subset

from iac import Celigo, ConductorOne, Coupa, Okta, Stack, secret
from iac.backends.engine import Engine, connect
from iac.c1z import open_c1z
from iac.render import render_stack
from iac.sim import CeligoSim, CoupaSim, OktaSim, serve
from iac.sim._tls import make_certificate
from iac.sim.upstream import upstream_binary

pytestmark = pytest.mark.slow

NAMESPACE = "upstream-node"
# A schedule that does not fire during a test run (Jan 1st): the test starts each run itself, as
# `kubectl create job --from=cronjob/NAME` does.
NEVER_SOON = "0 0 1 1 *"
JOB_TIMEOUT_S = 150
CA_CONFIGMAP = "vendor-ca"
CA_DIR = "/etc/vendor-ca"
UPSTREAM_TAGS = {"baton-okta": "ghcr.io/conductorone/baton-okta:v0.25",
                 "baton-coupa": "ghcr.io/conductorone/baton-coupa:v0.2",
                 "baton-celigo": "ghcr.io/conductorone/baton-celigo:v0.1"}
CronJobV1beta1 = create_namespaced_resource("batch", "v1beta1", "CronJob", "cronjobs")


# -- the images ----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def upstream_images(node_cluster: NodeCluster, node_runtime_image: str) -> dict[str, str]:
    """Each upstream binary in an image FROM the runtime image, loaded into the node: binary name -> tag."""
    started = time.monotonic()
    # FROM the image ID, not the tag: another session may be retagging the runtime image right now.
    base = podman("image", "inspect", "--format", "{{.Id}}", node_runtime_image).stdout.strip()
    for name, tag in UPSTREAM_TAGS.items():
        with tempfile.TemporaryDirectory(prefix="iac-upstream-image-") as context:
            shutil.copy2(upstream_binary(name), Path(context) / name)
            (Path(context) / "Containerfile").write_text(
                f"FROM {base}\nCOPY {name} /usr/local/bin/{name}\nENTRYPOINT [\"/usr/local/bin/{name}\"]\n")
            iid = Path(context) / "iid"
            built = podman("build", "--pull=never", "--iidfile", str(iid), "-t", tag, context, check=False,
                           timeout=300)
            assert built.returncode == 0, built.stderr[-2000:]
            node_cluster.load_podman_image(tag)
            # Cheap to rebuild, and the runtime image under it changes with the project: do not keep it.
            podman("rmi", "--force", iid.read_text().strip(), check=False)
    loaded = set(node_cluster.ctr("images", "ls", "-q").stdout.split())
    assert set(UPSTREAM_TAGS.values()) <= loaded, sorted(loaded)
    NODE_FIGURES.append(f"upstream images (3, one layer on the runtime image): built and loaded in "
                        f"{time.monotonic() - started:.1f} s")
    return dict(UPSTREAM_TAGS)


# -- the vendors ---------------------------------------------------------------------------------------------

def by_host(apps: dict[str, ASGIApp], calls: dict[str, list[datetime.datetime]]) -> ASGIApp:
    """One ASGI app that hands each request to the simulator of its ``Host``, noting when each call came."""
    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        host = dict(scope.get("headers") or []).get(b"host", b"").decode().rsplit(":", 1)[0]
        calls.setdefault(host, []).append(datetime.datetime.now(datetime.UTC))
        await apps[host](scope, receive, send)
    return route


@contextlib.contextmanager
def vendors_on_node(node: NodeCluster, apps: dict[str, ASGIApp], workdir: Path,
                    calls: dict[str, list[datetime.datetime]]) -> Iterator[Path]:
    """Serve each simulator as its hostname over HTTPS on the node IP's port 443 (inside the node's namespace,
    where nothing else listens on 443); yields the CA pods must trust. ``calls``: hostname -> request times."""
    hostnames = list(apps)
    tls = make_certificate(hostnames[0], workdir, also=hostnames[1:])
    running = contextlib.ExitStack()
    node.in_netns(lambda: running.enter_context(serve(by_host(apps, calls), host=node.node_ip, port=443, tls=tls)))
    try:
        yield tls.certificate
    finally:
        running.close()


def vendor_ca_configmap(ca: Path) -> ConfigMap:
    return ConfigMap.from_dict({"metadata": {"name": CA_CONFIGMAP, "namespace": NAMESPACE},
                                "data": {"ca.crt": ca.read_text()}})


def with_vendor_access(pod_spec: dict[str, Any], node: NodeCluster, hostname: str) -> dict[str, Any]:
    """The rendered pod spec plus the test's only additions: the vendor's name resolves to the node IP
    (``hostAliases``) and its CA is trusted (a ConfigMap volume; ``SSL_CERT_FILE`` names the file)."""
    spec = copy.deepcopy(pod_spec)
    spec["hostAliases"] = [{"ip": node.node_ip, "hostnames": [hostname]}]
    spec["volumes"] = [*spec["volumes"], {"name": CA_CONFIGMAP, "configMap": {"name": CA_CONFIGMAP}}]
    [container] = spec["containers"]
    container["volumeMounts"] = [*container["volumeMounts"],
                                 {"name": CA_CONFIGMAP, "mountPath": CA_DIR, "readOnly": True}]
    container["env"] = [*container["env"], {"name": "SSL_CERT_FILE", "value": f"{CA_DIR}/ca.crt"}]
    return spec


def without_vendor_access(pod_spec: dict[str, Any]) -> dict[str, Any]:
    """A live pod spec with the additions of :func:`with_vendor_access` taken out again."""
    spec = copy.deepcopy(pod_spec)
    del spec["hostAliases"]
    spec["volumes"] = [v for v in spec["volumes"] if v["name"] != CA_CONFIGMAP]
    for container in spec["containers"]:
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != CA_CONFIGMAP]
        container["env"] = [e for e in container["env"] if e["name"] != "SSL_CERT_FILE"]
    return spec


def rendered_pod_spec(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [workload] = [o for o in objects if o["kind"] in ("Deployment", "CronJob") and o["metadata"]["name"] == name]
    spec = workload["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" else spec["template"]
    return dict(template["spec"])


# -- the connectors ------------------------------------------------------------------------------------------

@dataclass
class Case:
    """One connector: its simulator behind ``hostname`` and what its c1z must hold."""

    connector: str
    hostname: str
    sim: Any
    environ: dict[str, str]
    stack_entry: Callable[..., Any]
    expected: Callable[[Any], dict[str, dict[str, int]]]
    """Rows per table and resource type the simulator's data makes (checked where the artifact is a c1z v1)."""


def okta_rows(sim: OktaSim) -> dict[str, dict[str, int]]:
    ds = sim.dataset
    return {"resources": {"user": ds.user_count, "group": ds.group_count, "app": ds.app_count}}


def upstream_okta_rows(sim: OktaSim) -> dict[str, dict[str, int]]:
    """baton-okta 0.25 also syncs devices, and grants membership of the Everyone group too. Its role grants are not
    compared: how it counts an admin role held by a group is not derived here."""
    ds = sim.dataset
    org = ds.counts()
    return {"resources": {"user": ds.user_count, "group": ds.group_count, "app": ds.app_count,
                          "device": ds.device_count()},
            "grants": {"group": ds.membership_count(include_everyone=True),
                       "app": org["app_user_assignments"] + org["app_group_assignments"]}}


def coupa_rows(sim: CoupaSim) -> dict[str, dict[str, int]]:
    users = sim.dataset.users
    return {"resources": {"user": len(users)},
            "grants": {"group": sum(len(u.user_groups) for u in users), "role": sum(len(u.roles) for u in users),
                       "license": sum(bin(u.licenses).count("1") for u in users)}}


def celigo_rows(sim: CeligoSim) -> dict[str, dict[str, int]]:
    ds = sim.dataset
    return {"resources": {"user": len(ds.ashares), "integration": len(ds.integrations)},
            "grants": {"role": sum(1 for share in ds.ashares if share.access_level)}}


def one_shot_cases() -> list[Case]:
    okta, ours = OktaSim(seed=5, users=30, groups=4, apps=2), OktaSim(seed=6, users=30, groups=4, apps=2)
    coupa = CoupaSim(seed=5, users=20)
    coupa.set_faults(latency_ms=45)  # baton-coupa does not pace itself (see test_upstream_connectors)
    celigo = CeligoSim(seed=5, users=20, integrations=2, page_size=100)

    def token(sim: OktaSim) -> str:
        return sim.auth_headers["Authorization"].split(" ", 1)[1]

    return [
        Case("okta", "acme.okta.com", okta, {"OKTA_TOKEN": token(okta)},
             lambda schedule, **extra: Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_TOKEN"),
                                            image=UPSTREAM_TAGS["baton-okta"], image_sdk="0.25",
                                            schedule=schedule, **extra),
             upstream_okta_rows),
        Case("coupa", "acme.coupahost.com", coupa, {"COUPA_SECRET": coupa.client_secret},
             lambda schedule, **extra: Coupa("coupa", domain="acme.coupahost.com", client_id=coupa.client_id,
                                             client_secret=secret.env("COUPA_SECRET"),
                                             image=UPSTREAM_TAGS["baton-coupa"], image_sdk="0.2",
                                             schedule=schedule, **extra),
             coupa_rows),
        Case("celigo", "api.integrator.io", celigo, {"CELIGO_TOKEN": celigo.token},
             lambda schedule, **extra: Celigo("celigo", access_token=secret.env("CELIGO_TOKEN"),
                                              image=UPSTREAM_TAGS["baton-celigo"], image_sdk="0.1",
                                              schedule=schedule, **extra),
             celigo_rows),
        # The project's runtime image, held to the same test: its own entrypoint (BATON_MODE=sync).
        Case("okta-ours", "globex.okta.com", ours, {"OURS_TOKEN": token(ours)},
             lambda schedule, **extra: Okta("okta-ours", domain="globex.okta.com",
                                            api_token=secret.env("OURS_TOKEN"), schedule=schedule, **extra),
             okta_rows),
    ]


# -- the cluster side ----------------------------------------------------------------------------------------

def hostpath_volumes_for(client: Client, objects: list[dict[str, Any]], root: Path) -> list[str]:
    """A hostPath PersistentVolume bound to each rendered claim (the node has no provisioner); the directory
    belongs to the pod's user, as a provisioner honouring fsGroup would leave it. Returns the PV names."""
    names = []
    for claim in (o for o in objects if o["kind"] == "PersistentVolumeClaim"):
        directory = root / claim["metadata"]["name"]
        directory.mkdir(parents=True)
        shutil.chown(directory, 65532, 65532)
        directory.chmod(0o770)
        name = f"{NAMESPACE}-{claim['metadata']['name']}"
        client.apply(PersistentVolume.from_dict({
            "metadata": {"name": name},
            "spec": {"capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
                     "accessModes": claim["spec"]["accessModes"], "persistentVolumeReclaimPolicy": "Retain",
                     "hostPath": {"path": str(directory), "type": "Directory"},
                     "claimRef": {"namespace": NAMESPACE, "name": claim["metadata"]["name"]}}}),
            field_manager="iac-test")
        names.append(name)
    return names


def job_from_cronjob(client: Client, cronjob: str, node: NodeCluster, hostname: str) -> dict[str, Any]:
    """What ``kubectl create job --from=cronjob/NAME`` creates (the live CronJob's jobTemplate, owned by it),
    plus the vendor access of :func:`with_vendor_access`."""
    live = client.get(CronJobV1beta1, cronjob, namespace=NAMESPACE).to_dict()
    template = live["spec"]["jobTemplate"]
    spec = copy.deepcopy(template["spec"])
    spec["template"]["spec"] = with_vendor_access(spec["template"]["spec"], node, hostname)
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": f"{cronjob}-manual", "namespace": NAMESPACE,
                         "labels": template["metadata"].get("labels", {}),
                         "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                         "ownerReferences": [{"apiVersion": "batch/v1beta1", "kind": "CronJob", "name": cronjob,
                                              "uid": live["metadata"]["uid"], "controller": True}]},
            "spec": spec}


def pod_logs(client: Client, selector: dict[str, str]) -> str:
    out = []
    for pod in client.list(Pod, namespace=NAMESPACE, labels=selector):
        name = pod.metadata.name if pod.metadata else ""
        with contextlib.suppress(Exception):
            out.append(f"--- {name}: {pod.status.to_dict() if pod.status else ''}\n"
                       + "\n".join(client.log(name or "", namespace=NAMESPACE)))
    return "\n".join(out)[-3000:]


def wait_for_jobs(client: Client, names: list[str], timeout: float) -> dict[str, float]:
    """Wait until every Job has succeeded; seconds from now until each did. Fails on a failed Job."""
    started = time.monotonic()
    done: dict[str, float] = {}
    while len(done) < len(names):
        for name in names:
            if name in done:
                continue
            status = client.get(Job, name, namespace=NAMESPACE).status
            if status and status.succeeded:
                done[name] = time.monotonic() - started
            elif status and status.failed:
                pytest.fail(f"Job {name} failed: {pod_logs(client, {'job-name': name})}")
        if time.monotonic() - started > timeout:
            pending = [n for n in names if n not in done]
            pytest.fail(f"Jobs {pending} not done after {timeout:.0f} s: "
                        + " ".join(pod_logs(client, {"job-name": n}) for n in pending))
        time.sleep(0.5)
    return done


@dataclass
class Deployed:
    node: NodeCluster
    client: Client
    engine: Engine
    cases: list[Case]
    objects: list[dict[str, Any]]
    volumes: Path
    calls: dict[str, list[datetime.datetime]]
    """Vendor hostname -> when each request reached its simulator."""


@contextlib.contextmanager
def deployed_stack(node: NodeCluster, cases: list[Case], workdir: Path, *, conductorone: ConductorOne | None = None,
                   environ: dict[str, str] | None = None, **settings: Any) -> Iterator[Deployed]:
    """``iac up`` (the engine) of one stack holding every case, with the simulators served and the CA
    ConfigMap in place; destroyed (and its volumes deleted) afterwards. A CronJob goes as rendered (its Jobs
    get the vendor access); a Deployment's pod template gets it before the apply."""
    stack = Stack("upstream-node", namespace=NAMESPACE, create_namespace=True, kubernetes_version="1.20",
                  conductorone=conductorone)
    for case in cases:
        stack.add(case.stack_entry(**settings))
    environ = {**(environ or {}), **{k: v for case in cases for k, v in case.environ.items()}}
    objects = render_stack(stack, environ=environ)
    hostnames = {f"baton-{case.connector}": case.hostname for case in cases}
    applied = copy.deepcopy(objects)
    for obj in applied:
        if obj["kind"] == "Deployment":
            template = obj["spec"]["template"]
            template["spec"] = with_vendor_access(template["spec"], node, hostnames[obj["metadata"]["name"]])
    client = node.closing(node.client())
    api = connect(node.kubeconfig)
    node.closing(api.client)
    engine = Engine(api, stack=stack.name, namespace=NAMESPACE)
    persistent: list[str] = []
    calls: dict[str, list[datetime.datetime]] = {}
    with vendors_on_node(node, {c.hostname: c.sim.app for c in cases}, workdir / "tls", calls) as ca:
        try:
            client.apply(Namespace.from_dict({"metadata": {"name": NAMESPACE}}), field_manager="iac-test")
            client.apply(vendor_ca_configmap(ca), field_manager="iac-test")
            persistent = hostpath_volumes_for(client, objects, workdir / "volumes")
            engine.up(applied)
            yield Deployed(node, client, engine, cases, objects, workdir / "volumes", calls)
        finally:
            engine.destroy()
            with contextlib.suppress(Exception):
                client.delete(ConfigMap, CA_CONFIGMAP, namespace=NAMESPACE)
            for name in persistent:
                with contextlib.suppress(Exception):
                    client.delete(PersistentVolume, name)


# -- one-shot (CronJob) mode ---------------------------------------------------------------------------------

def test_each_image_syncs_as_a_job_of_its_cronjob_and_leaves_its_c1z_on_the_claim(
        node_cluster: NodeCluster, upstream_images: dict[str, str], tmp_path: Path) -> None:
    cases = one_shot_cases()
    with deployed_stack(node_cluster, cases, tmp_path, schedule=NEVER_SOON) as deployed:
        client = deployed.client
        cronjobs = [o["metadata"]["name"] for o in deployed.objects if o["kind"] == "CronJob"]
        assert len(cronjobs) == 4
        jobs = []
        for case in cases:
            job = job_from_cronjob(client, f"baton-{case.connector}", node_cluster, case.hostname)
            client.create(Job.from_dict(job))
            jobs.append(job["metadata"]["name"])
        seconds = wait_for_jobs(client, jobs, JOB_TIMEOUT_S)
        NODE_FIGURES.append("one-shot Jobs (concurrent, from creation to success): " + ", ".join(
            f"{case.connector} {seconds[job]:.1f} s" for case, job in zip(cases, jobs, strict=True)))

        for case, job in zip(cases, jobs, strict=True):
            [pod] = client.list(Pod, namespace=NAMESPACE, labels={"job-name": job})
            # The pod ran the rendered template, the vendor access aside (the server only adds defaults).
            rendered = rendered_pod_spec(deployed.objects, f"baton-{case.connector}")
            assert _subset(rendered, without_vendor_access(pod.to_dict()["spec"])) == [], case.connector
            assert pod.status and pod.status.phase == "Succeeded", (case.connector, pod.status)
            [status] = pod.status.containerStatuses or []
            assert status.restartCount == 0, f"{case.connector} restarted: {pod_logs(client, {'job-name': job})}"
            logs = "\n".join(client.log(pod.metadata.name or "", namespace=NAMESPACE))  # type: ignore[union-attr]
            assert not any(value in logs for value in case.environ.values()), f"{case.connector} logged a secret"
            assert case.sim.stats.count() > 0, f"{case.connector} never called its simulator"
            artifact = deployed.volumes / f"baton-{case.connector}-data" / "sync.c1z"
            assert artifact.is_file(), (case.connector, sorted(p.name for p in artifact.parent.iterdir()))
            assert artifact.stat().st_uid == 65532, "written by the pod's user"
            # A c1z v1 from every image: baton-okta's SDK (0.25) writes v3 by default, so its pod has
            # BATON_STORAGE_ENGINE=sqlite from the rendered template.
            engine = [e for e in rendered["containers"][0]["env"] if e["name"] == "BATON_STORAGE_ENGINE"]
            assert engine == ([{"name": "BATON_STORAGE_ENGINE", "value": "sqlite"}] if case.connector == "okta"
                              else []), case.connector
            assert artifact.read_bytes()[:4] == b"C1ZF", case.connector
            with open_c1z(artifact) as c1z:
                counts = c1z.counts()
            expected = case.expected(case.sim)
            found = {table: {kind: counts[table].get(kind, 0) for kind in kinds} for table, kinds in expected.items()}
            assert found == expected, (case.connector, counts)


# -- service (Deployment) mode -------------------------------------------------------------------------------

SERVICE_WINDOW_S = 150


def conductorone() -> tuple[ConductorOne, dict[str, str]]:
    """Well-formed ConductorOne credentials for a tenant that does not exist here (ConductorOne unreachable)."""
    from test_upstream_pod import conductorone_secret

    return (ConductorOne(client_id="quiet-otter-12345@acme.conductor.one/pcc", client_secret=secret.env("C1_SECRET")),
            {"C1_SECRET": conductorone_secret()})


@dataclass
class Run:
    started: datetime.datetime
    finished: datetime.datetime | None = None
    exit_code: int | None = None
    reason: str = ""


def runs_of(status: Any) -> list[Run]:
    """The runs a container status shows: the last ended one and the current one."""
    runs = []
    for state in (status.lastState, status.state):
        if state and state.terminated and state.terminated.startedAt:
            ended = state.terminated
            runs.append(Run(ended.startedAt, ended.finishedAt, ended.exitCode, ended.reason or ""))
        elif state and state.running:
            runs.append(Run(state.running.startedAt))
    return runs


def container_status(pod: Pod | None) -> Any:
    statuses = (pod.status.containerStatuses if pod and pod.status else None) or []
    return statuses[0] if statuses else None


def test_service_mode_with_conductorone_unreachable(node_cluster: NodeCluster, upstream_images: dict[str, str],
                                                   tmp_path: Path) -> None:
    """Each image as a Deployment with well-formed ConductorOne credentials, ConductorOne unreachable. What
    each does (and what the manifests make of it) is in the README's "Upstream images and schedules"."""
    cases = one_shot_cases()
    c1, c1_environ = conductorone()
    with deployed_stack(node_cluster, cases, tmp_path, conductorone=c1, environ=c1_environ,
                        schedule=None) as deployed:
        client = deployed.client
        started = time.monotonic()
        runs: dict[str, dict[datetime.datetime, Run]] = {case.connector: {} for case in cases}
        ready_after: dict[str, float] = {}
        last_status: dict[str, Any] = {}
        hardening: dict[str, str] = {}
        while time.monotonic() - started < SERVICE_WINDOW_S:
            for case in cases:
                pods = [p for p in client.list(Pod, namespace=NAMESPACE, labels={"baton-app": case.connector})
                        if p.metadata and not p.metadata.deletionTimestamp]
                assert len(pods) <= 1, f"{case.connector}: {len(pods)} pods"
                status = container_status(pods[0] if pods else None)
                if status is None:
                    continue
                if case.connector not in last_status:
                    rendered = rendered_pod_spec(deployed.objects, f"baton-{case.connector}")
                    live = without_vendor_access(pods[0].to_dict()["spec"])
                    assert _subset(rendered, live) == [], case.connector
                last_status[case.connector] = status
                for run in runs_of(status):  # a later report of a run (its end) replaces the earlier one
                    if run.finished or run.started not in runs[case.connector]:
                        runs[case.connector][run.started] = run
                if status.ready:
                    ready_after.setdefault(case.connector, time.monotonic() - started)
                if case.connector == "okta" and status.state.running and not hardening:
                    # The upstream binary waits 30 s for ConductorOne here: time to read what the kubelet gave it.
                    with contextlib.suppress(RuntimeError, OSError):
                        hardening = process_hardening(node_cluster.container_pid(
                            NAMESPACE, pods[0].metadata.name or ""))  # type: ignore[union-attr]
            if len([r for r in runs["okta"].values() if r.finished]) >= 2 and len(runs["okta"]) >= 3 \
                    and "okta-ours" in ready_after:
                break
            time.sleep(1)

        def calls_during(hostname: str, run: Run) -> int:
            # Container times are whole seconds, rounded down: a run's calls come at or after its start, and the
            # next run's only after this one's real end, which is at or after its rounded end.
            return sum(1 for at in deployed.calls.get(hostname, [])
                       if at >= run.started and (run.finished is None or at < run.finished))

        okta = sorted(runs["okta"].values(), key=lambda r: r.started)
        ended = [r for r in okta if r.finished]
        restarted_after = [(b.started - a.finished).total_seconds() for a, b in itertools.pairwise(okta)
                           if a.finished]
        NODE_FIGURES.append(
            "service mode, ConductorOne unreachable: baton-okta runs "
            + ", ".join(f"{(r.finished - r.started).total_seconds():.0f} s exit {r.exit_code}" for r in ended)
            + f", restarted after {restarted_after} s, vendor calls per run "
            + f"{[calls_during('acme.okta.com', r) for r in ended]}; "
            + "; ".join(f"{name} Ready after {seconds:.1f} s" for name, seconds in sorted(ready_after.items())))

        # baton-okta (baton-sdk 0.25): one Validate call, 30 s for ConductorOne's Hello, exit 4; the kubelet
        # restarts it at once, then with back-off (10 s, doubling). Its health server never listens first, and
        # the startup probe's window (longer than the Hello timeout) never kills it: every exit is its own.
        assert len(ended) >= 2 and len(okta) >= 3, (okta, last_status.get("okta"))
        assert [(r.exit_code, r.reason) for r in ended] == [(4, "Error")] * len(ended), ended
        assert all(25 <= (r.finished - r.started).total_seconds() <= 45 for r in ended), ended  # type: ignore[operator]
        assert [calls_during("acme.okta.com", r) for r in ended] == [1] * len(ended), "one vendor call per run"
        assert set(cases[0].sim.stats.by_endpoint()) == {"GET /api/v1/org"}
        assert restarted_after[1] >= 9, f"the kubelet backs off: {restarted_after}"
        assert "okta" not in ready_after, "never Ready"
        assert hardening == {"uid": "65532", "gid": "65532", "capabilities": "0", "no_new_privs": "1",
                             "root": "ro"}, hardening

        # Our runtime: Ready (its health server answers the probes) and syncing; the upload to ConductorOne is
        # logged as unreachable; nothing restarts.
        assert "okta-ours" in ready_after and last_status["okta-ours"].restartCount == 0
        assert cases[3].sim.stats.count() > 0

        # baton-coupa (0.2) and baton-celigo (0.1): no health server, so no probes (Ready at once); they ask
        # ConductorOne for tasks, retrying, never exit and never call the vendor.
        for name, case in (("coupa", cases[1]), ("celigo", cases[2])):
            status = last_status[name]
            assert status.state.running and status.restartCount == 0, (name, status)
            assert case.sim.stats.count() == 0, (name, case.sim.stats.by_endpoint())


def process_hardening(pid: int) -> dict[str, str]:
    """What the kubelet gave a running container's process, read from /proc."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    mounts = [line.split() for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()]
    [root] = [m for m in mounts if m[4] == "/"]
    capabilities = {int(status[c], 16) for c in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    uids, gids = set(status["Uid"].split()), set(status["Gid"].split())
    return {"uid": ",".join(sorted(uids)), "gid": ",".join(sorted(gids)),
            "capabilities": ",".join(str(c) for c in sorted(capabilities)), "no_new_privs": status["NoNewPrivs"].strip(),
            "root": "ro" if "ro" in root[5].split(",") and not _can_write(Path(f"/proc/{pid}/root/etc")) else root[5]}


def _can_write(directory: Path) -> bool:
    try:
        (directory / "iac-node-probe").write_text("x")
    except OSError:
        return False
    return True
