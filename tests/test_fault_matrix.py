"""The fault matrix: every registered connector (iac.plugins) against its simulator under injected failures.

Each case ends either with an artifact content-equal to a clean run's, or with a clear failure that
leaves the previous artifact intact (its latest sync still the clean one). The matrix is printed at the
end of the test run (see conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from conftest import FAULT_MATRIX, REPO_ROOT

from iac import load_stack
from iac.connectors import registered
from iac.demo import Sandbox, sandbox_environment, sandbox_for
from iac.errors import IacError
from iac.plugins import FaultCases, get_plugin, plugins
from iac.runtime import Artifact, SyncEngine, Wiring, load_settings
from iac.runtime.errors import ServerError
from iac.sim import serve
from iac.spec import Stack

CONNECTORS = sorted(name for name, plugin in plugins().items() if plugin.connector and plugin.simulator)
USERS = 60


@dataclass
class Org:
    name: str
    stack: Stack
    sandbox: Sandbox
    clean: dict[str, set[tuple[str, ...]]]


def _env(org: Org, artifact: Path, **extra: str) -> dict[str, str]:
    env = sandbox_environment(org.stack, org.name, org.sandbox)
    return env | {"BATON_FILE": str(artifact), "BATON_WORKERS": "4"} | extra


def _sync(org: Org, artifact: Path, **extra: str) -> None:
    entry = registered()[org.stack.connector(org.name).integration.name]
    settings = load_settings(entry.integration, environ=_env(org, artifact, **extra))
    connector = entry.build(settings, Wiring())
    try:
        SyncEngine(connector, settings.file, workers=settings.workers).run()
    finally:
        connector.close()


def _content(artifact: Path) -> dict[str, set[tuple[str, ...]]]:
    with Artifact(artifact) as opened:
        return opened.content()


@contextmanager
def serving_org(stack: Stack, integration: str, clean_dir: Path) -> Iterator[Org]:
    """The first connector of ``integration`` in ``stack``, its simulator serving, and a clean run's content
    (every case compares with it). Third-party integrations reuse this for their own matrix rows."""
    connector = next(c for c in stack.connectors if c.integration.name == integration)
    sandbox = sandbox_for(connector, seed=5, users=USERS)
    assert sandbox is not None, f"no simulator for {integration}"
    with serve(sandbox.simulator.app) as base_url:
        sandbox.base_url = base_url
        org = Org(connector.name, stack, sandbox, {})
        clean = clean_dir / "sync.sqlite"
        _sync(org, clean)
        org.clean = _content(clean)
        yield org


@pytest.fixture(scope="module", params=CONNECTORS)
def org(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    name: str = request.param
    with serving_org(load_stack(REPO_ROOT / "stacks" / "example.py"), name,
                     tmp_path_factory.mktemp(f"clean-{name}")) as org:
        yield org


def _cases(org: Org) -> FaultCases:
    simulator = get_plugin(org.stack.connector(org.name).integration.name).simulator
    assert simulator is not None
    return simulator.faults


def _after_requests(org: Org, count: int, action: Callable[[], Any]) -> threading.Thread:
    """Run ``action`` once the simulator has served ``count`` more requests."""
    start = org.sandbox.simulator.stats.count()

    def watch() -> None:
        deadline = time.monotonic() + 60
        while org.sandbox.simulator.stats.count() < start + count and time.monotonic() < deadline:
            time.sleep(0.005)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


FAULTS: dict[str, dict[str, float]] = {
    "429 storm": {"rate_limit_rate": 0.3},
    "5xx bursts": {"error_rate": 0.25},
    "connection resets": {"reset_rate": 0.15},
    "2 s stalls": {"stall_rate": 0.08, "stall_seconds": 2.0},
    "malformed page": {"malformed_page_rate": 0.15},
}


def _record(org: Org, case: str, outcome: str) -> None:
    FAULT_MATRIX.append((org.stack.connector(org.name).integration.name, case, outcome))


T = TypeVar("T")


def _attempt(action: Callable[[], T]) -> tuple[IacError | None, T | None]:
    """Run ``action``; a failure counts as clean only when it is one of the project's own errors (iac.errors,
    iac.runtime.errors), which carry a message for the user. Anything else (a TypeError, a KeyError) is a
    bug and propagates, failing the case."""
    try:
        return None, action()
    except IacError as exc:
        return exc, None


def _check_outcome(org: Org, artifact: Path, error: IacError | None, case: str) -> None:
    content = _content(artifact)
    if error is None:
        assert content == org.clean, f"{case}: the artifact differs from a clean run's"
        _record(org, case, "recovered, content equal")
    else:
        assert str(error), "a failure must say what went wrong"
        assert content == org.clean, f"{case}: a failed sync must leave the previous artifact intact"
        _record(org, case, f"failed cleanly ({type(error).__name__}), previous artifact intact")


def test_only_the_projects_errors_count_as_failing_cleanly() -> None:
    def bug() -> None:
        raise TypeError("'NoneType' object is not subscriptable")

    def vendor_down() -> None:
        raise ServerError("HTTP 503 after 5 attempts", method="GET", path="/api/v1/users", status=503)

    with pytest.raises(TypeError):
        _attempt(bug)
    error, _ = _attempt(vendor_down)
    assert isinstance(error, ServerError)


@pytest.mark.parametrize("case", list(FAULTS))
def test_injected_faults(org: Org, case: str, tmp_path: Path) -> None:
    run_fault_case(org, case, tmp_path)


def run_fault_case(org: Org, case: str, tmp_path: Path) -> None:
    """A previous good artifact, then a sync under the faults of ``case``: recovered or failed cleanly."""
    artifact = tmp_path / "sync.sqlite"
    _sync(org, artifact)  # the previous good artifact
    sim = org.sandbox.simulator
    sim.set_faults(**FAULTS[case])
    try:
        error, _ = _attempt(lambda: _sync(org, artifact, BATON_HTTP_TIMEOUT_SECONDS="1"))
    finally:
        sim.set_faults(**{key: 0.0 for key in FAULTS[case] if key.endswith("_rate")})
    _check_outcome(org, artifact, error, case)


def test_token_expiry_mid_sync(org: Org, tmp_path: Path) -> None:
    sim = org.sandbox.simulator
    if not _cases(org).expiring_tokens:
        _record(org, "token expiry mid-sync", "n/a: static API token")
        return
    artifact = tmp_path / "sync.sqlite"
    watcher = _after_requests(org, 5, sim.expire_tokens)
    error, _ = _attempt(lambda: _sync(org, artifact))
    watcher.join(timeout=5)
    assert error is None, f"token expiry mid-sync must be recovered: {error}"
    _check_outcome(org, artifact, None, "token expiry mid-sync")


def test_sigkill_mid_sync_then_resume(org: Org, tmp_path: Path) -> None:
    artifact = tmp_path / "sync.sqlite"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BATON_")}, **_env(org, artifact)}
    integration = org.stack.connector(org.name).integration.name
    command = [sys.executable, "-m", "iac", "connector", integration, "sync"]
    org.sandbox.simulator.set_faults(latency_ms=150)  # slow enough to be killed mid-sync
    try:
        killed = threading.Event()
        with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:

            def kill() -> None:
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    killed.set()

            _after_requests(org, 2, kill).join(timeout=60)
            process.wait(timeout=60)
    finally:
        org.sandbox.simulator.set_faults(latency_ms=0)
    assert killed.is_set(), "the sync finished before it could be killed; raise the latency"
    assert not artifact.exists(), "a killed first sync must not leave an artifact in place"
    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resumed=True" in resumed.stdout
    _check_outcome(org, artifact, None, "SIGKILL mid-sync, then resume")


# -- provisioning under injected failures ---------------------------------------------------------------
# Each integration registers a grant to make (an entitlement a principal does not hold yet) and which of the
# simulator's effective writes apply it. A write whose answer is lost is carried out; a client that retried
# it blindly would apply it twice. The state cannot tell (Okta ignores a second membership, Coupa stores a
# set), so the check counts effective writes in the simulator's write log (GET /__sim/writes/effective).


def test_the_write_log_counts_a_repeated_write_the_state_deduplicates(org: Org) -> None:
    """The check below can fail: the same membership sent twice is one membership but two effective writes."""
    if org.stack.connector(org.name).integration.name != "okta":
        return  # one vendor shows it; the log is the simulators' shared machinery
    sim = org.sandbox.simulator
    ds = sim.dataset
    group = [g for g in ds.groups() if g.type == "OKTA_GROUP"][-1]  # not the provisioning case's group
    user = next(u.id for u in ds.users() if u.id not in ds.group_member_ids(group.id))
    path = f"/api/v1/groups/{group.id}/users/{user}"
    with httpx.Client(base_url=org.sandbox.base_url, headers=sim.auth_headers) as client:
        for _ in range(2):
            assert client.put(path).status_code == 204
        effective = client.get("/__sim/writes/effective").json()
        assert client.delete(path).status_code == 204
    assert ds.group_member_ids(group.id).count(user) == 0
    assert [(w["method"], w["path"]) for w in effective] == [("PUT", path), ("PUT", path)]
    assert [(w.method, w.status) for w in sim.writes.effective(path=path)] == [("PUT", 204), ("PUT", 204),
                                                                               ("DELETE", 204)]


def test_provisioning_under_injected_failures_never_double_applies(org: Org, tmp_path: Path) -> None:
    run_provisioning_case(org, tmp_path)


def run_provisioning_case(org: Org, tmp_path: Path) -> None:
    """The integration's grant under lost answers and 5xx: held exactly once afterwards."""
    from iac.runtime import Entitlement, ResourceRef, parse_entitlement_id, provision_once

    integration = org.stack.connector(org.name).integration.name
    sim = org.sandbox.simulator
    make_case = _cases(org).provisioning
    if make_case is None:
        _record(org, "provisioning, lost answers + 5xx", "n/a: the connector does not provision")
        return
    case = make_case(sim)

    def effective_writes() -> int:
        return sum(1 for write in sim.writes.effective() if case.writes(write))

    assert case.applied() == 0 and effective_writes() == 0
    entry = registered()[integration]
    settings = load_settings(entry.integration, environ=_env(org, tmp_path / "p.sqlite", BATON_PROVISIONING="true",
                                                              BATON_HTTP_TIMEOUT_SECONDS="2"))
    resource, slug = parse_entitlement_id(case.entitlement)
    entitlement = Entitlement(resource, slug, slug)
    connector = entry.build(settings, Wiring())
    provisioner = connector.provisioner()
    assert provisioner is not None
    injected_before = sum(sim.fault_plan.injected[k] for k in ("lost_answer", "error"))
    try:
        sim.set_faults(lost_answer_rate=0.6, error_rate=0.2)
        # What `iac connector <name> grant` runs: a lost answer leads to a re-read, never a blind re-send.
        first, result = _attempt(lambda: provision_once(
            lambda: provisioner.grant(ResourceRef.parse(case.principal), entitlement)))
        first_outcome = type(first).__name__ if result is None else result.outcome.value
        sim.set_faults(lost_answer_rate=0.0, error_rate=0.0)
        injected = sum(sim.fault_plan.injected[k] for k in ("lost_answer", "error")) - injected_before
        case.settle()  # asynchronous provisioning: let accepted requests take effect
        again = provisioner.grant(ResourceRef.parse(case.principal), entitlement).outcome
    finally:
        sim.set_faults(lost_answer_rate=0.0, error_rate=0.0)
        connector.close()
    case.settle()
    effective = effective_writes()
    assert case.applied() == 1, f"{integration}: the grant is held {case.applied()} times"
    assert effective == 1, f"{integration}: the vendor carried out the grant {effective} times"
    assert again.value in ("granted", "already-granted")
    assert injected > 0, "no fault hit the grant: the case proves nothing"
    _record(org, "provisioning, lost answers + 5xx",
            f"applied once: 1 effective write after {injected} injected faults (first attempt: {first_outcome})")
