"""`make demo`'s job: the example stack rendered, each bundled connector synced against its simulator
through the environment its manifests give the container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, RunIac

from iac import load_stack
from iac.connectors import registered
from iac.demo import run_demo
from iac.runtime import Artifact


def test_demo_syncs_every_bundled_connector_of_the_example(tmp_path: Path) -> None:
    stack = load_stack(REPO_ROOT / "stacks" / "example.py")
    results, manifests = run_demo(stack, tmp_path, users=60)
    assert (manifests / "okta" / "deployment-baton-okta.yaml").is_file()
    by_name = {r.connector: r for r in results}
    assert set(by_name) == {"okta", "coupa", "concur", "celigo"}
    for name, row in by_name.items():
        if row.integration not in registered():
            assert row.status == "not bundled yet"
            continue
        assert row.status == "synced", row.status
        assert row.resources > 0 and row.grants > 0 and row.requests > 0
        assert row.artifact is not None
        with Artifact(row.artifact) as artifact:
            content = artifact.content()
        users = {key for key in content["resources"] if key[0] == "user"}
        assert len(users) > 0, name
    okta = by_name["okta"]
    assert okta.status == "synced"


def test_demo_command_prints_the_table(tmp_path: Path, run_iac: RunIac) -> None:
    result = run_iac("demo", "-o", str(tmp_path / "out"), "--users", "40")
    assert result.returncode == 0, result.stderr
    assert "okta" in result.stdout and "synced" in result.stdout
    assert "manifests:" in result.stderr and "artifacts:" in result.stderr
    assert (tmp_path / "out" / "artifacts" / "okta.c1z").is_file()
    # It ends with the access-review reports: one path per synced connector, each a whole HTML page.
    reports = [Path(line) for line in result.stdout.strip().splitlines()[-4:]]
    assert [p.name for p in reports] == ["okta.html", "coupa.html", "concur.html", "celigo.html"]
    for report in reports:
        text = report.read_text()
        assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
        assert (report.parent / report.stem / "privileged.csv").is_file()


@pytest.mark.cluster
def test_demo_with_cluster_previews_deploys_and_converges(kube_cluster: Any, tmp_path: Path, run_iac: RunIac) -> None:
    result = run_iac("demo", "-o", str(tmp_path / "out"), "--users", "30", "--cluster",
                     "--kubeconfig", str(kube_cluster.kubeconfig), "--context", "iac-test")
    assert result.returncode == 0, result.stderr
    lines = {line.split(":", 1)[0]: line for line in result.stdout.splitlines() if line.startswith(("preview", "up"))}
    assert "created" in lines["up"]
    preview_lines = [line for line in result.stdout.splitlines() if line.startswith("preview:")]
    assert "0 to create, 0 to update, 0 to delete, 17 unchanged" in preview_lines[-1]
    assert "17 to create" in preview_lines[0]
