"""Synth cost: what `cdktf synth` runs (the cdktf.json app) and `iac synth`, for stacks of 1 and 100 connectors,
with CDKTF and with CDK Terrain, against the bare import cost of each library and its provider bindings.

Target: synthesizing costs at most 1.5x the bare import (the bindings are imported only when synthesizing,
so import is the floor). Every figure is a fresh process (import cost is paid per process), best of --runs.
Run: `make bench` or `.venv/bin/python bench/synth.py [--runs N]`.

Beyond the import, a synth costs one jsii round trip per resource (`create`: about 1 ms, half of it the trip
through the jsii runtime's two node processes, half node building the resource), node's own synthesis (CDK
Terrain resolves the whole configuration three times), importing iac and rendering. Both figures end the same
way: the app (like `iac`) freezes the garbage collector before exiting, and so does the bare import here, so the
floor does not carry the interpreter's shutdown walk over CDKTF's ~480,000 binding objects (about a second)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.5
SIZES = (1, 100)
FLAVORS = {"cdktf": ("cdktf", "cdktf_cdktf_provider_kubernetes"), "cdktn": ("cdktn", "cdktn_provider_kubernetes")}
# The bindings' submodules a synth of these stacks imports: the floor any program declaring them pays.
MODULES = ("provider", "namespace_v1", "secret_v1", "service_account_v1", "network_policy_v1", "deployment_v1",
           "manifest")
STACK = '''\
from iac import Celigo, Concur, ConductorOne, Coupa, Okta, Stack, secret

stack = Stack("bench", namespace="bench", create_namespace=True,
              conductorone=ConductorOne(client_id=secret.env("C1_ID"), client_secret=secret.env("C1_SECRET")))
makers = [
    lambda n: Okta(n, domain="acme.okta.com", api_token=secret.env("OKTA_TOKEN"), provisioning=True),
    lambda n: Coupa(n, domain="acme.coupahost.com", client_id="c", client_secret=secret.env("COUPA_SECRET")),
    lambda n: Concur(n, base_url="https://us2.api.concursolutions.com", client_id="c",
                     client_secret=secret.external("vault", "concur", property="secret"),
                     refresh_token=secret.external("vault", "concur", property="refresh")),
    lambda n: Celigo(n, access_token=secret.kubernetes("celigo", "token")),
]
for i in range({count}):
    stack.add(makers[i % len(makers)](f"c{{i}}"))
'''


def wall(args: list[str], env: dict[str, str], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(args, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr}")
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (best is kept)")
    runs = parser.parse_args().runs
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    python = sys.executable
    print(f"# synth benchmark — Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"best of {runs} fresh processes")
    print(f"{'cdk':>6} {'connectors':>10} {'resources':>9} {'import s':>8} {'app s':>7} {'x import':>8} "
          f"{'iac synth s':>11} {'x import':>8}")
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for flavor, (core, bindings) in FLAVORS.items():
            imports = ", ".join([core, *(f"{bindings}.{m}" for m in MODULES)])
            bare = wall([python, "-c", f"import gc, {imports}; gc.freeze()"], env, runs)
            for count in SIZES:
                stack_file = Path(tmp) / f"bench{count}.py"
                stack_file.write_text(STACK.format(count=count))
                out = Path(tmp) / f"{flavor}-{count}"
                app_env = {**env, "CDKTF_OUTDIR": str(out / "app"),
                           "CDKTF_CONTEXT_JSON": json.dumps({"iac:stack": str(stack_file), "iac:cdk": flavor})}
                app = wall([python, "-m", "iac.backends.cdk"], app_env, runs)
                cli = wall([python, "-m", "iac", "synth", str(stack_file), "-o", str(out / "cli"), "--cdk", flavor],
                           env, runs)
                config = json.loads((out / "app" / "stacks" / "bench" / "cdk.tf.json").read_text())
                resources = sum(len(v) for v in config["resource"].values())
                print(f"{flavor:>6} {count:>10} {resources:>9} {bare:>8.2f} {app:>7.2f} {app / bare:>8.2f} "
                      f"{cli:>11.2f} {cli / bare:>8.2f}")
                verdicts.append((flavor, count, app / bare))
    missed = [f"{flavor}/{count} ({ratio:.2f}x)" for flavor, count, ratio in verdicts if ratio > TARGET]
    print(f"target: synth (the cdktf.json app) <= {TARGET}x the bare import — "
          + ("met for every case" if not missed else f"MISSED for {', '.join(missed)}"))


if __name__ == "__main__":
    main()
