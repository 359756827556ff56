"""Benchmark: ours vs ConductorOne's own connector (the anchor, ../shared/bin) on the same simulator.

    .venv/bin/python bench/peer.py                               # okta 10k + 100k, coupa 10k, celigo 10k
    .venv/bin/python bench/peer.py --cases okta:10000 --json out.json

Per case, one seeded org behind 20-50 ms of latency with the vendor's real rate limits, synced by:

* the upstream binary, over HTTPS for the vendor's hostname (``iac.sim.upstream``: private /etc/hosts);
* ours at the equal budget (``BATON_RATE_LIMIT_SHARE=1.0``, all of every bucket, as the upstream takes);
* ours at its default share (0.5: half of each bucket, leaving the rest to the org's other integrations).

Each run gets fresh counters and rate-limit windows and runs in its own process (peak RSS is the sync's
alone). Printed per run: wall time, API requests, 429s, peak RSS, artifact bytes; and the ratios ours/upstream
at the equal budget. Targets: requests <= 0.6x, wall <= 0.7x, peak RSS <= 0.5x. Where the upstream cannot
sync the org (baton-celigo past one page), ours runs alone and the upstream's failure is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _harness import Latency, child_sync, sync_env

from iac.sim import CeligoSim, CoupaSim, OktaSim, serve
from iac.sim.upstream import run_upstream, vendor_endpoint, wait_with_peak_rss
from iac.spec import Celigo, Coupa, Okta

TARGETS = {"requests": 0.6, "wall": 0.7, "peak_rss": 0.5}
DEFAULT_SHARE = 0.5


@dataclass(frozen=True)
class Vendor:
    make: Callable[[int, int], Any]  # (users, seed) -> simulator
    spec: type[Any]
    hostname: str
    binary: str
    upstream_args: Callable[[Any], list[str]]
    upstream_env: Callable[[Any], dict[str, str]]
    our_settings: Callable[[Any], dict[str, Any]]


def _okta(users: int, seed: int) -> OktaSim:
    # The shapes of bench/sync_okta.py, so the figures line up.
    groups, apps, assignments = (1000, 40, 50_000) if users >= 100_000 else (200, 20, 10_000)
    return OktaSim(seed=seed, users=users, groups=groups, apps=apps, app_assignments=assignments)


VENDORS = {
    "okta": Vendor(_okta, Okta, "acme.okta.com", "baton-okta",
                   lambda sim: ["--domain", "acme.okta.com", "--storage-engine", "sqlite"],
                   lambda sim: {"BATON_API_TOKEN": sim.token},
                   lambda sim: {"domain": "acme.okta.com", "api_token": sim.token}),
    "coupa": Vendor(lambda users, seed: CoupaSim(seed=seed, users=users, user_groups=max(20, users // 100),
                                                 content_groups=20, account_groups=20),
                    Coupa, "acme.coupahost.com", "baton-coupa",
                    lambda sim: ["--coupa-domain", "acme.coupahost.com"],
                    lambda sim: {"BATON_COUPA_CLIENT_ID": sim.client_id,
                                 "BATON_COUPA_CLIENT_SECRET": sim.client_secret},
                    lambda sim: {"domain": "acme.coupahost.com", "client_id": sim.client_id,
                                 "client_secret": sim.client_secret}),
    "celigo": Vendor(lambda users, seed: CeligoSim(seed=seed, users=users, integrations=20), Celigo,
                     "api.integrator.io", "baton-celigo", lambda sim: [],
                     lambda sim: {"BATON_CELIGO_ACCESS_TOKEN": sim.token},
                     lambda sim: {"access_token": sim.token}),
}


def _fresh(sim: Any) -> None:
    """New counters and rate-limit windows (what ``DELETE /__sim/stats`` does)."""
    sim.stats.clear()
    sim.fault_plan.forget_history()
    sim.rate_limiter.reset()


def _counted(sim: Any) -> tuple[int, int, dict[str, int]]:
    """Requests, 429s, and requests by endpoint (what bounds the count)."""
    by_endpoint = sim.stats.by_endpoint()
    per_endpoint = {name: sum(codes.values()) for name, codes in sorted(by_endpoint.items())}
    return sim.stats.count(), sum(codes.get("429", 0) for codes in by_endpoint.values()), per_endpoint


def upstream_run(vendor: Vendor, sim: Any, app: Any, workdir: Path) -> dict[str, Any]:
    _fresh(sim)
    artifact = workdir / "upstream.c1z"
    with vendor_endpoint(app, vendor.hostname, workdir) as endpoint:
        run = run_upstream(vendor.binary, [*vendor.upstream_args(sim), "-f", str(artifact)], endpoints=[endpoint],
                           env=vendor.upstream_env(sim), timeout=3600)
    requests, limited, per_endpoint = _counted(sim)
    errors = run.error_lines()
    report = {"wall_s": round(run.wall_seconds, 2), "requests": requests, "http_429": limited,
              "requests_by_endpoint": per_endpoint,
              "peak_rss_mb": round(run.peak_rss_bytes / 2**20, 1),
              "artifact_bytes": artifact.stat().st_size if artifact.exists() else 0,
              "exit_code": run.returncode, "error_lines": len(errors),
              "completed": run.returncode == 0 and not errors}
    if errors:
        report["first_error"] = errors[0][:400]
    return report


def our_run(vendor: Vendor, sim: Any, base_url: str, workdir: Path, share: float, workers: int) -> dict[str, Any]:
    _fresh(sim)
    artifact = workdir / f"ours-{share}.c1z"
    env = sync_env(vendor.spec, simulator=base_url, file=artifact, workers=workers, share=share,
                   **vendor.our_settings(sim)) | {"PEER_CONNECTOR": vendor.spec.integration.name}
    summary = _child(env)
    requests, limited, per_endpoint = _counted(sim)
    return {"share": share, "wall_s": round(summary["wall"], 2), "requests": requests, "http_429": limited,
            "requests_by_endpoint": per_endpoint,
            "peak_rss_mb": round(summary["peak_rss_mb"], 1), "artifact_bytes": artifact.stat().st_size,
            "completed": True}


def _child(env: dict[str, str]) -> dict[str, Any]:
    """One sync of ours in a child process (``--child``); its summary and peak RSS, measured as for the upstream."""
    import subprocess

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([sys.executable, __file__, "--child"], env=env, stdout=out, stderr=err)
        code, peak_kib = wait_with_peak_rss(process, 3600)
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise SystemExit(f"our sync failed ({code}):\n{err.read().decode(errors='replace')[-3000:]}")
        summary: dict[str, Any] = json.loads(out.read().decode().strip().splitlines()[-1])
    summary["peak_rss_mb"] = peak_kib / 1024
    return summary


def _brief(run: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in run.items() if k != "requests_by_endpoint"})


def ratio(ours: dict[str, Any], upstream: dict[str, Any], key: str) -> float | None:
    if not upstream.get("completed") or not upstream.get(key):
        return None
    return round(ours[key] / upstream[key], 3)


def bench_case(name: str, users: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    vendor = VENDORS[name]
    started = time.perf_counter()
    sim = vendor.make(users, args.seed)
    print(f"[{name} {users}] org generated in {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    app = Latency(sim.app, args.latency_min / 1000, args.latency_max / 1000, seed=args.seed)
    case: dict[str, Any] = {"connector": name, "users": users}
    case["upstream"] = upstream_run(vendor, sim, app, workdir)
    print(f"[{name} {users}] upstream: {_brief(case['upstream'])}", file=sys.stderr, flush=True)
    with serve(app) as base_url:
        for label, share in (("ours_equal_budget", 1.0), ("ours_default_share", DEFAULT_SHARE)):
            case[label] = our_run(vendor, sim, base_url, workdir, share, args.workers)
            print(f"[{name} {users}] {label}: {_brief(case[label])}", file=sys.stderr, flush=True)
    ours = case["ours_equal_budget"]
    case["ratios_ours_over_upstream"] = {
        "requests": ratio(ours, case["upstream"], "requests"), "wall": ratio(ours, case["upstream"], "wall_s"),
        "peak_rss": ratio(ours, case["upstream"], "peak_rss_mb"),
        "artifact_bytes": ratio(ours, case["upstream"], "artifact_bytes")}
    case["targets_met"] = {key: (value is not None and value <= TARGETS[key])
                           for key, value in case["ratios_ours_over_upstream"].items() if key in TARGETS}
    return case


def table(cases: list[dict[str, Any]]) -> str:
    lines = ["| connector, users | run | wall s | requests | 429s | peak RSS MB | artifact MB |",
             "|---|---|---|---|---|---|---|"]
    for case in cases:
        for label in ("upstream", "ours_equal_budget", "ours_default_share"):
            r = case[label]
            state = "" if r["completed"] else " (failed)"
            lines.append(f"| {case['connector']} {case['users']:,} | {label}{state} | {r['wall_s']} "
                         f"| {r['requests']:,} | {r['http_429']} | {r['peak_rss_mb']} "
                         f"| {r['artifact_bytes'] / 2**20:.1f} |")
        ratios = case["ratios_ours_over_upstream"]
        lines.append(f"| {case['connector']} {case['users']:,} | **ours/upstream** | {ratios['wall']} | "
                     f"{ratios['requests']} | | {ratios['peak_rss']} | {ratios['artifact_bytes']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="okta:10000,okta:100000,coupa:10000,celigo:10000",
                        help="comma-separated connector:users")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--latency-min", type=float, default=20.0, help="ms")
    parser.add_argument("--latency-max", type=float, default=50.0, help="ms")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_sync(os.environ["PEER_CONNECTOR"])
        return
    cases = []
    for item in args.cases.split(","):
        name, _, users = item.strip().partition(":")
        with tempfile.TemporaryDirectory(prefix=f"bench-peer-{name}-") as tmp:
            cases.append(bench_case(name, int(users), args, Path(tmp)))
    report = {"benchmark": "peer", "latency_ms": [args.latency_min, args.latency_max], "workers": args.workers,
              "targets": TARGETS, "cases": cases}
    print(f"# peer benchmark — ours vs the upstream connectors, {args.latency_min:g}-{args.latency_max:g} ms latency, "
          f"real rate limits, {os.cpu_count()} cores")
    print(json.dumps(report, indent=2))
    print(table(cases))
    for case in cases:
        missed = [key for key, met in case["targets_met"].items() if not met]
        verdict = "all met" if not missed else f"missed: {', '.join(missed)}"
        if not case["upstream"]["completed"]:
            verdict = "n/a: the upstream did not complete, so ours ran alone"
        print(f"{case['connector']} {case['users']:,}: ours/upstream {case['ratios_ours_over_upstream']} "
              f"(targets {TARGETS}: {verdict})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
