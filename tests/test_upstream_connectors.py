"""ConductorOne's own connectors (the anchors, ../shared/bin) run on our simulators: the test kit (verified
binaries, HTTPS for the vendor's hostname, a private /etc/hosts), every request baton-okta makes answered,
and baton-celigo's paging defect next to our connector completing the same account."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from iac.connectors.celigo import build as build_celigo
from iac.runtime import Artifact, SyncEngine, Wiring, load_settings
from iac.sim import CeligoSim, CoupaSim, OktaSim, serve
from iac.sim._tls import TlsFiles
from iac.sim.upstream import (
    UpstreamError,
    UpstreamRun,
    VendorEndpoint,
    error_log_lines,
    random_loopback_address,
    run_upstream,
    upstream_binary,
    vendor_endpoint,
)
from iac.spec import Celigo

OKTA_HOST = "acme.okta.com"


def completed(run: UpstreamRun) -> None:
    """A sync that finished: exit 0 and no error log line (the anchors exit 0 even after an aborted sync)."""
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.error_lines() == [], run.error_lines()[:3]


def unanswered(stats: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Endpoints that got anything but a 2xx (unmatched routes are counted as "unmatched")."""
    return {name: codes for name, codes in stats.items() if any(not code.startswith("2") for code in codes)}


# ---- the kit ----------------------------------------------------------------------------------------


def test_binaries_are_verified_against_their_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = upstream_binary("baton")
    assert os.access(real, os.X_OK) and real.name.startswith("baton-")
    # A shared dir whose archive does not match its .sha256 file is refused, and nothing is cached.
    fake = tmp_path / "shared" / "bin"
    fake.mkdir(parents=True)
    archive = fake / "baton-linux-amd64.xz"
    archive.write_bytes(lzma.compress(b"#!/bin/sh\necho tampered\n"))
    honest = hashlib.sha256(b"something else").hexdigest()
    (fake / "baton-linux-amd64.xz.sha256").write_text(
        f"{honest}  baton-linux-amd64.xz\n{honest}  baton (decompressed)\n")
    monkeypatch.setenv("IAC_SHARED_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("IAC_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(UpstreamError, match="sha256 does not match"):
        upstream_binary("baton")
    assert [p for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")] == []
    with pytest.raises(UpstreamError, match="not found"):
        upstream_binary("baton-nonexistent")


def test_the_binary_sees_the_vendor_name_and_the_machine_hosts_file_is_untouched(tmp_path: Path) -> None:
    before = Path("/etc/hosts").read_bytes()
    sim = OktaSim(seed=3, users=20, groups=3, apps=1)
    with vendor_endpoint(sim.app, OKTA_HOST, tmp_path) as endpoint:
        assert endpoint.address.startswith("127.") and not endpoint.address.startswith("127.0.0.")
        probe = run_upstream(Path("/bin/sh"), ["-c", "cat /etc/hosts; echo SSL=$SSL_CERT_FILE"],
                             endpoints=[endpoint])
    assert probe.returncode == 0
    assert f"{endpoint.address} {OKTA_HOST}" in probe.stdout and "SSL=" in probe.stdout
    assert Path("/etc/hosts").read_bytes() == before


def test_error_log_lines_reads_json_and_console_logs() -> None:
    text = '{"level":"info","msg":"a"}\n{"level":"error","msg":"b"}\n2026-12-04 ERROR c\nplain ERRORS are fine\n'
    assert error_log_lines(text) == ['{"level":"error","msg":"b"}', "2026-12-04 ERROR c"]


def test_the_sdks_shutdown_race_is_not_an_error_of_a_run_that_succeeded() -> None:
    race = ('{"level":"error","caller":"connector/connector.go:254","msg":"connector service quit unexpectedly",'
            '"error":"signal: killed"}')
    other = '{"level":"error","msg":"sync failed"}'
    assert UpstreamRun(0, "", f"{race}\n{other}\n", 1.0, 0).error_lines() == [other]
    assert UpstreamRun(1, "", f"{race}\n", 1.0, 0).error_lines() == [race]  # a failed run keeps every line


# ---- Okta: every request of a default sync and of each option set is answered ----------------------


@pytest.fixture(scope="module")
def okta_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OktaSim, VendorEndpoint]]:
    sim = OktaSim(seed=16, users=300, groups=25, apps=8)
    with vendor_endpoint(sim.app, OKTA_HOST, tmp_path_factory.mktemp("okta")) as endpoint:
        yield sim, endpoint


@pytest.mark.parametrize("options", [
    [],
    ["--sync-custom-roles"],
    ["--skip-secondary-emails", "--skip-app-groups", "--sync-inactive-apps=false"],
], ids=["default", "custom-roles", "skips"])
def test_upstream_okta_completes_and_every_request_is_answered(
        okta_org: tuple[OktaSim, VendorEndpoint], tmp_path: Path, options: list[str]) -> None:
    sim, endpoint = okta_org
    sim.stats.clear()
    run = run_upstream("baton-okta", ["--domain", OKTA_HOST, "-f", str(tmp_path / "out.c1z"),
                                      "--storage-engine", "sqlite", *options],
                       endpoints=[endpoint], env={"BATON_API_TOKEN": sim.token})
    completed(run)
    stats = sim.stats.by_endpoint()
    assert unanswered(stats) == {}
    assert {"GET /api/v1/org", "GET /api/v1/devices", "GET /api/v1/users"} <= set(stats)
    if "--sync-custom-roles" in options:
        assert {"GET /api/v1/iam/roles", "GET /api/v1/iam/resource-sets",
                "GET /api/v1/iam/resource-sets/{resourceSetIdOrLabel}/bindings/{roleIdOrLabel}/members"} <= set(stats)
    assert (tmp_path / "out.c1z").read_bytes()[:5] == b"C1ZF\x00"


# ---- Coupa: GraphQL reads and REST writes ----------------------------------------------------------


def test_upstream_coupa_syncs_through_graphql_and_its_writes_land(tmp_path: Path) -> None:
    sim = CoupaSim(seed=16, users=60)
    # The anchor does not pace itself and waits 60 s after a 429 with no headers; at >= 45 ms a request it
    # stays under Coupa's 25/s, as it would over a real network.
    sim.set_faults(latency_ms=45)
    ds = sim.dataset
    user = ds.users[5]
    group = next(g for g in range(len(ds.user_groups)) if 5 not in ds.group_members[g])
    role = next(r for r in range(len(ds.roles)) if r not in user.roles)
    license_flag = next(flag for flag in ("travel-user", "sourcing-user", "ccw-user") if not user.has_license(flag))
    env = {"BATON_COUPA_CLIENT_ID": sim.client_id, "BATON_COUPA_CLIENT_SECRET": sim.client_secret}
    base = ["--coupa-domain", "acme.coupahost.com", "-f", str(tmp_path / "out.c1z")]
    with vendor_endpoint(sim.app, "acme.coupahost.com", tmp_path) as endpoint:
        completed(run_upstream("baton-coupa", base, endpoints=[endpoint], env=env))
        assert set(sim.stats.by_endpoint()) == {"POST /oauth2/token", "POST /api/graphql"}
        assert unanswered(sim.stats.by_endpoint()) == {}
        for entitlement in (f"group:{ds.user_groups[group].id}:member", f"role:{ds.roles[role].id}:member",
                            f"license:{license_flag}:assigned"):
            grant = run_upstream("baton-coupa", [*base, "-p", "--grant-entitlement", entitlement,
                                                 "--grant-principal", str(user.id), "--grant-principal-type", "user"],
                                 endpoints=[endpoint], env=env)
            assert grant.returncode == 0, grant.stderr[-2000:]
    assert [w.status for w in sim.writes.entries("PUT")] == [200, 200, 200]
    assert group in user.user_groups and role in user.roles and user.has_license(license_flag)


# ---- Celigo: the anchor's paging defect --------------------------------------------------------------


def test_upstream_celigo_fails_past_one_page_where_ours_completes(tmp_path: Path) -> None:
    sim = CeligoSim(seed=16, users=150, integrations=4, page_size=100)  # two pages of account shares
    with vendor_endpoint(sim.app, "api.integrator.io", tmp_path) as endpoint:
        run = run_upstream("baton-celigo", ["-f", str(tmp_path / "up.c1z")], endpoints=[endpoint],
                           env={"BATON_CELIGO_ACCESS_TOKEN": sim.token})
    # It passes the raw Link header on as the next URL: the sync aborts (yet exits 0) after page one.
    errors = run.error_lines()
    assert errors and any('rel=\\\\\\"next' in line and "first path segment in URL cannot contain colon" in line
                          for line in errors), run.stderr[-2000:]
    assert sim.stats.by_endpoint()["GET /v1/ashares"] == {"200": 1}

    with serve(sim.app) as base_url:
        settings = load_settings(Celigo, environ={}, access_token=sim.token, base_url_override=base_url)
        connector = build_celigo(settings, Wiring())
        try:
            SyncEngine(connector, tmp_path / "ours.sqlite", workers=4).run()
        finally:
            connector.close()
    with Artifact(tmp_path / "ours.sqlite") as artifact:
        users = {rid for rtype, rid, _ in artifact.content()["resources"] if rtype == "user"}
    assert len(users) == len(sim.dataset.ashares) > 100


# ---- the CLI: `iac sim <vendor> --tls` is what an upstream binary can be pointed at -------------------


def test_iac_sim_tls_serves_the_vendor_hostname_to_an_upstream_binary(tmp_path: Path) -> None:
    address = random_loopback_address()
    command = [sys.executable, "-m", "iac", "sim", "celigo", "--tls", "--host", address, "--port", "443",
               "--users", "30", "--print-credentials"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None and server.stderr is not None
            base_url = server.stdout.readline().strip()
            credentials = json.loads(server.stdout.readline())
            assert base_url == "https://api.integrator.io", base_url
            announced = ""
            while "tls: certificate" not in announced:
                announced = server.stderr.readline()
                assert announced, "iac sim exited before announcing its certificate"
            match = re.search(r"at (\S+\.crt)", announced)
            assert match, announced
            certificate = Path(match.group(1))
            endpoint = VendorEndpoint("api.integrator.io", address,
                                      TlsFiles(certificate, certificate, "api.integrator.io"))
            completed(run_upstream("baton-celigo", ["-f", str(tmp_path / "out.c1z")], endpoints=[endpoint],
                                   env={"BATON_CELIGO_ACCESS_TOKEN": credentials["token"]}))
        finally:
            server.terminate()
            server.wait(10)
    assert server.returncode == 0
    assert not certificate.exists()  # the temporary certificate and key go with the server
