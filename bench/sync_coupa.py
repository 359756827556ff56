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
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from _harness import Latency, child_sync, print_run, run_child, run_figures, sync_arguments


def bench_size(users: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from iac.sim import COUPA_RATE_LIMIT, CoupaSim, serve

    shape = {"user_groups": max(20, users // 100), "content_groups": 20, "account_groups": 20}
    sim = CoupaSim(seed=args.seed, users=users, **shape)
    file = workdir / f"coupa-{users}.sqlite"
    with serve(Latency(sim.app, args.latency_min / 1000, args.latency_max / 1000)) as base:
        httpx.delete(f"{base}/__sim/stats")  # fresh counters and buckets
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")} | {
            "BATON_COUPA_DOMAIN": "bench.coupahost.com", "BATON_COUPA_CLIENT_ID": sim.client_id,
            "BATON_COUPA_CLIENT_SECRET": sim.client_secret, "BATON_BASE_URL": base, "BATON_FILE": str(file),
            "BATON_WORKERS": str(args.workers), "BATON_RATE_LIMIT_SHARE": str(args.share), "BATON_LOG_LEVEL": "warn"}
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


def main() -> None:
    args = sync_arguments(__doc__, "10000")
    if args.child:
        child_sync("coupa")
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-coupa-") as tmp:
        runs = [bench_size(n, args, Path(tmp)) for n in sizes]
    verdict = {
        "wall_within_1_15x_floor": all(r["wall_over_floor"] is not None and r["wall_over_floor"] <= 1.15
                                       for r in runs),
        "no_429": all(r["http_429"] == 0 for r in runs),
        "peak_rss_under_200mb": all(r["peak_rss_mb"] <= 200 for r in runs),
    }
    result = {"connector": "coupa", "share": args.share, "workers": args.workers,
              "latency_ms": [args.latency_min, args.latency_max], "runs": runs, "verdict": verdict}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
