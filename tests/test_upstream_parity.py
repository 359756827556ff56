"""Parity with the upstream connectors: one seeded org per vendor, ConductorOne's connector (../shared/bin, over
HTTPS) and ours on the same simulator, what they found compared as sets (users, groups, roles, licenses, apps,
integrations, memberships, assignments). Every difference must be listed, with why ours is right, in the
README's "Differences from the upstream connectors" table (tests/_parity.py reads it); an unlisted
difference, or a listed one that no longer occurs, fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _parity import Comparison, OurArtifact, compare, listed_differences, our_facts, upstream_facts

from iac.plugins import plugins
from iac.runtime import SyncEngine, Wiring, load_settings
from iac.sim import CeligoSim, CoupaSim, OktaSim, serve
from iac.sim.upstream import UpstreamRun, run_upstream, vendor_endpoint

SEED = 1616


@dataclass(frozen=True)
class Case:
    """How to make the org and run both connectors on it (the same options on both sides)."""

    make: Callable[[], Any]
    upstream_args: Callable[[Any], list[str]]
    upstream_env: Callable[[Any], dict[str, str]]
    our_settings: Callable[[Any], dict[str, Any]]
    latency_ms: float = 0.0


CASES = {
    "okta": Case(
        make=lambda: OktaSim(seed=SEED, users=300, groups=30, apps=10),
        upstream_args=lambda sim: ["--domain", "acme.okta.com", "--storage-engine", "sqlite", "--sync-custom-roles"],
        upstream_env=lambda sim: {"BATON_API_TOKEN": sim.token},
        our_settings=lambda sim: {"domain": "acme.okta.com", "api_token": sim.token, "sync_custom_roles": True},
    ),
    "coupa": Case(
        make=lambda: CoupaSim(seed=SEED, users=150, user_groups=12),
        upstream_args=lambda sim: ["--coupa-domain", "acme.coupahost.com"],
        upstream_env=lambda sim: {"BATON_COUPA_CLIENT_ID": sim.client_id,
                                  "BATON_COUPA_CLIENT_SECRET": sim.client_secret},
        our_settings=lambda sim: {"domain": "acme.coupahost.com", "client_id": sim.client_id,
                                  "client_secret": sim.client_secret},
        # baton-coupa does not pace itself and waits 60 s after a bare 429: >= 45 ms a request keeps it under
        # Coupa's 25/s, as a real network would.
        latency_ms=45,
    ),
    "celigo": Case(
        make=lambda: CeligoSim(seed=SEED, users=90, integrations=6),  # one page: the anchor cannot page
        upstream_args=lambda sim: [],
        upstream_env=lambda sim: {"BATON_CELIGO_ACCESS_TOKEN": sim.token},
        our_settings=lambda sim: {"access_token": sim.token},
    ),
}


def sync_both(name: str, workdir: Path) -> tuple[Path, Path, UpstreamRun]:
    """Run the upstream binary and our connector on one simulator; the upstream c1z and our artifact."""
    plugin, case = plugins()[name], CASES[name]
    sim = case.make()
    hostname = plugin.simulator.tls_hostname if plugin.simulator else None
    assert hostname and plugin.upstream_binary
    upstream_file, our_file = workdir / "upstream.c1z", workdir / "ours.sqlite"
    sim.set_faults(latency_ms=case.latency_ms)
    with vendor_endpoint(sim.app, hostname, workdir) as endpoint:
        run = run_upstream(plugin.upstream_binary, [*case.upstream_args(sim), "-f", str(upstream_file)],
                           endpoints=[endpoint], env=case.upstream_env(sim))
    sim.set_faults(latency_ms=0)
    with serve(sim.app) as base_url:
        settings = load_settings(plugin.spec_class(), environ={}, base_url_override=base_url,
                                 **case.our_settings(sim))
        build = plugin.build()
        assert build is not None
        connector = build(settings, Wiring())
        try:
            SyncEngine(connector, our_file, workers=4).run()
        finally:
            connector.close()
    return upstream_file, our_file, run


def describe(result: Comparison) -> str:
    def some(facts: set[str]) -> str:
        return "\n    ".join(sorted(facts)[:15]) + (f"\n    … {len(facts) - 15} more" if len(facts) > 15 else "")
    return (f"unlisted, only upstream ({len(result.unexplained_upstream)}):\n    "
            f"{some(result.unexplained_upstream)}\n"
            f"unlisted, only ours ({len(result.unexplained_ours)}):\n    {some(result.unexplained_ours)}\n"
            f"listed but not seen: {[r.pattern for r in result.unused_rows]}")


@pytest.mark.parametrize("name", sorted(CASES))
def test_upstream_and_ours_find_the_same_org_or_the_difference_is_listed(name: str, tmp_path: Path) -> None:
    upstream_file, our_file, run = sync_both(name, tmp_path)
    assert run.returncode == 0 and run.error_lines() == [], run.error_lines()[:3] or run.stderr[-2000:]
    upstream, ours = upstream_facts(upstream_file), our_facts(our_file)
    # Both found the org: users, and grants of every kind the upstream writes.
    assert sum(f.startswith("resource user:") for f in upstream) > 50
    assert sum(f.startswith("grant ") for f in upstream & ours.facts) > 100
    result = compare(name, upstream, ours, listed_differences())
    assert not (result.unexplained_upstream or result.unexplained_ours or result.unused_rows), describe(result)


def test_an_unlisted_difference_fails_the_comparison() -> None:
    """Negative control: a fact only one side has, matched by no row, is reported; a row nobody matches is too."""
    rows = listed_differences()
    assert {r.connector for r in rows} == set(CASES)
    okta_rows = [r for r in rows if r.connector == "okta"]
    fake = compare("okta", {"resource user:00u1", "resource user:00u2"}, OurArtifact({"resource user:00u1"}),
                   okta_rows)
    assert fake.unexplained_upstream == {"resource user:00u2"} and fake.unused_rows == okta_rows
