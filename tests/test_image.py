"""The runtime image, built here without a registry and run as the manifests run it: read-only root,
uid 65532, no capabilities, host network to reach a simulator on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from _image import build_runtime_image
from _required import unavailable
from conftest import REPO_ROOT

from iac import __version__
from iac.c1z import open_c1z
from iac.sim import OktaSim, serve

CONTAINERS_ENV = {
    "CONTAINERS_CONF": str(REPO_ROOT / "containers" / "containers.conf"),
    "CONTAINERS_STORAGE_CONF": str(REPO_ROOT / "containers" / "storage.conf"),
}
HARDENED = ["--read-only", "--user", "65532", "--cap-drop", "ALL", "--network", "host"]


def podman(*args: str, check: bool = True, timeout: float = 300,
           secrets: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run podman; ``secrets`` reach it through its environment (``-e NAME`` passes one on by name), never
    its arguments, which every local user can read."""
    assert not any(value in arg for value in (secrets or {}).values() for arg in args), "a secret in argv"
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=check, timeout=timeout,
                          env={**os.environ, **CONTAINERS_ENV, **(secrets or {})})


@pytest.fixture(scope="module")
def image() -> str:
    if os.geteuid() != 0 and shutil.which("podman") is None:
        unavailable("podman", "it is missing and cannot be installed without root", "run `make test` as root")
    try:
        return build_runtime_image()  # once per session: the one-node cluster tests load the same build
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def okta() -> Iterator[tuple[OktaSim, str]]:
    sim = OktaSim(seed=7, users=120, groups=8, apps=4)
    with serve(sim.app) as base_url:
        yield sim, base_url


def connector_env(sim: OktaSim, base_url: str) -> tuple[list[str], dict[str, str]]:
    """``podman run`` arguments for the connector's settings, and the secrets they pass on by name."""
    secrets = {"BATON_API_TOKEN": sim.auth_headers["Authorization"].split(" ", 1)[1]}
    pairs = {"BATON_CONNECTOR": "okta", "BATON_DOMAIN": "acme.okta.com", "BATON_BASE_URL": base_url,
             "BATON_LOG_FORMAT": "json"}
    args = [arg for key, value in pairs.items() for arg in ("-e", f"{key}={value}")]
    return args + [arg for name in secrets for arg in ("-e", name)], secrets


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_image_metadata(image: str) -> None:
    assert image == f"localhost/baton-iac:{__version__}"
    inspect = podman("image", "inspect", image, "--format",
                     "{{.Config.User}}|{{index .Config.Labels \"org.opencontainers.image.version\"}}|"
                     "{{json .Config.ExposedPorts}}").stdout.strip()
    user, version, ports = inspect.split("|")
    assert user == "65532:65532"
    assert version == __version__
    assert "8081/tcp" in ports


def test_one_shot_sync_in_a_locked_down_container(image: str, okta: tuple[OktaSim, str], tmp_path: Path) -> None:
    sim, base_url = okta
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    args, secrets = connector_env(sim, base_url)
    result = podman("run", "--rm", *HARDENED, "-v", f"{data}:/data", *args, "-e", "BATON_MODE=sync", image,
                    check=False, secrets=secrets)
    assert result.returncode == 0, result.stderr[-3000:]
    token = sim.auth_headers["Authorization"].split(" ", 1)[1]
    assert token not in result.stdout + result.stderr
    with open_c1z(data / "sync.c1z") as c1z:  # BATON_FILE's default in the image
        counts = c1z.counts()["resources"]
    users, groups = counts["user"], counts["group"]
    assert users == sim.dataset.counts()["users"]
    assert groups == sim.dataset.counts()["groups"]


def test_service_mode_answers_health_and_stops_cleanly(image: str, okta: tuple[OktaSim, str],
                                                        tmp_path: Path) -> None:
    sim, base_url = okta
    port = free_port()
    name = f"iac-test-{port}"
    args, secrets = connector_env(sim, base_url)
    podman("run", "-d", "--name", name, *HARDENED, "--tmpfs", "/data:rw,size=64m,mode=1777", *args,
           "-e", f"BATON_HEALTH_CHECK_PORT={port}", "-e", "BATON_HEALTH_CHECK_BIND_ADDRESS=127.0.0.1", image,
           secrets=secrets)
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                if health.status_code == 200 and ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        assert health is not None and health.status_code == 200, podman("logs", name, check=False).stderr[-2000:]
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "baton_" in metrics or "iac_" in metrics
        stop = podman("stop", "-t", "20", name, check=False)
        assert stop.returncode == 0
        exit_code = podman("inspect", name, "--format", "{{.State.ExitCode}}").stdout.strip()
        assert exit_code == "0", podman("logs", name, check=False).stderr[-2000:]
    finally:
        podman("rm", "-f", name, check=False)


def test_runtime_requirements_are_project_dependencies() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = {dep.split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower()
                for dep in project["dependencies"]}
    lines = (REPO_ROOT / "containers" / "runtime-requirements.txt").read_text().splitlines()
    wanted = {line.strip().lower() for line in lines if line.strip() and not line.startswith("#")}
    assert wanted and wanted <= declared


def test_containerfile_starts_with_a_replaceable_base() -> None:
    lines = (REPO_ROOT / "Containerfile").read_text().splitlines()
    assert lines[0].startswith("ARG BASE=python:3.11-slim")
    assert lines[1].startswith("FROM ${BASE}")
