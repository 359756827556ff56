"""Measure the Okta simulator: generation time and memory at scale, and requests/s served on loopback.

    .venv/bin/python bench/sim_okta.py [--users 100000 --groups 5000 --apps 500 --memberships 1000000]

Prints one JSON object. Figures depend on the machine; compare runs on the same one.
"""

from __future__ import annotations

import argparse
import json
import resource
import threading
import time
from typing import Any

import httpx

from iac.sim import OktaSim, serve


def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _requests_per_second(base_url: str, headers: dict[str, str], path: str, params: dict[str, Any],
                         clients: int, seconds: float) -> float:
    done = [0] * clients
    stop_at = time.perf_counter() + seconds

    def worker(slot: int) -> None:
        with httpx.Client(base_url=base_url, headers=headers) as c:
            while time.perf_counter() < stop_at:
                c.get(path, params=params).raise_for_status()
                done[slot] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - started)


def _full_user_sync_seconds(base_url: str, headers: dict[str, str]) -> tuple[float, int]:
    started, count = time.perf_counter(), 0
    with httpx.Client(base_url=base_url, headers=headers) as c:
        url: str | None = "/api/v1/users?search=status%20pr&limit=200"
        while url:
            response = c.get(url)
            count += len(response.json())
            url = response.links.get("next", {}).get("url")
    return time.perf_counter() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--memberships", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=3.0, help="per throughput measurement")
    args = parser.parse_args()

    rss_before = _rss_mib()
    started = time.perf_counter()
    sim = OktaSim(seed=1, users=args.users, groups=args.groups, apps=args.apps, memberships=args.memberships,
                  rate_scale=1e6)  # measure the server, not the rate limiter
    generate_s = time.perf_counter() - started
    rss_after = _rss_mib()
    result: dict[str, Any] = {"counts": sim.dataset.counts(), "generate_seconds": round(generate_s, 2),
                              "rss_mib_before": round(rss_before, 1), "rss_mib_after": round(rss_after, 1)}
    with serve(sim.app) as base_url:
        headers = sim.auth_headers
        cases: list[tuple[str, str, dict[str, Any]]] = [
            ("users_limit_1", "/api/v1/users", {"limit": 1}),
            ("users_limit_200", "/api/v1/users", {"limit": 200}),
            ("groups_stats_limit_200", "/api/v1/groups", {"limit": 200, "expand": "stats"}),
        ]
        for label, path, params in cases:
            for clients in (1, 4):
                rps = _requests_per_second(base_url, headers, path, params, clients, args.seconds)
                result[f"rps_{label}_{clients}_clients"] = round(rps)
        sync_s, synced = _full_user_sync_seconds(base_url, headers)
        result["all_users_paged_seconds"] = round(sync_s, 2)
        result["all_users_paged_count"] = synced
    result["rss_mib_end"] = round(_rss_mib(), 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
