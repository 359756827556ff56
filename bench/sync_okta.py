"""Benchmark: a full Okta sync against the simulator at Okta's real rate limits and 20-50 ms latency.

    .venv/bin/python bench/sync_okta.py                      # 10k and 100k users, baseline at 10k
    .venv/bin/python bench/sync_okta.py --sizes 10000 --baseline-sizes 10000 --json out.json

For each org size it runs, each in a fresh child process (so peak RSS is the sync's alone):

* the runtime as shipped (``workers`` concurrent requests, bucket-aware interleaving);
* optionally a one-request-at-a-time baseline (one worker, no interleaving: a spent bucket blocks).

It reports wall time against the **rate-limit floor**: for every Okta rate-limit family f,
``requests_f / (share * limit_f per minute)``; the sync cannot beat the slowest family's floor without
exceeding the budget. Targets: wall <= 1.15 x floor; peak RSS <= 200 MB and flat from 10k to 100k.
Each run starts from fresh rate-limit windows (``DELETE /__sim/stats``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import httpx
from _harness import INTERLEAVE_ENV, Latency, run_child, run_sizes, sync_arguments, sync_env

from iac.spec import Okta

# Org shapes: memberships default to users x min(8, groups-1); app assignments are set explicitly.
SHAPES: dict[int, dict[str, int]] = {
    2_000: {"groups": 40, "apps": 6, "app_assignments": 1_000},
    10_000: {"groups": 200, "apps": 20, "app_assignments": 10_000},
    100_000: {"groups": 1000, "apps": 40, "app_assignments": 50_000},
}


def floor_seconds(by_endpoint: dict[str, dict[str, int]], limits: dict[str, int], share: float
                  ) -> tuple[float, dict[str, dict[str, float]]]:
    from iac.connectors.okta import okta_bucket

    families: dict[str, int] = {}
    for endpoint, statuses in by_endpoint.items():
        if endpoint == "unmatched":
            continue
        method, path = endpoint.split(" ", 1)
        family = okta_bucket(method, path)
        families[family] = families.get(family, 0) + sum(n for s, n in statuses.items() if s != "429")
    detail = {f: {"requests": n, "budget_per_min": share * limits[f],
                  "floor_s": 60.0 * n / (share * limits[f])} for f, n in sorted(families.items())}
    return max(d["floor_s"] for d in detail.values()), detail


def bench_size(users: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from iac.sim import OKTA_RATE_LIMITS, OktaSim, serve

    shape = SHAPES.get(users, {"groups": max(10, users // 100), "apps": 20, "app_assignments": users})
    sim = OktaSim(seed=args.seed, users=users, groups=shape["groups"], apps=shape["apps"],
                  app_assignments=shape["app_assignments"])
    report: dict[str, Any] = {"users": users, **shape, "counts": sim.dataset.counts()}
    with serve(Latency(sim.app, args.latency_min / 1000, args.latency_max / 1000)) as base:
        modes = [("runtime", args.workers, True)]
        if users in {int(size) for size in args.baseline_sizes.split(",") if size.strip()}:
            modes.append(("baseline", 1, False))
        for name, workers, interleave in modes:
            httpx.delete(f"{base}/__sim/stats")  # fresh counters and rate-limit windows
            file = workdir / f"okta-{users}-{name}.c1z"
            print(f"[{users} users] {name}: workers={workers} interleave={interleave} ...", file=sys.stderr,
                  flush=True)
            env = sync_env(Okta, simulator=base, file=file, workers=workers, share=args.share,
                           domain="bench.okta.com", api_token=sim.token) | {INTERLEAVE_ENV: str(int(interleave))}
            summary = run_child(__file__, env)
            by_endpoint = sim.stats.by_endpoint()
            floor, families = floor_seconds(by_endpoint, dict(OKTA_RATE_LIMITS), args.share)
            got_429 = sum(s.get("429", 0) for s in by_endpoint.values())
            report[name] = {"wall_s": round(summary["wall"], 1), "floor_s": round(floor, 1),
                            "wall_over_floor": round(summary["wall"] / floor, 3),
                            "requests": sim.stats.count(), "http_429": got_429,
                            "peak_rss_mb": round(summary["peak_rss_mb"], 1),
                            "peak_pending_tasks": summary["peak_pending"], "families": families,
                            "grants": summary["stats"]["grants"]["total"],
                            "artifact_mb": round(file.stat().st_size / 2**20, 1)}
            print(f"[{users} users] {name}: {json.dumps({k: v for k, v in report[name].items() if k != 'families'})}",
                  file=sys.stderr, flush=True)
    return report


def verdict(reports: list[dict[str, Any]]) -> dict[str, Any]:
    rss = [r["runtime"]["peak_rss_mb"] for r in reports]
    return {
        "wall_within_1_15x_floor": all(r["runtime"]["wall_over_floor"] <= 1.15 for r in reports),
        "peak_rss_under_200mb": all(v <= 200 for v in rss),
        "rss_growth_smallest_to_largest_mb": round(rss[-1] - rss[0], 1) if rss else 0.0,
    }


def main() -> None:
    args = sync_arguments(__doc__, "10000,100000", extra=lambda parser: parser.add_argument(
        "--baseline-sizes", default="10000",
        help="sizes that also run the one-request-at-a-time baseline ('' for none)"))
    run_sizes("okta", args, bench_size, verdict)


if __name__ == "__main__":
    main()
