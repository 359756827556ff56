"""`make demo-cluster`: the whole product on one machine, on a real (one-node) Kubernetes cluster.

Brings up the test suite's one-node cluster (tests/_node.py: etcd, kube-apiserver, controller-manager,
scheduler, containerd, kubelet in a private network namespace), builds the runtime image and loads it into
the node, then: render the example stack -> `iac up --wait` -> every connector pod syncs its vendor's simulator
-> `iac connector inspect` of each pod's artifact -> `iac destroy`, and tears the cluster down. `--keep` pauses
before the teardown so you can look around with the kubeconfig it prints.

Needs root (network namespaces, containerd, kubelet) and what `make test-deps` installs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from _node import (  # noqa: E402  (the fixture module lives with the tests)
    NodeCluster,
    build_runtime_image,
    find_components,
    simulated_stack,
    start_node_cluster,
)


def say(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", file=sys.stderr, flush=True)


def iac(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    import os

    result = subprocess.run([sys.executable, "-m", "iac", *args], text=True, cwd=REPO_ROOT,
                            env={**os.environ, **env}, check=False)
    if check and result.returncode != 0:
        raise SystemExit(f"demo-cluster: `iac {args[0]}` failed (exit {result.returncode})")
    return result


def synced_once(node: NodeCluster, pod_ip: str) -> bool:
    import httpx

    host, port = node.forward(pod_ip, 8081)
    text = httpx.get(f"http://{host}:{port}/metrics", timeout=5).text
    return any(line.startswith("baton_syncs_total{") and 'outcome="success"' in line
               and float(line.rsplit(" ", 1)[1]) >= 1 for line in text.splitlines())


def copy_artifact(pid: int, directory: Path, name: str) -> Path:
    """The pod's artifact (its BATON_FILE on the data volume), read through the running container's root."""
    entries = Path(f"/proc/{pid}/environ").read_text().split("\0")
    environ = dict(entry.split("=", 1) for entry in entries if "=" in entry)
    inside = Path(environ.get("BATON_FILE", "/data/sync.c1z"))
    target = directory / f"{name}{inside.suffix}"
    directory.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # a SQLite artifact comes with its journal files
        side = Path(f"/proc/{pid}/root{inside}{suffix}")
        if side.is_file():
            Path(f"{target}{suffix}").write_bytes(side.read_bytes())
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", "-o", type=Path, default=REPO_ROOT / "demo-out" / "cluster")
    parser.add_argument("--users", type=int, default=200, help="users per simulated org")
    parser.add_argument("--keep", action="store_true", help="wait for Enter before tearing the cluster down")
    options = parser.parse_args()
    started = time.monotonic()
    out = options.output_dir.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)

    say("provisioning: kube binaries, pause image (scripts/kube-binary.sh, scripts/pause-image.sh)")
    try:
        binaries, pause_archive = find_components()
    except (RuntimeError, ValueError) as exc:
        raise SystemExit(f"demo-cluster: cannot start the one-node cluster: {exc}") from None
    say("building the runtime image (scripts/build-image.sh)")
    image = build_runtime_image()

    with start_node_cluster(binaries, pause_archive, progress=lambda m: say(f"cluster: {m}")) as node:
        say(f"loading {image} into the node's containerd (no registry)")
        node.load_podman_image(image)
        with simulated_stack(node, out, users=options.users, seed=1) as simulated:
            env = {**simulated.environ, "KUBECONFIG": str(node.kubeconfig)}
            stack_file = str(simulated.stack_file)
            say(f"render: {simulated.stack.name} (each connector pointed at its simulator inside the node)")
            iac("render", stack_file, "--output-dir", str(out / "manifests"), env=env)
            say("up --wait")
            iac("up", stack_file, "--wait", "--timeout", "180", env=env)

            from lightkube.resources.core_v1 import Pod

            client = node.client()
            say("waiting for every connector pod to finish its first sync")
            pods = {p.metadata.labels["baton-app"]: p for p in client.list(Pod, namespace=simulated.stack.namespace)
                    if p.metadata and p.metadata.labels and "baton-app" in p.metadata.labels}
            deadline = time.monotonic() + 180
            pending = dict(pods)
            artifacts: dict[str, Path] = {}
            while pending and time.monotonic() < deadline:
                for name, pod in list(pending.items()):
                    if pod.status and pod.status.podIP and synced_once(node, pod.status.podIP):
                        pid = node.container_pid(simulated.stack.namespace, pod.metadata.name or "")
                        artifacts[name] = copy_artifact(pid, out / "artifacts", name)
                        say(f"{name}: synced; {simulated.sandboxes[name].requests()} requests to its simulator")
                        del pending[name]
                time.sleep(1)
            if pending:
                raise SystemExit(f"demo-cluster: no finished sync from {', '.join(sorted(pending))} in 180 s")

            for name in sorted(pods):
                say(f"inspect: {name} (the artifact its pod wrote to /data)")
                iac("connector", "inspect", str(artifacts[name]), "stats", env=env, check=False)
            if shutil.which("kubectl"):
                subprocess.run(["kubectl", "--kubeconfig", str(node.kubeconfig), "get", "pods", "-o", "wide",
                                "-n", simulated.stack.namespace], check=False)
            print(f"""
where to look:
  manifests   {out / 'manifests'}/
  artifacts   {out / 'artifacts'}/   (iac connector inspect FILE resources|grants|access ...)
  cluster     KUBECONFIG={node.kubeconfig} kubectl get pods -n {simulated.stack.namespace}
  logs        {node.workdir}/*.log (kubelet, containerd, kube-apiserver, ...)
  node        network namespace {node.netns}, node IP {node.node_ip} (inside it only)
""", flush=True)
            if options.keep:
                input("the cluster stays up until you press Enter... ")
            say("destroy")
            iac("destroy", stack_file, env=env)
        say("tearing the cluster down")
    say(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
