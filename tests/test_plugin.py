"""A third-party integration plugs in without editing the project: tests/toy_plugin/baton_toy (spec, connector,
simulator, registration) is installed the way pip would (a dist-info whose entry_points.txt names it in the
``baton_iac.integrations`` group) and then renders, validates, shows in the catalog, runs under `iac sim`,
syncs through `iac connector`, runs in the demo, matches its catalog and passes fault-matrix cases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest
import yaml
from _catalog_check import assert_catalog_matches_connector
from _sim_helpers import iac_sim
from conftest import RunIac
from test_fault_matrix import run_fault_case, run_provisioning_case, serving_org

from iac import load_stack
from iac.demo import review_demo, run_demo
from iac.errors import PluginError
from iac.plugins import ENTRY_POINT_GROUP, IntegrationPlugin, get_plugin, plugins, refresh, resolve
from iac.review import review_file
from iac.runtime import Artifact

TOY = Path(__file__).resolve().parent / "toy_plugin"
TOY_STACK = TOY / "toy_stack.py"


def install_toy(site: Path) -> None:
    """What installing the package leaves on sys.path: its metadata, with the entry point."""
    dist = site / "baton_iac_toy-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: baton-iac-toy\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ntoy = baton_toy:PLUGIN\n")


@pytest.fixture(scope="module")
def toy_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The toy installed in this process (sys.path) and for child processes (PYTHONPATH)."""
    assert "toy" not in plugins(), "the toy must be registered by its entry point only"
    site = tmp_path_factory.mktemp("site")
    install_toy(site)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(TOY))
        patch.syspath_prepend(str(site))
        refresh()
        try:
            yield {"PYTHONPATH": os.pathsep.join(p for p in (str(site), str(TOY), os.environ.get("PYTHONPATH"))
                                                 if p)}
        finally:
            refresh()


def test_the_entry_point_registers_the_toy(toy_env: dict[str, str]) -> None:
    import baton_toy

    assert [e.value for e in entry_points(group=ENTRY_POINT_GROUP) if e.name == "toy"] == ["baton_toy:PLUGIN"]
    registry = plugins()
    assert registry["toy"] is baton_toy.PLUGIN
    assert list(registry)[:5] == ["okta", "coupa", "concur", "celigo", "custom"]  # bundled first, in order


def test_every_bundled_registration_resolves_and_agrees_with_its_spec() -> None:
    for name, plugin in plugins().items():
        spec = plugin.spec_class()
        assert spec.integration.name == name
        # the catalog's "bundled runtime" is the registration's connector, nothing else
        assert (plugin.build() is not None) == spec.integration.bundled_runtime, name
        if plugin.simulator is not None:
            assert callable(resolve(plugin.simulator.factory)), name
    with pytest.raises(PluginError, match="plugin 'acme' names a spec whose integration is 'okta'"):
        IntegrationPlugin(name="acme", spec="iac.spec.integrations.okta:Okta").spec_class()
    with pytest.raises(PluginError, match="unknown integration 'acme'; known: okta, coupa"):
        get_plugin("acme")


def test_a_broken_registration_is_one_line_naming_it(tmp_path: Path, run_iac: RunIac) -> None:
    dist = tmp_path / "baton_iac_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: baton-iac-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nbroken = baton_missing:PLUGIN\n")
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)}
    for command in (("catalog",), ("sim", "--help")):
        result = run_iac(*command, env=env)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: integration plugin 'broken' (baton_missing:PLUGIN) cannot be "
                                        "loaded: ModuleNotFoundError"), result.stderr
        assert "Traceback" not in result.stderr


def test_catalog_explain_validate_and_render(toy_env: dict[str, str], run_iac: RunIac) -> None:
    catalog = run_iac("catalog", "--output", "json", env=toy_env)
    assert catalog.returncode == 0, catalog.stderr
    row = next(r for r in json.loads(catalog.stdout) if r["name"] == "toy")
    assert row["resource_types"] == ["user", "team"] and row["secret_env"] == ["BATON_TOY_API_TOKEN"]
    explained = run_iac("explain", "toy", env=toy_env)
    assert explained.returncode == 0 and "BATON_TOY_ORG" in explained.stdout, explained.stderr

    env = toy_env | {"TOY_API_TOKEN": "sentinel-toy-token-0901"}
    validated = run_iac("validate", str(TOY_STACK), env=env)
    assert validated.returncode == 0, validated.stderr
    rendered = run_iac("render", str(TOY_STACK), env=env)
    assert rendered.returncode == 0, rendered.stderr
    objects = {f"{o['kind']}/{o['metadata']['name']}": o for o in yaml.safe_load_all(rendered.stdout)}
    container = objects["Deployment/baton-toy"]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "BATON_TOY_ORG", "value": "acme"} in container["env"]
    assert "sentinel-toy-token-0901" not in json.dumps(objects["Deployment/baton-toy"])
    assert "BATON_TOY_API_TOKEN" in objects["Secret/baton-toy"]["data"]

    bad = run_iac("validate", "-", env=env)  # a stack file that does not exist: the usual one-line error
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_iac_sim_serves_the_toy_and_iac_connector_syncs_from_it(toy_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")} | toy_env
    with iac_sim("toy", "--users", "25", "--teams", "3", "--print-credentials", env=env) as sim:
        base_url = sim.line()
        token = json.loads(sim.line())["token"]
        assert httpx.get(f"{base_url}/__sim/state").json() == {"users": 25, "teams": 3}
        artifact = tmp_path / "toy.sqlite"
        synced = subprocess.run(
            [sys.executable, "-m", "iac", "connector", "toy", "sync", "--file", str(artifact)],
            env=env | {"BATON_TOY_ORG": "acme", "BATON_TOY_API_TOKEN": token, "BATON_BASE_URL": base_url},
            capture_output=True, text=True, timeout=120)
        assert synced.returncode == 0, synced.stderr
        with Artifact(artifact) as opened:
            content = opened.content()
        assert len({key for key in content["resources"] if key[0] == "user"}) == 25
        assert {key[0] for key in content["resources"]} == {"user", "team"}
    stderr = sim.stderr
    assert "toy sim: 25 users, 3 teams" in stderr


def test_the_demo_syncs_the_toy(toy_env: dict[str, str], tmp_path: Path) -> None:
    results, manifests = run_demo(load_stack(TOY_STACK), tmp_path, users=20)
    [row] = results
    assert (row.connector, row.integration, row.status) == ("toy", "toy", "synced")
    assert row.resources == 20 + 4 and row.grants > 0 and row.requests > 0
    assert (manifests / "toy" / "deployment-baton-toy.yaml").is_file()
    # The access review applies the rules the toy declares: its admins team is privileged.
    [report] = review_demo(results, tmp_path)
    assert row.artifact is not None
    review = review_file(row.artifact, tmp_path / "again.html").review
    assert review.facts.declared_by == "toy" and report.name == "toy.html"
    with Artifact(row.artifact) as opened:
        admins = {g[0].rsplit(":", 1)[1] for g in opened.content()["grants"] if g[0].startswith("team:t00:member:")}
    assert {(review.res_id[r], review.ent_id[e]) for r, e, _ in review.privileged} == \
        {(user, "team:t00:member") for user in admins} and admins


def test_the_toy_catalog_is_what_its_connector_syncs(toy_env: dict[str, str], tmp_path: Path) -> None:
    assert_catalog_matches_connector(load_stack(TOY_STACK), "toy", tmp_path / "sync.sqlite")


def test_fault_matrix_cases_run_for_the_toy(toy_env: dict[str, str], tmp_path: Path) -> None:
    with serving_org(load_stack(TOY_STACK), "toy", tmp_path) as org:
        run_fault_case(org, "5xx bursts", tmp_path / "faults")
        run_provisioning_case(org, tmp_path / "provisioning")
