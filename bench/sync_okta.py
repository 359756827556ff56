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
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Org shapes: memberships default to users x min(8, groups-1); app assignments are set explicitly.
SHAPES: dict[int, dict[str, int]] = {
    2_000: {"groups": 40, "apps": 6, "app_assignments": 1_000},
    10_000: {"groups": 200, "apps": 20, "app_assignments": 10_000},
    100_000: {"groups": 1000, "apps": 40, "app_assignments": 50_000},
}


class Latency:
    """ASGI wrapper: every vendor request waits a uniform 20-50 ms (the admin API does not)."""

    def __init__(self, app: ASGIApp, low: float, high: float, seed: int = 0) -> None:
        self.app, self.low, self.high = app, low, high
        self.rng = random.Random(seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith("/__sim"):
            await asyncio.sleep(self.rng.uniform(self.low, self.high))
        await self.app(scope, receive, send)


def child(args: argparse.Namespace) -> None:
    """Run one sync in this process and print a JSON summary on stdout."""
    from iac.connectors.okta import build
    from iac.runtime import SyncEngine, Wiring, load_settings
    from iac.spec import Okta

    settings = load_settings(Okta, environ={}, domain="bench.okta.com", api_token=args.token,
                             base_url_override=args.base_url, rate_limit_share=args.share, workers=args.workers)
    connector = build(settings, Wiring())
    started = time.monotonic()
    engine = SyncEngine(connector, Path(args.file), workers=args.workers, interleave=not args.no_interleave)
    result = engine.run()
    connector.close()
    print(json.dumps({"wall": time.monotonic() - started, "stats": result.stats,
                      "peak_pending": engine.peak_pending}))


def run_child(base_url: str, token: str, file: Path, *, workers: int, interleave: bool, share: float
              ) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "--base-url", base_url, "--token", token, "--file", str(file),
           "--workers", str(workers), "--share", str(share)]
    if not interleave:
        cmd.append("--no-interleave")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"sync failed ({proc.returncode}):\n{err}")
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    summary["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    return summary


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
        if users in args.baseline_sizes:
            modes.append(("baseline", 1, False))
        for name, workers, interleave in modes:
            httpx.delete(f"{base}/__sim/stats")  # fresh counters and rate-limit windows
            file = workdir / f"okta-{users}-{name}.sqlite"
            print(f"[{users} users] {name}: workers={workers} interleave={interleave} ...", file=sys.stderr,
                  flush=True)
            summary = run_child(base, sim.token, file, workers=workers, interleave=interleave, share=args.share)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated user counts")
    parser.add_argument("--baseline-sizes", default="10000",
                        help="sizes that also run the one-request-at-a-time baseline ('' for none)")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--share", type=float, default=0.5, help="BATON_RATE_LIMIT_SHARE")
    parser.add_argument("--latency-min", type=float, default=20.0, help="ms")
    parser.add_argument("--latency-max", type=float, default=50.0, help="ms")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--no-interleave", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    args.baseline_sizes = {int(s) for s in args.baseline_sizes.split(",") if s.strip()}
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix="bench-okta-") as tmp:
        reports = [bench_size(n, args, Path(tmp)) for n in sizes]
    rss = [r["runtime"]["peak_rss_mb"] for r in reports]
    verdict = {
        "wall_within_1_15x_floor": all(r["runtime"]["wall_over_floor"] <= 1.15 for r in reports),
        "peak_rss_under_200mb": all(v <= 200 for v in rss),
        "rss_growth_smallest_to_largest_mb": round(rss[-1] - rss[0], 1) if rss else 0.0,
    }
    result = {"share": args.share, "workers": args.workers,
              "latency_ms": [args.latency_min, args.latency_max], "runs": reports, "verdict": verdict}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
