"""Shared fixtures. The real kube-apiserver fixture lives in _cluster.py, the one-node cluster (pods really
run) in _node.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import _required
import pytest
from _cluster import kube_cluster  # noqa: F401  (session fixture: real kube-apiserver)
from _node import NODE_FIGURES, node_cluster, node_runtime_image  # noqa: F401  (session fixtures: one-node cluster)

REPO_ROOT = Path(__file__).resolve().parent.parent

# Credentials of the example stack; each value is a sentinel the leak tests search for.
EXAMPLE_ENV = {
    "C1_CLIENT_ID": "sentinel-c1-client-id-0001",
    "C1_CLIENT_SECRET": "sentinel-c1-client-secret-0002",
    "OKTA_API_TOKEN": "sentinel-okta-api-token-0003",
    "COUPA_CLIENT_SECRET": "sentinel-coupa-client-secret-0004",
    "CONCUR_CLIENT_SECRET": "sentinel-concur-client-secret-0005",
    "CONCUR_REFRESH_TOKEN": "sentinel-concur-refresh-token-0006",
}


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    return dict(EXAMPLE_ENV)


def pytest_configure(config: pytest.Config) -> None:
    # The skip gate: with IAC_REQUIRE_CLUSTER=1 (make test, CI) any skip fails the run (see _required.py).
    if not config.pluginmanager.is_registered(_required):
        config.pluginmanager.register(_required, "iac-skip-gate")


RunIac = Callable[..., subprocess.CompletedProcess[str]]

# (connector, case, outcome) rows filled by tests/test_fault_matrix.py and printed after the run.
FAULT_MATRIX: list[tuple[str, str, str]] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if NODE_FIGURES:
        terminalreporter.section("one-node cluster")
        for line in NODE_FIGURES:
            terminalreporter.write_line(line)
    if not FAULT_MATRIX:
        return
    terminalreporter.section("fault matrix")
    width = max(len(case) for _, case, _ in FAULT_MATRIX)
    for connector, case, outcome in sorted(FAULT_MATRIX):
        terminalreporter.write_line(f"{connector:<8} {case:<{width}}  {outcome}")


@pytest.fixture
def run_iac(tmp_path: Path) -> RunIac:
    """Run the real `iac` console entry point in a subprocess (what a user's shell does)."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV}
        full_env.update(env or {})
        full_env.setdefault("COLUMNS", "200")
        return subprocess.run(
            [sys.executable, "-m", "iac", *args],
            capture_output=True, text=True, env=full_env, cwd=cwd or REPO_ROOT, timeout=120,
        )

    return run
