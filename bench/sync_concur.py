"""Benchmark: a full SAP Concur sync against the simulator at its rate limit and 20-50 ms latency.

    .venv/bin/python bench/sync_concur.py                       # 10k and 100k users
    .venv/bin/python bench/sync_concur.py --sizes 10000 --json out.json

Each sync runs in a fresh child process (so peak RSS is the sync's alone), configured like a pod: the
``BATON_*`` environment, the simulator as ``BATON_BASE_URL`` (the token's geolocation is the simulator).

The **rate-limit floor**: Concur publishes no limit, so the connector keeps no client-side budget and
honours 429 ``Retry-After``. Against the simulator's bucket (200 requests, refilling 100/s):
``floor = max(0, api requests - 200) / 100`` seconds. At 10k users the whole sync (about 120 requests:
Identity pages of 1,000, Spend pages of 100) fits in the burst, so its floor is 0 and the run is bound by
latency, not by the limit; 100k users make the limit bind. Targets: wall <= 1.15 x floor where the
floor is not 0, peak RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx
from _harness import Latency, print_run, run_child, run_figures, run_sizes, sync_arguments, sync_env

from iac.spec import Concur


def bench_size(users: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from iac.sim import CONCUR_RATE_LIMITS, ConcurSim, serve

    sim = ConcurSim(seed=args.seed, users=users)
    file = workdir / f"concur-{users}.c1z"
    with serve(Latency(sim.app, args.latency_min / 1000, args.latency_max / 1000)) as base:
        httpx.delete(f"{base}/__sim/stats")  # fresh counters and buckets
        env = sync_env(Concur, simulator=base, file=file, workers=args.workers, share=args.share,
                       log_level="error", base_url="https://us2.api.concursolutions.com",
                       client_id=sim.client_id, client_secret=sim.client_secret, refresh_token=sim.refresh_token)
        print(f"[{users} users] syncing ...", file=sys.stderr, flush=True)
        summary = run_child(__file__, env)
    by_endpoint = sim.stats.by_endpoint()
    api = sum(n for e, counts in by_endpoint.items() if " /profile/" in e for s, n in counts.items() if s != "429")
    burst, per_second = CONCUR_RATE_LIMITS["api"]
    floor = max(0.0, api - burst) / per_second
    report = {"users": users, "wall_s": round(summary["wall"], 2), "floor_s": round(floor, 2),
              "wall_over_floor": round(summary["wall"] / floor, 3) if floor else None,
              "bound_by": "rate limit" if floor else "latency (the sync fits in the burst)",
              "api_requests": api, "token_requests": sum(by_endpoint.get("POST /oauth2/v0/token", {}).values()),
              **run_figures(summary, by_endpoint)}
    print_run(users, report)
    return report


def verdict(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_within_1_15x_floor_where_rate_bound": all(r["wall_over_floor"] <= 1.15 for r in runs
                                                        if r["wall_over_floor"] is not None),
        "peak_rss_under_200mb": all(r["peak_rss_mb"] <= 200 for r in runs),
    }


def main() -> None:
    run_sizes("concur", sync_arguments(__doc__, "10000,100000"), bench_size, verdict)


if __name__ == "__main__":
    main()
