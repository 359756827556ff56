"""The upstream baton binaries run exactly as the rendered pod says: the env of the CronJob (or Deployment) and
its Secret, the pod's user and group, a read-only root, capabilities dropped, no privilege escalation, the
working directory, and only the declared volumes writable — in podman, with the project's own image as the root
filesystem (its base carries the glibc and libsqlite3 the binaries need) and the binary bind-mounted read-only.
The simulators serve the vendor's hostname over TLS on loopback; the container shares the host network and is
told the name's address and the simulator's CA (the only additions the test makes to the pod)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from _image import build_runtime_image
from _required import unavailable
from test_image import CONTAINERS_ENV, free_port, podman

from iac import Celigo, ConductorOne, Coupa, Okta, Stack, secret
from iac.c1z import open_c1z
from iac.render import HEALTH_PORT, render_stack
from iac.sim import CeligoSim, CoupaSim, OktaSim
from iac.sim.upstream import VendorEndpoint, upstream_binary, vendor_endpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image() -> str:
    if os.geteuid() != 0 and shutil.which("podman") is None:
        unavailable("podman", "it is missing and cannot be installed without root", "run `make test` as root")
    try:
        return build_runtime_image()
    except RuntimeError as exc:
        pytest.fail(str(exc))


def workload_of(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(pod spec, its connector container) of the stack's one Deployment or CronJob."""
    [workload] = [o for o in objects if o["kind"] in ("Deployment", "CronJob")]
    spec = workload["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" else spec["template"]
    [container] = template["spec"]["containers"]
    return template["spec"], container


@dataclass
class PodRun:
    args: list[str]
    secrets: dict[str, str]
    volumes: dict[str, Path]


def pod_as_podman(objects: list[dict[str, Any]], root: Path) -> PodRun:
    """``podman run`` arguments that reproduce the rendered pod; secret values pass by name (``-e NAME``)."""
    pod, container = workload_of(objects)
    context, hardening = pod["securityContext"], container["securityContext"]
    assert hardening["readOnlyRootFilesystem"] is True and hardening["allowPrivilegeEscalation"] is False
    args = ["--read-only", "--read-only-tmpfs=false", "--user", f"{context['runAsUser']}:{context['runAsGroup']}",
            "--group-add", str(context["fsGroup"]), "--security-opt", "no-new-privileges",
            *[a for cap in hardening["capabilities"]["drop"] for a in ("--cap-drop", cap)], "--network", "host"]
    if "workingDir" in container:
        args += ["--workdir", container["workingDir"]]
    declared = {v["name"]: v for v in pod["volumes"]}
    volumes: dict[str, Path] = {}
    for mount in container["volumeMounts"]:
        host = root / mount["name"]
        host.mkdir()
        os.chown(host, context["runAsUser"], context["fsGroup"])  # what fsGroup gives the pod's volumes
        host.chmod(0o770)
        volumes[mount["name"]] = host
        assert "emptyDir" in declared[mount["name"]] or "persistentVolumeClaim" in declared[mount["name"]]
        args += ["-v", f"{host}:{mount['mountPath']}:rw"]
    secrets: dict[str, str] = {}
    for item in container["env"]:
        if "value" in item:
            args += ["-e", f"{item['name']}={item['value']}"]
    for source in container.get("envFrom", []):
        [secret_obj] = [o for o in objects if o["kind"] == "Secret" and
                        o["metadata"]["name"] == source["secretRef"]["name"]]
        for key, value in secret_obj["data"].items():
            secrets[key] = base64.b64decode(value).decode()
            args += ["-e", key]
    return PodRun(args, secrets, volumes)


@dataclass(frozen=True)
class Vendor:
    hostname: str
    sim: Callable[[], Any]
    connector: Callable[[Any], Any]
    environ: Callable[[Any], dict[str, str]]


VENDORS = {
    "okta": Vendor("acme.okta.com", lambda: OktaSim(seed=5, users=40, groups=4, apps=2),
                   lambda sim: Okta("okta", domain="acme.okta.com", api_token=secret.env("TOKEN"),
                                    image="ghcr.io/conductorone/baton-okta:v0.25", image_sdk="0.25",
                                    schedule="0 */6 * * *"),
                   lambda sim: {"TOKEN": sim.auth_headers["Authorization"].split(" ", 1)[1]}),
    "coupa": Vendor("acme.coupahost.com", lambda: CoupaSim(seed=5, users=20),
                    lambda sim: Coupa("coupa", domain="acme.coupahost.com", client_id=sim.client_id,
                                      client_secret=secret.env("TOKEN"), image="ghcr.io/conductorone/baton-coupa:v0.2",
                                      image_sdk="0.2", schedule="0 */6 * * *"),
                    lambda sim: {"TOKEN": sim.client_secret}),
    # The project's runtime image, held to the same test: its own entrypoint (BATON_MODE=sync), same pod.
    "okta-runtime": Vendor("acme.okta.com", lambda: OktaSim(seed=5, users=40, groups=4, apps=2),
                           lambda sim: Okta("okta", domain="acme.okta.com", api_token=secret.env("TOKEN"),
                                            schedule="0 */6 * * *"),
                           lambda sim: {"TOKEN": sim.auth_headers["Authorization"].split(" ", 1)[1]}),
    "celigo": Vendor("api.integrator.io", lambda: CeligoSim(seed=5, users=20, integrations=2, page_size=100),
                     lambda sim: Celigo("celigo", access_token=secret.env("TOKEN"),
                                        image="ghcr.io/conductorone/baton-celigo:v0.1", image_sdk="0.1",
                                        schedule="0 */6 * * *"),
                     lambda sim: {"TOKEN": sim.token}),
}


@pytest.mark.parametrize("name", list(VENDORS))
def test_an_upstream_cronjob_pod_syncs_and_leaves_its_c1z_on_the_data_volume(name: str, image: str,
                                                                               tmp_path: Path) -> None:
    vendor = VENDORS[name]
    sim = vendor.sim()
    if name == "coupa":
        sim.set_faults(latency_ms=45)  # the anchor does not pace itself (see test_upstream_connectors)
    environ = vendor.environ(sim)
    objects = render_stack(Stack("pods").add(vendor.connector(sim)), environ=environ)
    pod = pod_as_podman(objects, tmp_path)
    ours = name.endswith("-runtime")
    binary = None if ours else upstream_binary(f"baton-{name}")
    with vendor_endpoint(sim.app, vendor.hostname, tmp_path / "tls-work") as endpoint:
        result = run_pod(image, pod, binary, endpoint)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    assert not any(value in result.stdout + result.stderr for value in pod.secrets.values())
    assert sum(sum(codes.values()) for codes in sim.stats.by_endpoint().values()) > 0, "it synced from the simulator"
    env = {e["name"]: e.get("value") for e in workload_of(objects)[1]["env"]}
    artifact = Path(str(pod.volumes["data"]) + env["BATON_FILE"].removeprefix("/data"))
    assert artifact.is_file(), sorted(p.name for p in pod.volumes["data"].iterdir())
    assert artifact.stat().st_uid == 65532, "written by the pod's user"
    # A c1z v1 from every image: baton-okta 0.25 would write v3 (Pebble), but the pod has BATON_STORAGE_ENGINE=sqlite.
    assert artifact.read_bytes()[:4] == b"C1ZF"
    with open_c1z(artifact) as c1z:
        users = c1z.counts()["resources"].get("user", 0)
    assert users == sim.dataset.user_count if name.startswith("okta") else users > 0


def run_pod(image: str, pod: PodRun, binary: Path | None, endpoint: VendorEndpoint) -> Any:
    """Run the pod to completion; ``binary``: an upstream binary as the entrypoint (None: the image's own)."""
    ca = endpoint.tls.certificate
    ca.chmod(0o644)
    args = ["run", "--rm", *pod.args, "--add-host", f"{endpoint.hostname}:{endpoint.address}",
            "-v", f"{ca}:/etc/iac-ca.pem:ro", "-e", "SSL_CERT_FILE=/etc/iac-ca.pem"]
    if binary is not None:
        args += ["-v", f"{binary}:/usr/local/bin/{binary.name}:ro", "--entrypoint", f"/usr/local/bin/{binary.name}"]
    args.append(image)
    return podman(*args, check=False, timeout=300, secrets=pod.secrets)


def conductorone_secret() -> str:
    """A well-formed ConductorOne client secret (an Ed25519 JWK) for a tenant that does not exist here."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    private = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = json.dumps({"kty": "OKP", "crv": "Ed25519", "d": b64(private), "x": b64(public)})
    return "secret-token:conductorone.com:v1:" + b64(jwk.encode())


def test_service_mode_upstream_okta_probe_endpoints(image: str, tmp_path: Path) -> None:
    sim = OktaSim(seed=5, users=20, groups=2, apps=1)
    c1 = ConductorOne(client_id="quiet-otter-12345@acme.conductor.one/pcc", client_secret=secret.env("C1"))
    connector = Okta("okta", domain="acme.okta.com", api_token=secret.env("TOKEN"), conductorone=c1,
                     image="ghcr.io/conductorone/baton-okta:v0.25", image_sdk="0.25")
    environ = {"TOKEN": sim.auth_headers["Authorization"].split(" ", 1)[1], "C1": conductorone_secret()}
    objects = render_stack(Stack("pods").add(connector), environ=environ)
    pod = pod_as_podman(objects, tmp_path)
    port = free_port()
    pod.args = [a.replace(f"BATON_HEALTH_CHECK_PORT={HEALTH_PORT}", f"BATON_HEALTH_CHECK_PORT={port}")
                for a in pod.args]
    name = f"iac-upstream-{port}"
    binary = upstream_binary("baton-okta")
    with vendor_endpoint(sim.app, "acme.okta.com", tmp_path / "tls-work") as endpoint:
        ca = endpoint.tls.certificate
        ca.chmod(0o644)
        started = podman("run", "-d", "--name", name, *pod.args, "--add-host", f"acme.okta.com:{endpoint.address}",
                         "-v", f"{ca}:/etc/iac-ca.pem:ro", "-e", "SSL_CERT_FILE=/etc/iac-ca.pem",
                         "-v", f"{binary}:/usr/local/bin/baton-okta:ro", "--entrypoint", "/usr/local/bin/baton-okta",
                         image, check=False, secrets=pod.secrets)
        assert started.returncode == 0, started.stderr
        # `podman wait` returns when the container exits: the loop ends on that, not on a polled state that a
        # loaded machine may report late (or as "created"/"stopping" in between).
        waiter = subprocess.Popen(["podman", "wait", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env={**os.environ, **CONTAINERS_ENV})
        try:
            answered = False
            deadline = time.monotonic() + 180  # its own Hello timeout is 30 s; slack for a loaded machine
            while waiter.poll() is None and time.monotonic() < deadline:
                for path in ("/live", "/ready"):
                    with contextlib.suppress(httpx.HTTPError):
                        answered |= httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code < 500
                with contextlib.suppress(subprocess.TimeoutExpired):
                    waiter.wait(timeout=1)
            exited = waiter.poll() is not None
            logs = podman("logs", name, check=False)
            output = logs.stdout + logs.stderr
        finally:
            if waiter.poll() is None:
                waiter.kill()
            waited, _ = waiter.communicate()
            podman("rm", "-f", name, check=False)
    # What baton-okta (baton-sdk 0.25) does with ConductorOne unreachable: one Validate call to the vendor, a
    # 30 s Hello to ConductorOne that times out, exit 4 -- its health server never listens before that. As a pod
    # (tests/test_upstream_node.py): restarts with back-off, one vendor call each; the startup probe (2 minutes)
    # never kills it first.
    assert exited, f"still running after 180 s: {output[-2000:]}"
    assert waited.strip() == "4", (waited, output[-2000:])
    assert "startup Hello failed" in output, output[-2000:]
    assert not answered, "no health server before ConductorOne answers"
    assert dict(sim.stats.by_endpoint()) == {"GET /api/v1/org": {"200": 1}}, output[-2000:]
    assert not any(value in output for value in pod.secrets.values())
    _, container = workload_of(objects)
    assert container["startupProbe"]["periodSeconds"] * container["startupProbe"]["failureThreshold"] > 30
