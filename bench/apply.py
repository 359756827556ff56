"""Deploy 100 connectors (401 objects) to a real kube-apiserver: `iac up` vs `kubectl apply --server-side`.

Both start from a fresh namespace in the same cluster and run as subprocesses, so each wall time includes
its own start-up (Python import + render for iac; discovery for kubectl). kubectl applies the very file
that `iac render` produces for the stack. Rounds alternate which tool goes first. A third namespace
measures the engine in-process (load + render + up, no interpreter start-up).

Targets: iac up / kubectl apply <= 0.5; writes of a re-up of the unchanged stack = 0. A missed speed
target is reported, not fatal; a re-up that writes is a regression and exits 1.
Run: `make bench` or `.venv/bin/python bench/apply.py [--connectors N] [--rounds N]`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the cluster fixture and stack writer the tests use

from _cluster import KubeCluster, start_cluster  # noqa: E402
from _stacks import write_stack  # noqa: E402

TARGET_RATIO = 0.5
TARGET_REUP_WRITES = 0
ENVIRON = {"C1_CLIENT_ID": "bench-c1-id", "C1_CLIENT_SECRET": "bench-c1-secret",
           "OKTA_API_TOKEN": "bench-okta-token"}


SERVER_CPU: dict[str, float] = {}
"""CPU seconds etcd + kube-apiserver spent serving the last :func:`timed` command (key: the tool)."""


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes, from /proc (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def timed(argv: list[str], env: dict[str, str], server: list[int] | None = None) -> tuple[float, str]:
    before = cpu_seconds(server or [])
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    SERVER_CPU[Path(argv[0]).name] = cpu_seconds(server or []) - before
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} ... failed ({result.returncode}): {result.stderr.strip()}")
    return elapsed, result.stdout


def iac(*args: str) -> list[str]:
    return [sys.executable, "-m", "iac", *args]


def resource_versions(cluster: KubeCluster, namespace: str) -> dict[str, str]:
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import Secret, ServiceAccount
    from lightkube.resources.networking_v1 import NetworkPolicy

    client = cluster.client()
    return {f"{kind.__name__}/{obj.metadata.name}": obj.metadata.resourceVersion
            for kind in (Secret, ServiceAccount, NetworkPolicy, Deployment)
            for obj in client.list(kind, namespace=namespace)}


def engine_up(cluster: KubeCluster, stack_file: Path, env: dict[str, str]) -> float:
    """``iac up`` minus interpreter start-up: load, render, connect and up in this process."""
    from iac.backends.engine import Engine, connect
    from iac.render import render_stack
    from iac.spec import load_stack

    start = time.perf_counter()
    stack = load_stack(stack_file)
    objects = render_stack(stack, environ=env)
    api = connect(cluster.kubeconfig)
    try:
        Engine(api, stack=stack.name, namespace=stack.namespace).up(objects)
    finally:
        api.close()
    return time.perf_counter() - start


def find_binaries() -> tuple[Path, str, str]:
    missing = [tool for tool in ("etcd", "openssl", "kubectl") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"bench/apply.py needs {', '.join(missing)} (scripts/install-test-deps.sh; kubectl "
                         "from your distribution)")
    found = subprocess.run([str(REPO_ROOT / "scripts" / "kube-apiserver.sh")], capture_output=True, text=True,
                           check=True)
    return Path(found.stdout.strip()), str(shutil.which("etcd")), str(shutil.which("openssl"))


def one_round(cluster: KubeCluster, workdir: Path, connectors: int, index: int, iac_first: bool,
              env: dict[str, str]) -> dict[str, Any]:
    names = [f"c{i:03d}" for i in range(connectors)]
    iac_stack = write_stack(workdir / f"iac-{index}.py", name="bench", namespace=f"bench-iac-{index}",
                            connectors=names)
    kubectl_stack = write_stack(workdir / f"kubectl-{index}.py", name="bench",
                                namespace=f"bench-kubectl-{index}", connectors=names)
    manifest = workdir / f"kubectl-{index}.yaml"
    _, rendered = timed(iac("render", str(kubectl_stack)), env)
    manifest.write_text(rendered)
    target = ["--kubeconfig", str(cluster.kubeconfig)]
    kubectl = ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "apply", "--server-side",
               "--field-manager=kubectl-bench", "-f", str(manifest)]

    row: dict[str, Any] = {"objects": rendered.count("\nkind: ") + rendered.startswith("kind: ")}
    server = list(cluster.pids.values())
    for tool in (["iac", "kubectl"] if iac_first else ["kubectl", "iac"]):
        if tool == "iac":
            row["iac_up_s"], _ = timed(iac("up", str(iac_stack), *target), env, server)
            row["iac_server_cpu_s"] = SERVER_CPU[Path(sys.executable).name]
        else:
            row["kubectl_apply_s"], _ = timed(kubectl, env, server)
            row["kubectl_server_cpu_s"] = SERVER_CPU["kubectl"]
    library_stack = write_stack(workdir / f"lib-{index}.py", name="bench", namespace=f"bench-lib-{index}",
                                connectors=names)
    row["engine_up_s"] = engine_up(cluster, library_stack, env)
    before = resource_versions(cluster, f"bench-iac-{index}")
    row["iac_reup_s"], reup = timed(iac("up", str(iac_stack), *target, "-o", "json"), env)
    row["iac_reup_writes"] = json.loads(reup)["writes"]
    row["reup_resource_versions_unchanged"] = resource_versions(cluster, f"bench-iac-{index}") == before
    row["kubectl_reapply_s"], _ = timed(kubectl, env)
    row["iac_preview_unchanged_s"], _ = timed(iac("preview", str(iac_stack), *target), env)
    # A rotated credential touches every Secret and (checksum annotation) every Deployment: 200 dry runs.
    rotated = {**env, "OKTA_API_TOKEN": "bench-okta-token-rotated"}
    row["iac_preview_rotated_s"], plan = timed(iac("preview", str(iac_stack), *target, "-o", "json"), rotated)
    row["iac_preview_rotated_updates"] = json.loads(plan)["summary"]["update"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    apiserver, etcd, openssl = find_binaries()
    env = {**os.environ, **ENVIRON, "COLUMNS": "200"}
    with tempfile.TemporaryDirectory(prefix="iac-bench-") as tmp, \
            start_cluster(apiserver, etcd, openssl) as cluster:
        rows = [one_round(cluster, Path(tmp), args.connectors, i, iac_first=i % 2 == 0, env=env)
                for i in range(args.rounds)]

    def median(key: str) -> float:
        return statistics.median(float(r[key]) for r in rows)

    print(f"# apply benchmark — {args.connectors} connectors ({rows[0]['objects']} objects), "
          f"{args.rounds} rounds, kube-apiserver v1.20.2 started in {cluster.startup_seconds:.1f} s")
    print(f"{'round':>5} {'iac up s':>9} {'kubectl s':>10} {'ratio':>6} {'engine s':>9} {'re-up s':>8} "
          f"{'writes':>6} {'kubectl re s':>12} {'preview s':>9} {'preview rot s':>13} {'updates':>7}")
    for i, r in enumerate(rows):
        print(f"{i:>5} {r['iac_up_s']:>9.2f} {r['kubectl_apply_s']:>10.2f} "
              f"{r['iac_up_s'] / r['kubectl_apply_s']:>6.2f} {r['engine_up_s']:>9.2f} {r['iac_reup_s']:>8.2f} "
              f"{r['iac_reup_writes']:>6} {r['kubectl_reapply_s']:>12.2f} {r['iac_preview_unchanged_s']:>9.2f} "
              f"{r['iac_preview_rotated_s']:>13.2f} {r['iac_preview_rotated_updates']:>7}")
    ratio = median("iac_up_s") / median("kubectl_apply_s")
    engine_ratio = median("engine_up_s") / median("kubectl_apply_s")
    writes = max(int(r["iac_reup_writes"]) for r in rows)
    unchanged = all(r["reup_resource_versions_unchanged"] for r in rows)
    print(f"iac up / kubectl apply --server-side (medians): {median('iac_up_s'):.2f} s / "
          f"{median('kubectl_apply_s'):.2f} s = {ratio:.2f} (target <= {TARGET_RATIO}: "
          f"{'met' if ratio <= TARGET_RATIO else 'MISSED'})")
    print(f"in-process engine (load + render + up) / kubectl apply: {median('engine_up_s'):.2f} s / "
          f"{median('kubectl_apply_s'):.2f} s = {engine_ratio:.2f}; `iac` interpreter start-up is the rest")
    print(f"re-up of the unchanged stack: {writes} writes, resourceVersions "
          f"{'unchanged' if unchanged else 'CHANGED'} (target {TARGET_REUP_WRITES}: "
          f"{'met' if writes == TARGET_REUP_WRITES and unchanged else 'MISSED'})")
    cores = os.cpu_count() or 1
    print(f"apiserver + etcd CPU while applying (medians): {median('iac_server_cpu_s'):.2f} s for iac up, "
          f"{median('kubectl_server_cpu_s'):.2f} s for kubectl; on {cores} cores the server alone needs "
          f">= {median('iac_server_cpu_s') / cores:.2f} s of iac up's wall time")
    print(f"preview: {median('iac_preview_unchanged_s'):.2f} s unchanged, "
          f"{median('iac_preview_rotated_s'):.2f} s with every Secret rotated")
    if writes != TARGET_REUP_WRITES or not unchanged:
        sys.exit(1)


if __name__ == "__main__":
    main()
