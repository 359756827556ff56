"""The one gate that decides whether a test may skip because a real component is missing.

``make test`` and CI (``.ci/run`` runs ``make test``) set ``IAC_REQUIRE_CLUSTER=1``: then every real
component (kube-apiserver, etcd, Terraform, kubectl, the podman image, the vendors' specs, the upstream
binaries) is required, a missing one fails its test, and ``conftest.py`` fails the whole run on any skip at
all. Without it (a quick local run) a test whose component is missing skips, saying what to install.
The variable keeps its first name; it has gated every real component, not only the cluster, since.

This module is also the pytest plugin that enforces it (``conftest.py`` loads it; ``-p _required`` elsewhere).
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["REQUIRE_VARIABLE", "components_required", "unavailable"]

REQUIRE_VARIABLE = "IAC_REQUIRE_CLUSTER"


def components_required() -> bool:
    """Whether this run must have every real component (``IAC_REQUIRE_CLUSTER=1``)."""
    return os.environ.get(REQUIRE_VARIABLE, "").strip() == "1"


def unavailable(component: str, reason: str, hint: str = "run `make test`, which installs it") -> NoReturn:
    """``component`` cannot be used: fail where every component is required, skip otherwise."""
    if components_required():
        pytest.fail(f"{component} is required ({REQUIRE_VARIABLE}=1) but {reason}; {hint}", pytrace=False)
    pytest.skip(f"{component}: {reason}; {hint}")


# -- the plugin: any skip fails a run that requires every component ------------------------------------

_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append((report.nodeid, reason))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and components_required() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _skipped and components_required():
        terminalreporter.section(f"{len(_skipped)} skipped: a failure with {REQUIRE_VARIABLE}=1", red=True)
        for nodeid, reason in _skipped:
            terminalreporter.write_line(f"SKIPPED {nodeid}: {reason}")
