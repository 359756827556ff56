"""Benchmark: `iac review` of a 100k-account, ~1M-grant Okta artifact, and the report's page in headless Chromium.

    .venv/bin/python bench/review.py                              # 100k users, ~1M grants
    .venv/bin/python bench/review.py --users 10000 --memberships 80000
    .venv/bin/python bench/review.py --keep /tmp/okta.c1z        # review this artifact (made there when missing)

The artifact is real: the Okta simulator (limits lifted) synced twice by the runtime, with churn in between
(suspended users, memberships added and removed), so the report computes changes at full size too. Making it
takes minutes (two 1M-grant syncs), so it is cached under $IAC_BENCH_CACHE (default ~/.cache/baton-iac/bench),
keyed on the simulator's seed and sizes and the artifact's schema version: a rerun only reviews (seconds).
`--fresh` makes it again.

Figures: the review command's wall and CPU time and peak RSS (a child process: its RSS alone; on a shared
machine the wall time follows the load average, printed beside it), the report's size,
and in the browser the time until the page is interactive, the DOM size, and how long a search, a sort, a
page turn and an account's detail take. Targets: < 10 s and < 300 MB RSS; the page stays responsive
(no table holds more than one page of rows).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))


def make_artifact(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    from iac.connectors.okta import build
    from iac.runtime import SyncEngine, Wiring, load_settings
    from iac.sim import OktaSim, serve
    from iac.spec import Okta

    started = time.perf_counter()
    sim = OktaSim(seed=args.seed, users=args.users, groups=args.groups, apps=args.apps,
                  memberships=args.memberships, app_assignments=args.app_assignments, rate_scale=1000)
    data = sim.dataset

    def sync(base: str) -> dict[str, Any]:
        settings = load_settings(Okta, environ={}, domain="bench.okta.com", api_token=sim.token,
                                 base_url_override=base)
        connector = build(settings, Wiring())
        try:
            return SyncEngine(connector, path, workers=8).run().stats
        finally:
            connector.close()

    with serve(sim.app) as base:
        print(f"[review] syncing {args.users:,} users (first sync) ...", file=sys.stderr, flush=True)
        sync(base)
        churn = max(1, args.users // 1000)
        for i in range(churn):  # between the syncs: suspensions, joins and leaves
            data.status[(i * 7919) % args.users] = 3
            group = 1 + i % (args.groups - 1)
            data.add_group_member(group, (i * 104729) % args.users, 1)
            if data.group_members[group]:
                data.remove_group_member(group, data.group_members[group][0], 1)
        print("[review] syncing again after churn ...", file=sys.stderr, flush=True)
        stats = sync(base)
    return {"grants": stats["grants"]["total"], "resources": stats["resources"]["total"],
            "artifact_mb": round(path.stat().st_size / 2**20, 1), "make_s": round(time.perf_counter() - started, 1)}


def cached_artifact(args: argparse.Namespace) -> Path:
    """Where the artifact for these simulator parameters is kept between runs."""
    from iac.runtime._store import SCHEMA_VERSION

    root = Path(os.environ.get("IAC_BENCH_CACHE") or Path.home() / ".cache" / "baton-iac" / "bench")
    key = (f"okta-seed{args.seed}-u{args.users}-g{args.groups}-a{args.apps}-m{args.memberships}"
           f"-aa{args.app_assignments}-schema{SCHEMA_VERSION}")
    return root / f"review-{key}.c1z"


def run_review(artifact: Path, out: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "iac", "review", str(artifact), "-o", str(out / "report.html"),
               "--csv", str(out / "evidence")]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"iac review failed: {stderr}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "load_average": round(os.getloadavg()[0], 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "report_mb": round((out / "report.html").stat().st_size / 2**20, 1), "summary": stderr.strip()}


def measure_page(report: Path, profile: Path) -> dict[str, Any]:
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from _browser import Browser

    with Browser(profile, timeout=120) as browser:
        started = time.perf_counter()
        browser.open(report.as_uri())
        load_s = time.perf_counter() - started
        ready_ms = browser.evaluate("window.accessReview.readyMs")

        def timed(script: str) -> float:
            return float(browser.evaluate(f"(() => {{ const t = performance.now(); {script}; "
                                          "return performance.now() - t; })()"))

        figures = {
            "load_s": round(load_s, 2), "script_ready_ms": round(ready_ms),
            "dom_elements": browser.evaluate("document.getElementsByTagName('*').length"),
            "largest_table_rows": browser.evaluate(
                "Math.max(...[...document.querySelectorAll('tbody')].map(t => t.rows.length))"),
            "search_accounts_ms": round(timed("window.accessReview.tables.accounts.search('engineering')")),
            "search_grants_ms": round(timed("window.accessReview.tables.grants.search('type:app')")),
            "sort_accounts_ms": round(timed(
                "document.querySelector('#accounts-table th[data-key=effective] button').click()")),
            "next_page_ms": round(timed("document.querySelector('[data-table=accounts] [data-page=next]').click()")),
            "account_detail_ms": round(timed(
                "location.hash = 'account/' + window.accessReview.key(window.accessReview.res.id.length - 1); "
                "window.dispatchEvent(new HashChangeEvent('hashchange'))")),
            "entitlement_holders_ms": round(timed(
                "location.hash = 'entitlement/' + window.accessReview.ent.id[0]; "
                "window.dispatchEvent(new HashChangeEvent('hashchange'))")),
        }
        figures["js_heap_mb"] = round(browser.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
                                      / 2**20, 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--apps", type=int, default=40)
    parser.add_argument("--memberships", type=int, default=900_000)
    parser.add_argument("--app-assignments", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="artifact to review (made there when missing); default: the cache")
    parser.add_argument("--fresh", action="store_true", help="make the artifact again even when one is kept")
    args = parser.parse_args()
    artifact: Path = args.keep or cached_artifact(args)
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        work = Path(tmp)
        made: dict[str, Any] = {"reused": str(artifact)}
        if args.fresh or not artifact.exists():
            artifact.parent.mkdir(parents=True, exist_ok=True)
            partial = artifact.with_name(artifact.name + ".partial")  # a killed run leaves no half-made artifact
            partial.unlink(missing_ok=True)
            made = make_artifact(partial, args)
            partial.replace(artifact)
        review = run_review(artifact, work)
        page = measure_page(work / "report.html", work / "profile")
    result = {"users": args.users, "artifact": made, "review": review, "page": page,
              "verdict": {"under_10s": review["wall_s"] < 10, "cpu_under_10s": review["cpu_s"] < 10,
                          "under_300mb": review["peak_rss_mb"] < 300,
                          "one_page_per_table": page["largest_table_rows"] <= 50}}
    origin = f"reused from {artifact}" if "reused" in made else f"made in {made['make_s']} s"
    print(f"# review benchmark — Okta simulator, {args.users:,} accounts, two syncs, {os.cpu_count()} cores, "
          f"load average {review['load_average']} (artifact {origin})")
    print(f"review of {args.users:,} accounts: {review['summary']}")
    print(f"  iac review: {review['wall_s']} s wall, {review['cpu_s']} s CPU (load average {review['load_average']} "
          f"on {os.cpu_count()} cores), peak RSS {review['peak_rss_mb']} MB, report {review['report_mb']} MB "
          f"(targets < 10 s, < 300 MB)")
    print(f"  page: interactive after {page['load_s']} s (script {page['script_ready_ms']} ms), "
          f"{page['dom_elements']:,} elements, largest table {page['largest_table_rows']} rows; search "
          f"{page['search_accounts_ms']} ms (accounts), {page['search_grants_ms']} ms (grants), sort "
          f"{page['sort_accounts_ms']} ms, next page {page['next_page_ms']} ms, account detail "
          f"{page['account_detail_ms']} ms, entitlement holders {page['entitlement_holders_ms']} ms, "
          f"JS heap {page['js_heap_mb']} MB")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
