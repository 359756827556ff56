"""Benchmark: a full Coupa sync against the simulator at Coupa's real rate limit and 20-50 ms latency.

    .venv/bin/python bench/sync_coupa.py                        # 10k users
    .venv/bin/python bench/sync_coupa.py --sizes 10000,50000 --json out.json

Each sync runs in a fresh child process (so peak RSS is the sync's alone), configured like a pod: the
``BATON_*`` environment, the simulator as ``BATON_BASE_URL``.

The **rate-limit floor**: Coupa allows "25 requests per second and a burst of 20"; the connector keeps to
``share`` (BATON_RATE_LIMIT_SHARE, default 0.5) of it, so ``floor = (api requests - share * 20) /
(share * 25)`` seconds. Targets: wall <= 1.15 x floor, no 429, peak RSS <= 200 MB.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import httpx
from _harness import Latency, print_run, run_child, run_figures, run_sizes, sync_arguments, sync_env

from iac.spec import Coupa


def bench_size(users: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from iac.sim import COUPA_RATE_LIMIT, CoupaSim, serve

    shape = {"user_groups": max(20, users // 100), "content_groups": 20, "account_groups": 20}
    sim = CoupaSim(seed=args.seed, users=users, **shape)
    file = workdir / f"coupa-{users}.c1z"
    with serve(Latency(sim.app, args.latency_min / 1000, args.latency_max / 1000)) as base:
        httpx.delete(f"{base}/__sim/stats")  # fresh counters and buckets
        env = sync_env(Coupa, simulator=base, file=file, workers=args.workers, share=args.share,
                       domain="bench.coupahost.com", client_id=sim.client_id, client_secret=sim.client_secret)
        print(f"[{users} users] syncing ...", file=sys.stderr, flush=True)
        summary = run_child(__file__, env)
    by_endpoint = sim.stats.by_endpoint()
    api = sum(n for e, counts in by_endpoint.items() if " /api/" in e for s, n in counts.items() if s != "429")
    burst, per_second = COUPA_RATE_LIMIT
    floor = max(0.0, api - args.share * burst) / (args.share * per_second)
    report = {"users": users, **shape, "wall_s": round(summary["wall"], 2), "floor_s": round(floor, 2),
              "wall_over_floor": round(summary["wall"] / floor, 3) if floor else None,
              "api_requests": api, "token_requests": sum(by_endpoint.get("POST /oauth2/token", {}).values()),
              **run_figures(summary, by_endpoint)}
    print_run(users, report)
    return report


def verdict(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_within_1_15x_floor": all(r["wall_over_floor"] is not None and r["wall_over_floor"] <= 1.15
                                       for r in runs),
        "no_429": all(r["http_429"] == 0 for r in runs),
        "peak_rss_under_200mb": all(r["peak_rss_mb"] <= 200 for r in runs),
    }


def main() -> None:
    run_sizes("coupa", sync_arguments(__doc__, "10000"), bench_size, verdict)


if __name__ == "__main__":
    main()
