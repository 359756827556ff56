"""The skip gate (tests/_required.py): with IAC_REQUIRE_CLUSTER=1, as `make test` and CI run, any skip fails
the run; without it a skip is only reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PROBE = '''
import pytest
from _required import unavailable


def test_runs():
    assert True


def test_skips_on_its_own():
    pytest.skip("a component is missing")


@pytest.mark.skipif(True, reason="a marker")
def test_skipped_by_a_marker():
    pass


def test_needs_a_component():
    unavailable("the frobnicator", "it is not installed", "install it")
'''


def run_probe(tmp_path: Path, required: str | None, *select: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {k: v for k, v in os.environ.items() if k not in ("IAC_REQUIRE_CLUSTER", "CI", "PYTEST_ADDOPTS")}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    if required is not None:
        env["IAC_REQUIRE_CLUSTER"] = required
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "_required", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), *(select or [str(tmp_path)])],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_any_skip_fails_the_run_when_every_component_is_required(tmp_path: Path) -> None:
    result = run_probe(tmp_path, "1", "test_probe.py::test_runs", "test_probe.py::test_skips_on_its_own",
                       "test_probe.py::test_skipped_by_a_marker")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 passed, 2 skipped" in result.stdout
    assert "2 skipped: a failure with IAC_REQUIRE_CLUSTER=1" in result.stdout
    assert "SKIPPED test_probe.py::test_skips_on_its_own: Skipped: a component is missing" in result.stdout
    assert "SKIPPED test_probe.py::test_skipped_by_a_marker: Skipped: a marker" in result.stdout


def test_a_missing_component_fails_its_test_when_required(tmp_path: Path) -> None:
    result = run_probe(tmp_path, "1", "test_probe.py::test_needs_a_component")
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "the frobnicator is required (IAC_REQUIRE_CLUSTER=1) but it is not installed; install it" in result.stdout


def test_a_quick_local_run_may_skip(tmp_path: Path) -> None:
    result = run_probe(tmp_path, None)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "1 passed, 3 skipped" in result.stdout
    assert run_probe(tmp_path, "0").returncode == pytest.ExitCode.OK


def test_only_the_gate_skips() -> None:
    """One helper decides whether a test may skip: no module keeps its own rule (a copied `_required()`, a
    `skipif`, an `importorskip`); a missing component goes through `_required.unavailable`."""
    own_rules = ("pytest.skip(", "importorskip(", "mark.skip", "skipif(", 'environ.get("CI")', "def _required(")
    offenders = [f"{path.relative_to(TESTS)}:{number}: {line.strip()}"
                 for path in sorted(TESTS.rglob("*.py")) if path.name not in ("_required.py", "test_required.py")
                 for number, line in enumerate(path.read_text().splitlines(), start=1)
                 if any(rule in line for rule in own_rules)]
    assert not offenders, "\n".join(offenders)
