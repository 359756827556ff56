"""cdktf / CDK Terrain bindings of the baton provider and `iac synth --provider baton` (applying the output with a
real Terraform is in test_terraform_e2e.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iac import ConductorOne, Custom, Okta, Stack, secret
from iac.backends.cdk import SynthSettings, installed_flavors
from iac.backends.terraform import all_schemas
from iac.errors import RenderError

TOKEN_VAR = "OKTA_API_TOKEN"
FILE_SECRET = "sentinel-cdk-file-secret-0301"


@pytest.fixture(autouse=True)
def _quiet_node(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    if not installed_flavors():
        pytest.fail("cdktn or cdktf is needed (pip install '.[dev]')")


def _stack(tmp_path: Path) -> Stack:
    secret_file = tmp_path / "c1-secret"
    secret_file.write_text(FILE_SECRET + "\n")
    return Stack("ids", namespace="identity", create_namespace=True, image="registry.example.com/baton:1",
                 conductorone=ConductorOne(client_id="c1-id", client_secret=secret.file(str(secret_file)))).add(
        Okta("okta", domain="acme.okta.com", api_token=secret.env(TOKEN_VAR), sync_custom_roles=True),
        Custom("jira", image="registry.example.com/baton-jira:1.2", env={"BATON_JIRA_URL": "https://jira.example.com"},
               secret_env={"BATON_API_KEY": secret.env("JIRA_KEY")}, health_port=9090),
    )


def _synth(stack: Stack, outdir: Path) -> tuple[Any, dict[str, Any]]:
    from iac.backends.terraform.cdk import synth

    result = synth(stack, outdir, SynthSettings(kubeconfig="/etc/kube/config"))
    return result, json.loads(result.config_file.read_text())


def test_stack_synthesizes_for_the_baton_provider_with_secrets_as_ephemeral_variables(tmp_path: Path) -> None:
    result, config = _synth(_stack(tmp_path), tmp_path / "out")

    assert config["terraform"]["required_providers"] == {"baton": {"source": "iac/baton"}}
    assert config["terraform"]["required_version"] == ">= 1.11.0"
    assert config["provider"]["baton"] == [{"kubeconfig": "/etc/kube/config", "namespace": "identity",
                                            "create_namespace": True, "image": "registry.example.com/baton:1"}]
    okta = config["resource"]["baton_okta_connector"]["okta"]
    assert {k: v for k, v in okta.items() if k != "//"} == {
        "name": "okta", "namespace": "identity", "domain": "acme.okta.com", "api_token": f"${{var.{TOKEN_VAR}}}",
        "sync_custom_roles": True, "conductorone_client_id": "c1-id",
        "conductorone_client_secret": okta["conductorone_client_secret"]}
    assert okta["conductorone_client_secret"].startswith("${var.file_") and "c1_secret}" in \
        okta["conductorone_client_secret"]
    jira = config["resource"]["baton_custom_connector"]["jira"]
    assert jira["secret_env"] == {"BATON_API_KEY": "${var.JIRA_KEY}"} and jira["health_port"] == 9090
    for variable in config["variable"].values():
        assert variable["sensitive"] and variable["ephemeral"] and not variable["nullable"]
    assert {v.name for v in result.variables} == set(config["variable"])
    assert FILE_SECRET not in result.config_file.read_text()
    assert "kubernetes" not in json.dumps({k: v for k, v in config.items() if k != "//"})


def test_secret_references_the_provider_cannot_write_are_refused(tmp_path: Path) -> None:
    stack = Stack("ids", namespace="identity").add(
        Okta("okta", domain="acme.okta.com", api_token=secret.kubernetes("okta-creds", "token")))

    with pytest.raises(RenderError, match=r"field 'api_token': secret.kubernetes\('okta-creds', 'token'\) cannot be "
                                          "expressed with the baton provider"):
        _synth(stack, tmp_path / "out")
    assert not (tmp_path / "out" / "stacks").exists()


def test_resource_classes_take_exactly_their_arguments(tmp_path: Path) -> None:
    from iac.backends.terraform.cdk import bindings

    baton = bindings()
    lib = baton.lib
    app = lib.App(outdir=str(tmp_path))
    scope = lib.TerraformStack(app, "s")
    classes = baton.resources()

    assert list(classes) == list(all_schemas())
    okta = classes["baton_okta_connector"]
    with pytest.raises(TypeError, match="baton_okta_connector has no argument 'domian'; arguments: name, namespace, "
                                        "domain"):
        okta(scope, "typo", name="okta", domian="acme.okta.com", api_token="x")
    with pytest.raises(TypeError, match="baton_okta_connector needs domain, api_token"):
        okta(scope, "missing", name="okta")
    created = okta(scope, "ok", name="okta", domain="acme.okta.com", api_token="x")
    assert created.terraform_resource_type == "baton_okta_connector"
    assert created.get_string_attribute("id").startswith("${TfToken[")


def test_iac_synth_provider_baton(run_iac: Any, tmp_path: Path) -> None:
    stack_file = tmp_path / "stack.py"
    stack_file.write_text("from iac import Okta, Stack, secret\n"
                          "stack = Stack('ids', namespace='identity').add(\n"
                          "    Okta('okta', domain='acme.okta.com', api_token=secret.env('OKTA_API_TOKEN')))\n")
    env = {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}

    result = run_iac("synth", str(stack_file), "--provider", "baton", "-o", str(tmp_path / "out"), env=env)
    refused = run_iac("synth", str(stack_file), "--provider", "baton", "--no-write-only", "-o",
                      str(tmp_path / "other"), env=env)

    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "out" / "stacks" / "ids" / "cdk.tf.json").read_text())
    assert list(config["resource"]) == ["baton_okta_connector"]
    assert "export TF_VAR_OKTA_API_TOKEN=..." in result.stderr and "iac terraform install" in result.stderr
    assert refused.returncode == 2 and "always write-only" in refused.stderr


def test_a_plain_setting_given_as_a_secret_gets_a_variable_terraform_may_keep(tmp_path: Path) -> None:
    """conductorone_client_id is not write-only: its variable is sensitive but not ephemeral (Terraform refuses
    an ephemeral value in an argument it keeps in state), also when a write-only argument shares it."""
    stack = Stack("ids", namespace="identity").add(
        Okta("okta", domain="acme.okta.com", api_token=secret.env(TOKEN_VAR),
             conductorone=ConductorOne(client_id=secret.env("C1_ID"), client_secret=secret.env("C1_SECRET"))),
        Okta("shared", domain="other.okta.com", api_token=secret.env("SHARED"),
             conductorone=ConductorOne(client_id=secret.env("SHARED"), client_secret=secret.env("C1_SECRET"))),
    )
    _, config = _synth(stack, tmp_path / "out")

    ephemeral = {name: variable.get("ephemeral") for name, variable in config["variable"].items()}
    assert {name for name, value in ephemeral.items() if value} == {TOKEN_VAR, "C1_SECRET"}
    assert all(variable["sensitive"] for variable in config["variable"].values())
    assert config["resource"]["baton_okta_connector"]["okta"]["conductorone_client_id"] == "${var.C1_ID}"
