"""Shared by the sync benchmarks: a latency wrapper for the simulators, the environment a pod of the
integration would get, a child process per sync (so the peak RSS measured is the sync's alone, and no
credential ever travels in its arguments) and the run-every-size-and-report main loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Latency:
    """ASGI wrapper: every vendor request waits a uniform 20-50 ms (the admin API does not)."""

    def __init__(self, app: ASGIApp, low: float, high: float, seed: int = 0) -> None:
        self.app, self.low, self.high = app, low, high
        self.rng = random.Random(seed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith("/__sim"):
            await asyncio.sleep(self.rng.uniform(self.low, self.high))
        await self.app(scope, receive, send)


INTERLEAVE_ENV = "BENCH_INTERLEAVE"
"""``0`` runs the child's sync without bucket-aware interleaving (the one-request-at-a-time baseline)."""


STORE_PROCESS_ENV = "BENCH_STORE_PROCESS"
"""``0`` stores from the coordinator thread instead of the store's own process (the comparison)."""


LOG_LEVEL_ENV = "BENCH_LOG_LEVEL"
"""A log level (``info``, ``debug``) for the child's sync; its log is then printed after the run."""


PROFILE_ENV = "BENCH_PROFILE"
"""A path: the child profiles the sync's coordinator thread (cProfile) into it."""


def sync_env(integration: Any, *, simulator: str, file: Path, workers: int, share: float, log_level: str = "warn",
             **settings: Any) -> dict[str, str]:
    """This environment without any inherited ``BATON_*``, plus what a pod of ``integration`` pointed at the
    simulator gets (:func:`iac.runtime.testing.pod_environment`)."""
    from iac.runtime.testing import pod_environment

    return {k: v for k, v in os.environ.items() if not k.startswith("BATON_")} | pod_environment(
        integration, simulator=simulator, file=file, workers=workers, rate_limit_share=share,
        log_level=os.environ.get(LOG_LEVEL_ENV, log_level),
        **settings)


def child_sync(connector: str) -> None:
    """Run one sync of ``connector`` in this process, configured by the BATON_* environment like a pod;
    print a JSON summary."""
    from iac.connectors import registered
    from iac.runtime import SyncEngine, Wiring, configure_logging, load_settings

    entry = registered()[connector]
    settings = load_settings(entry.integration)
    configure_logging(settings.log_level)
    runner = entry.build(settings, Wiring())
    started = time.monotonic()
    interleave = os.environ.get(INTERLEAVE_ENV, "1") != "0"
    engine = SyncEngine(runner, settings.file, workers=settings.workers, interleave=interleave,
                        store_process=os.environ.get(STORE_PROCESS_ENV, "1") != "0")
    profile_to = os.environ.get(PROFILE_ENV)
    coordinator_cpu = time.thread_time()
    sampler = _ThreadCpu()
    if profile_to:  # cProfile sees only this thread: the coordinator's share of the CPU
        import cProfile

        profiler = cProfile.Profile()
        result = profiler.runcall(engine.run)
        profiler.dump_stats(profile_to)
    else:
        result = engine.run()
    coordinator_cpu = time.thread_time() - coordinator_cpu
    threads = sampler.stop()
    runner.close()
    store = resource.getrusage(resource.RUSAGE_CHILDREN)  # the store's process, reaped at the end of the sync
    print(json.dumps({"wall": time.monotonic() - started, "stats": result.stats,
                      "peak_pending": engine.peak_pending, "coordinator_cpu_s": coordinator_cpu,
                      "process_cpu_s": time.process_time(), "thread_cpu_s": threads,
                      "store_process_cpu_s": store.ru_utime + store.ru_stime,
                      "store_process_rss_mb": store.ru_maxrss / 1024}))


class _ThreadCpu:
    """Samples /proc/self/task while the sync runs (threads that end take their figures with them): CPU
    seconds per thread name, the workers summed -- where a sync's CPU goes."""

    def __init__(self, interval: float = 0.1) -> None:
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        names = {t.native_id: t.name.rsplit("-", 1)[0] if t.name.startswith("sync-worker") else t.name
                 for t in threading.enumerate()}
        ticks = os.sysconf("SC_CLK_TCK")
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(OSError):
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
                tid = int(task.name)
                name = names.get(tid) or self._last.get(tid, ("other", 0.0))[0]
                self._last[tid] = (name, (int(fields[11]) + int(fields[12])) / ticks)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._sample()
        out: dict[str, float] = {}
        for name, cpu in self._last.values():
            if name != "bench-sampler":
                out[name] = round(out.get(name, 0.0) + cpu, 2)
        return out


def run_child(script: str, env: dict[str, str]) -> dict[str, Any]:
    """Run ``script --child`` with ``env``; its JSON summary plus the child's peak RSS and the CPU this
    process (the simulator, on the same cores) spent meanwhile."""
    simulator_cpu = time.process_time()
    with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: a chatty child cannot block on it
        proc = subprocess.Popen([sys.executable, script, "--child"], env=env, stdout=subprocess.PIPE,
                                stderr=errors, text=True)
        out = proc.stdout.read() if proc.stdout else ""
        _, status, usage = os.wait4(proc.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        err = errors.read()
    if code != 0:
        raise SystemExit(f"sync failed ({code}):\n{err}")
    if os.environ.get(LOG_LEVEL_ENV):
        print(err, end="", file=sys.stderr)
    summary: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    summary["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: KiB
    summary["simulator_cpu_s"] = time.process_time() - simulator_cpu
    return summary


def sync_arguments(doc: str | None, default_sizes: str, extra: Callable[[Any], None] | None = None) -> Any:
    """The command line every sync benchmark takes (``extra(parser)`` adds a benchmark's own)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=default_sizes, help="comma-separated user counts")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--share", type=float, default=0.5, help="BATON_RATE_LIMIT_SHARE")
    parser.add_argument("--latency-min", type=float, default=20.0, help="ms")
    parser.add_argument("--latency-max", type=float, default=50.0, help="ms")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def run_figures(summary: dict[str, Any], by_endpoint: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The figures every sync benchmark reports for one run (429s, peak RSS, grants, requests)."""
    return {"http_429": sum(c.get("429", 0) for c in by_endpoint.values()),
            "peak_rss_mb": round(summary["peak_rss_mb"], 1), "peak_pending_tasks": summary["peak_pending"],
            "coordinator_cpu_s": round(summary["coordinator_cpu_s"], 2),
            "process_cpu_s": round(summary["process_cpu_s"], 2),
            "store_process_cpu_s": round(summary["store_process_cpu_s"], 2),
            "store_process_rss_mb": round(summary["store_process_rss_mb"], 1),
            "simulator_cpu_s": round(summary["simulator_cpu_s"], 2),
            "thread_cpu_s": summary["thread_cpu_s"],
            "grants": summary["stats"]["grants"]["total"], "requests_by_endpoint": by_endpoint}


def print_run(users: int, report: dict[str, Any]) -> None:
    print(f"[{users} users] {json.dumps({k: v for k, v in report.items() if k != 'requests_by_endpoint'})}",
          file=sys.stderr, flush=True)


def run_sizes(connector: str, args: Any, bench_size: Callable[[int, Any, Path], dict[str, Any]],
              verdict: Callable[[list[dict[str, Any]]], dict[str, Any]]) -> None:
    """The sync benchmarks' main: in the child, one sync; else ``bench_size`` per ``--sizes`` in a scratch
    directory, then the JSON report (stdout, and ``--json``)."""
    if args.child:
        child_sync(connector)
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    with tempfile.TemporaryDirectory(prefix=f"bench-{connector}-") as tmp:
        runs = [bench_size(n, args, Path(tmp)) for n in sizes]
    result = {"connector": connector, "share": args.share, "workers": args.workers,
              "latency_ms": [args.latency_min, args.latency_max], "runs": runs, "verdict": verdict(runs)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
