"""The ConductorOne side from one stack: ``hosting="cloud"`` connectors and ``ConductorOne.managed(...)``.

The ConductorOne provider cannot be downloaded offline, so the synthesized Terraform JSON is asserted instead:
resource types, the provider's attribute names (v1.5.0, transcribed below from its documentation), references
and the absence of every secret value. One synth per provider path, shared by the module."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pytest
from conftest import EXAMPLE_ENV, RunIac
from test_cdk import jsii_env
from test_pulumi import run_pulumi

from iac import ConductorOne, Coupa, Custom, Okta, Stack, secret
from iac.backends.gitops import build_gitops_tree
from iac.backends.pulumi import deploy
from iac.docs import catalog_markdown
from iac.errors import SecretResolutionError, SpecError
from iac.plugins import integration_classes
from iac.render import render_stack
from iac.spec import Connector, Integration, Setting, conductorone_apps

FILE_SECRET = "sentinel-concur-file-secret-0401"
ENV = {
    **EXAMPLE_ENV,
    "CELIGO_TOKEN": "sentinel-celigo-token-0402",
    "OKTA_SELF_TOKEN": "sentinel-okta-self-token-0403",
    "JIRA_C1_SECRET": "sentinel-jira-c1-secret-0404",
}
SENTINELS = [*ENV.values(), FILE_SECRET]
OWNERS = ["2owner1Aaaaaaaaaaaaaaaaaaaa", "2owner2Bbbbbbbbbbbbbbbbbbbb"]
STACK = '''\
from iac import Celigo, Concur, ConductorOne, Coupa, Custom, Okta, Stack, secret

stack = Stack("c1", namespace="ids",
              conductorone=ConductorOne.managed(owners={owners!r}, display_names={{"okta": "Okta (prod)"}}))
stack.add(
    Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN"), sync_custom_roles=True,
         hosting="cloud"),
    Coupa("coupa", domain="acme.coupahost.com", client_id="coupa-client",
          client_secret=secret.env("COUPA_CLIENT_SECRET"), hosting="cloud"),
    Concur("concur", base_url="https://us2.api.concursolutions.com", client_id="concur-client",
           client_secret=secret.file({file!r}), refresh_token=secret.env("CONCUR_REFRESH_TOKEN"), hosting="cloud"),
    Celigo("celigo", access_token=secret.env("CELIGO_TOKEN"), region="eu", hosting="cloud"),
    Okta("okta-self", domain="self.okta.com", api_token=secret.env("OKTA_SELF_TOKEN")),
    Coupa("coupa-self", domain="acme.coupacloud.com", client_id="coupa-self-client",
          client_secret={coupa_self_secret}),
    Custom("jira", image="registry.example.com/baton-jira:1",
           conductorone=ConductorOne(client_id="jira-c1-id", client_secret=secret.env("JIRA_C1_SECRET"))),
)
'''

# terraform-provider-conductorone v1.5.0: every configurable attribute of the resources this project declares.
PROVIDER_ATTRIBUTES = {
    "conductorone_app": {"display_name", "description", "annotations", "app_entitlement_owner_refs",
                         "certify_policy_id", "grant_policy_id", "revoke_policy_id", "identity_matching",
                         "instructions", "match_baton_ref", "monthly_cost_usd",
                         "strict_access_entitlement_provisioning"},
    "conductorone_integration_okta_v2": {"app_id", "user_ids", "okta_v2_domain", "okta_v2_api_token",
                                         "okta_sync_custom_roles", "okta_skip_secondary_emails", "okta_sync_secrets"},
    "conductorone_integration_coupa": {"app_id", "user_ids", "coupa_domain", "oauth2_client_cred_grant_client_id",
                                       "oauth2_client_cred_grant_client_secret"},
    "conductorone_integration_concur": {"app_id", "user_ids", "concur_base_url", "concur_client_id",
                                        "concur_client_secret", "concur_refresh_token"},
    "conductorone_integration_celigo": {"app_id", "user_ids", "celigo_region", "celigo_access_token"},
    "conductorone_integration_baton": {"app_id", "user_ids"},
    "conductorone_connector_credential": {"app_id", "connector_id"},
}
SENSITIVE = {"okta_v2_api_token", "oauth2_client_cred_grant_client_secret", "concur_client_secret",
             "concur_refresh_token", "celigo_access_token"}


def _write_stack(directory: Path, coupa_self_secret: str) -> Path:
    secret_file = directory / "concur-secret"
    secret_file.write_text(FILE_SECRET + "\n")
    path = directory / "c1.py"
    path.write_text(STACK.format(owners=OWNERS, file=str(secret_file), coupa_self_secret=coupa_self_secret))
    return path


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_stack(tmp_path_factory.mktemp("c1-stack"), 'secret.kubernetes("coupa-self", "secret")')


class Synth:
    def __init__(self, outdir: Path, result: subprocess.CompletedProcess[str]) -> None:
        self.outdir = outdir
        self.result = result
        self.config: dict[str, Any] = json.loads((outdir / "stacks" / "c1" / "cdk.tf.json").read_text())

    def resource(self, resource_type: str, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.config["resource"][resource_type][name]
        return {k: v for k, v in found.items() if k != "//"}

    def names(self, resource_type: str) -> list[str]:
        return sorted(self.config["resource"].get(resource_type, {}))


@pytest.fixture(scope="module")
def synthesized(stack_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """`iac synth` (hashicorp/kubernetes) of the managed stack, with every credential set to a sentinel."""
    work = tmp_path_factory.mktemp("c1-synth")
    env = {**jsii_env(work), **ENV}
    result = subprocess.run([sys.executable, "-m", "iac", "synth", str(stack_file), "-o", str(work / "out")],
                            capture_output=True, text=True, env=env, cwd=work, timeout=300)
    assert result.returncode == 0, result.stderr
    return Synth(work / "out", result)


@pytest.fixture(scope="module")
def synthesized_baton(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The cdktf.json app with ``"iac:provider": "baton"`` (this project's provider) on the same stack, except
    for coupa-self's secret.kubernetes (which the baton provider cannot write)."""
    work = tmp_path_factory.mktemp("c1-synth-baton")
    stack_file = _write_stack(work, 'secret.env("COUPA_CLIENT_SECRET")')
    context = {"iac:stack": str(stack_file), "iac:provider": "baton"}
    env = {**jsii_env(work), **ENV, "CDKTF_CONTEXT_JSON": json.dumps(context), "CDKTF_OUTDIR": str(work / "out")}
    result = subprocess.run([sys.executable, "-m", "iac.backends.cdk"], capture_output=True, text=True, env=env,
                            cwd=work, timeout=300)
    assert result.returncode == 0, result.stderr
    return Synth(work / "out", result)


# -- cloud-hosted: ConductorOne resources only ------------------------------------------------------------------


def test_cloud_hosted_okta_and_coupa_are_integration_resources_with_the_providers_attribute_names(
        synthesized: Synth) -> None:
    assert synthesized.resource("conductorone_integration_okta_v2", "okta") == {
        "app_id": "${conductorone_app.okta.id}",
        "user_ids": OWNERS,
        "okta_v2_domain": "acme.okta.com",
        "okta_v2_api_token": "${var.OKTA_API_TOKEN}",
        "okta_sync_custom_roles": True,
        "okta_skip_secondary_emails": False,
    }
    assert synthesized.resource("conductorone_integration_coupa", "coupa") == {
        "app_id": "${conductorone_app.coupa.id}",
        "user_ids": OWNERS,
        "coupa_domain": "acme.coupahost.com",
        "oauth2_client_cred_grant_client_id": "coupa-client",
        "oauth2_client_cred_grant_client_secret": "${var.COUPA_CLIENT_SECRET}",
    }
    celigo = synthesized.resource("conductorone_integration_celigo", "celigo")
    assert (celigo["celigo_region"], celigo["celigo_access_token"]) == ("eu", "${var.CELIGO_TOKEN}")
    concur = synthesized.resource("conductorone_integration_concur", "concur")
    assert concur["concur_base_url"] == "https://us2.api.concursolutions.com"
    assert concur["concur_refresh_token"] == "${var.CONCUR_REFRESH_TOKEN}"
    assert re.fullmatch(r"\$\{var\.file_[A-Za-z0-9_]+concur_secret\}", concur["concur_client_secret"])


def test_every_attribute_is_one_the_provider_has_and_every_sensitive_one_is_a_reference(synthesized: Synth) -> None:
    conductorone = {t: v for t, v in synthesized.config["resource"].items() if t.startswith("conductorone_")}
    assert set(conductorone) == set(PROVIDER_ATTRIBUTES)
    for resource_type, instances in conductorone.items():
        for name, instance in instances.items():
            attributes = set(instance) - {"//"}
            assert attributes <= PROVIDER_ATTRIBUTES[resource_type], (resource_type, name)
            for attribute in attributes & SENSITIVE:
                assert re.fullmatch(r"\$\{var\.[A-Za-z0-9_]+\}", instance[attribute]), (resource_type, attribute)


def test_integration_resources_follow_the_specs(synthesized: Synth) -> None:
    """The backend names no attribute: each cloud connector's resource type and attributes are its spec's."""
    for name in ("okta", "coupa", "concur", "celigo"):
        cls = integration_classes()[name]
        resource = synthesized.resource(str(cls.integration.c1_resource), name)
        own = {s.c1 for s in cls.connector_settings() if s.c1}
        assert set(resource) - {"app_id", "user_ids"} == own, name


def test_cloud_hosted_connectors_have_no_kubernetes_resources(synthesized: Synth) -> None:
    kubernetes = {name for t, v in synthesized.config["resource"].items() if t.startswith("kubernetes_") for name in v}
    assert kubernetes == {f"baton-{name}" for name in ("okta-self", "coupa-self", "jira")}
    assert synthesized.names("conductorone_app") == ["celigo", "concur", "coupa", "coupa-self", "okta", "okta-self"]
    assert synthesized.resource("conductorone_app", "okta")["display_name"] == "Okta (prod)"
    assert synthesized.resource("conductorone_app", "coupa")["display_name"] == "Coupa v2"
    assert synthesized.resource("conductorone_app", "okta-self")["display_name"] == "Okta v2 (okta-self)"
    assert synthesized.resource("conductorone_app", "okta-self")["annotations"] == {
        "managed_by": "baton-iac", "iac_workspace": "c1"}


def test_the_conductorone_provider_is_required_and_configured_without_credentials(synthesized: Synth) -> None:
    assert synthesized.config["terraform"]["required_providers"]["conductorone"] == {
        "source": "conductorone/conductorone", "version": "~> 1.5"}
    assert synthesized.config["provider"]["conductorone"] == [{}]
    assert "CONDUCTORONE_CLIENT_ID" in synthesized.result.stderr
    assert "export TF_VAR_OKTA_API_TOKEN=..." in synthesized.result.stderr


# -- self-hosted: the credential feeds the Secret by reference ------------------------------------------------------


def test_self_hosted_connectors_get_a_baton_integration_and_a_credential(synthesized: Synth) -> None:
    assert synthesized.names("conductorone_integration_baton") == ["coupa-self", "okta-self"]
    assert synthesized.resource("conductorone_integration_baton", "okta-self") == {
        "app_id": "${conductorone_app.okta-self.id}", "user_ids": OWNERS}
    assert synthesized.resource("conductorone_connector_credential", "okta-self") == {
        "app_id": "${conductorone_app.okta-self.id}",
        "connector_id": "${conductorone_integration_baton.okta-self.id}"}


def test_the_secret_takes_client_id_and_secret_by_terraform_reference(synthesized: Synth) -> None:
    okta = synthesized.resource("kubernetes_secret_v1", "baton-okta-self")
    assert okta["data_wo"] == {
        "BATON_API_TOKEN": "${var.OKTA_SELF_TOKEN}",
        "BATON_CLIENT_ID": "${conductorone_connector_credential.okta-self.client_id}",
        "BATON_CLIENT_SECRET": "${conductorone_connector_credential.okta-self.client_secret}",
    }
    # The only values of this Secret are the generated credentials (the Coupa secret is cluster-held).
    coupa = synthesized.resource("kubernetes_secret_v1", "baton-coupa-self")
    assert coupa["data_wo"] == {
        "BATON_CLIENT_ID": "${conductorone_connector_credential.coupa-self.client_id}",
        "BATON_CLIENT_SECRET": "${conductorone_connector_credential.coupa-self.client_secret}",
    }
    hashes = synthesized.config["locals"]["secret_hashes"]
    okta_hash = re.search(r'"baton-okta-self" = (sha256\(jsonencode\(.*?\}\)\))', hashes)
    assert okta_hash is not None and "conductorone_connector_credential.okta-self.client_secret" in okta_hash.group(1), \
        "a rotated (replaced) credential changes the revision and rolls the pod"
    assert "C1_CLIENT_ID" not in synthesized.config.get("variable", {}), "no variable stands in for them"


def test_a_connector_with_its_own_credentials_stays_linked_by_hand(synthesized: Synth) -> None:
    assert "jira" not in synthesized.names("conductorone_app")
    assert "jira" not in synthesized.names("conductorone_connector_credential")
    assert synthesized.resource("kubernetes_secret_v1", "baton-jira")["data_wo"] == {
        "BATON_CLIENT_SECRET": "${var.JIRA_C1_SECRET}"}
    env = synthesized.resource("kubernetes_deployment_v1", "baton-jira")["spec"]["template"]["spec"]["container"][0]
    assert {"name": "BATON_CLIENT_ID", "value": "jira-c1-id"} in env["env"]


def test_no_secret_value_anywhere_in_the_output(synthesized: Synth, synthesized_baton: Synth) -> None:
    needles = [s for value in SENTINELS for s in (value, base64.b64encode(value.encode()).decode())]
    for synth in (synthesized, synthesized_baton):
        files = [p for p in synth.outdir.rglob("*") if p.is_file()]
        assert len(files) >= 2
        for path in files:
            text = path.read_text(errors="replace")
            assert not [n for n in needles if n in text], path
        assert not [n for n in needles if n in synth.result.stdout + synth.result.stderr]


def test_cloud_secrets_are_sensitive_variables(synthesized: Synth, synthesized_baton: Synth) -> None:
    for synth in (synthesized, synthesized_baton):
        variables = synth.config["variable"]
        for name in ("OKTA_API_TOKEN", "COUPA_CLIENT_SECRET", "CONCUR_REFRESH_TOKEN", "CELIGO_TOKEN"):
            assert variables[name]["sensitive"] is True and "default" not in variables[name], name
            # The ConductorOne provider's attributes are not write-only: an ephemeral variable could not feed them.
            assert "ephemeral" not in variables[name], name


# -- the same through the baton provider (cdktf.json app with "iac:provider": "baton") --------------------------


def test_baton_provider_path_wires_the_credentials_into_its_write_only_arguments(synthesized_baton: Synth) -> None:
    okta = synthesized_baton.resource("baton_okta_connector", "okta-self")
    assert okta["conductorone_client_id"] == "${conductorone_connector_credential.okta-self.client_id}"
    assert okta["conductorone_client_secret"] == "${conductorone_connector_credential.okta-self.client_secret}"
    assert synthesized_baton.names("baton_okta_connector") == ["okta-self"], "cloud-hosted okta is not deployed"
    assert synthesized_baton.resource("conductorone_integration_okta_v2", "okta")["okta_v2_api_token"] == \
        "${var.OKTA_API_TOKEN}"
    assert synthesized_baton.config["variable"]["OKTA_SELF_TOKEN"]["ephemeral"] is True
    assert set(synthesized_baton.config["terraform"]["required_providers"]) == {"baton", "conductorone"}


# -- render, validate, gitops, Pulumi: cloud-hosted connectors have no objects ----------------------------------


def _mixed_stack() -> Stack:
    return Stack("mixed", namespace="ids").add(
        Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN"), hosting="cloud"),
        Coupa("coupa", domain="acme.coupahost.com", client_id="c", client_secret=secret.kubernetes("coupa", "s")),
    )


def test_render_skips_cloud_hosted_connectors() -> None:
    objects = render_stack(_mixed_stack(), environ={})  # okta's token is never read
    assert {o["metadata"]["labels"]["app.kubernetes.io/instance"] for o in objects} == {"coupa"}
    assert [o["kind"] for o in objects] == ["ServiceAccount", "NetworkPolicy", "Deployment"]


def test_gitops_and_pulumi_skip_cloud_hosted_connectors() -> None:
    tree = build_gitops_tree(_mixed_stack(), environ={})  # okta's secret.env is no plaintext in the tree
    assert not [path for path in tree.files if "okta" in path]
    run = run_pulumi(lambda: deploy(_mixed_stack(), environ={}))
    assert sorted(run.result) == ["coupa"]
    assert not [name for _, name, _ in run.recorder.registered if "okta" in name]


def test_cli_render_and_validate_say_which_connectors_are_cloud_hosted(tmp_path: Path, run_iac: RunIac) -> None:
    stack_file = tmp_path / "mixed.py"
    stack_file.write_text(
        "from iac import *\n"
        "stack = Stack('mixed', namespace='ids').add(\n"
        "    Okta('okta', domain='acme.okta.com', api_token=secret.env('OKTA_API_TOKEN'), hosting='cloud'),\n"
        "    Coupa('coupa', domain='acme.coupahost.com', client_id='c', client_secret=secret.kubernetes('c', 's')))\n")

    validated = run_iac("validate", str(stack_file))
    rendered = run_iac("render", str(stack_file), "-o", str(tmp_path / "out"))
    synth = run_iac("synth", str(stack_file), "-o", str(tmp_path / "synth"))

    assert validated.returncode == 0, validated.stderr
    assert "stack 'mixed': 2 connectors, 3 objects" in validated.stderr
    assert "cloud-hosted in ConductorOne, so no Kubernetes objects: okta" in validated.stderr
    assert rendered.returncode == 0 and "for 1 connectors" in rendered.stderr and ": okta" in rendered.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if p.is_dir()) == ["coupa"]
    assert synth.returncode == 2 and not (tmp_path / "synth").exists()
    assert synth.stderr.strip().splitlines() == [
        "error: stack 'mixed', connector 'okta', field 'hosting': is cloud-hosted: ConductorOne runs it, and "
        "`iac synth` declares it only when the stack manages ConductorOne: "
        "Stack(conductorone=ConductorOne.managed(owners=[...]))"]


def test_managed_credentials_validate_but_only_terraform_can_deploy_them(stack_file: Path, run_iac: RunIac,
                                                                         tmp_path: Path) -> None:
    validated = run_iac("validate", str(stack_file), env=ENV)
    rendered = run_iac("render", str(stack_file), "-o", str(tmp_path / "out"), env=ENV)

    assert validated.returncode == 0, validated.stderr
    assert "okta, coupa, concur, celigo" in validated.stderr
    assert rendered.returncode == 2 and not (tmp_path / "out").exists()
    [line] = rendered.stderr.strip().splitlines()
    assert "connector 'okta-self', field 'conductorone.client_id': is created by Terraform" in line
    assert "`iac synth`" in line
    assert not [s for s in SENTINELS if s in validated.stderr + rendered.stderr]


def test_pulumi_refuses_managed_credentials_in_one_error() -> None:
    stack = Stack("m", conductorone=ConductorOne.managed()).add(
        Okta("okta", domain="acme.okta.com", api_token=secret.env("T")))
    with pytest.raises(SecretResolutionError, match=r"field 'conductorone.client_id': is created by Terraform"):
        run_pulumi(lambda: deploy(stack, environ={"T": "x"}))


# -- the spec: hosting, the C1 plan and the catalog ---------------------------------------------------------------


def test_conductorone_apps_read_the_spec_including_a_new_setting() -> None:
    class Extended(Okta):
        integration: ClassVar[Integration] = Okta.integration
        sync_secrets: Annotated[bool, Setting(env="BATON_SYNC_SECRETS", help="sync API tokens",
                                              c1="okta_sync_secrets")] = False

    stack = Stack("s", conductorone=ConductorOne.managed(owners=["u1"])).add(
        Extended("okta", domain="acme.okta.com", api_token=secret.env("T"), hosting="cloud", sync_secrets=True))
    [app] = conductorone_apps(stack)
    assert (app.resource, app.catalog_id, app.credential) == (
        "conductorone_integration_okta_v2", "2kG3aTftCcAvWtHZt2Ywry0dPn7", False)
    assert {a.name: a.value for a in app.attributes}["okta_sync_secrets"] is True
    assert app.owners == ("u1",) and app.display_name == "Okta v2"


def test_specs_map_only_to_provider_attributes_and_mark_sensitive_ones_secret() -> None:
    cloud = {name: cls for name, cls in integration_classes().items() if "cloud" in cls.integration.hosting}
    assert sorted(cloud) == ["celigo", "concur", "coupa", "okta"]
    for name, cls in cloud.items():
        resource = str(cls.integration.c1_resource)
        own = [s for s in cls.connector_settings() if s.name not in Connector.model_fields]
        assert all(s.c1 for s in own if s.required), f"{name}: a required setting without attribute: never cloud"
        for spec in own:
            if spec.c1 is not None:
                assert spec.c1 in PROVIDER_ATTRIBUTES[resource], (name, spec.c1)
                assert (spec.c1 in SENSITIVE) == spec.secret, (name, spec.c1)
        assert not [s for s in Connector.connector_settings() if s.c1], "common settings are Kubernetes-side"


def test_without_the_opt_in_there_is_no_conductorone_side() -> None:
    stack = Stack("s", conductorone=ConductorOne(client_id="id", client_secret=secret.env("S"))).add(
        Okta("okta", domain="acme.okta.com", api_token=secret.env("T")))
    assert conductorone_apps(stack) == []
    with pytest.raises(SpecError, match=r"field 'conductorone.display_names': names no connector of the stack: "
                                         r"'okat' \(connectors: okta\)"):
        conductorone_apps(stack.model_copy(update={"conductorone": ConductorOne.managed(
            display_names={"okat": "Okta"})}))


def test_cloud_hosting_is_offered_by_the_catalog_integrations_only(run_iac: RunIac) -> None:
    catalog = run_iac("catalog", "--output", "json")
    explained = run_iac("explain", "coupa", "--output", "json")
    text = run_iac("explain", "okta")

    rows = {row["name"]: row for row in json.loads(catalog.stdout)}
    assert {name: row["hosting"] for name, row in rows.items()} == {
        "okta": ["self", "cloud"], "coupa": ["self", "cloud"], "concur": ["self", "cloud"],
        "celigo": ["self", "cloud"], "custom": ["self"]}
    assert rows["okta"]["c1_resource"] == "conductorone_integration_okta_v2"
    assert rows["custom"]["c1_resource"] is None
    assert "| Integration | Hosting |" in catalog_markdown() and "| self, cloud |" in catalog_markdown()
    info = json.loads(explained.stdout)
    domain = next(s for s in info["settings"] if s["name"] == "domain")
    assert (domain["c1_attribute"], domain["c1_key"]) == ("coupa_domain", "coupa-domain")
    assert info["c1_catalog_id"] == "2rSHEoPoq5CS89JAUevDbYBS3uA" and info["self_hosted_only"] == []
    assert "self-hosted only (no ConductorOne attribute): sync_inactive_apps, skip_app_groups, " \
        "filter_email_domains" in text.stdout
    assert "ConductorOne.managed(" in text.stdout and "ConductorOne attribute: okta_v2_domain" in text.stdout


def test_environments_can_move_a_connector_to_the_cloud() -> None:
    stack = Stack("s", environments={"prod": {"connectors": {"okta": {"hosting": "cloud"}}}}).add(
        Okta("okta", domain="acme.okta.com", api_token=secret.env("T")))
    assert [c.hosting for c in stack.environment("prod").connectors] == ["cloud"]
    refused = Stack("s", environments={"prod": {"connectors": {"okta": {"hosting": "cloud"}}}}).add(
        Okta("okta", domain="acme.okta.com", api_token=secret.env("T"), skip_app_groups=True))
    with pytest.raises(SpecError, match=r"field 'skip_app_groups': cannot be set on a cloud-hosted connector.*"
                                         r"\(in environment 'prod'\)"):
        refused.environment("prod")


def test_custom_cannot_be_cloud_hosted() -> None:
    with pytest.raises(SpecError, match="custom connectors cannot be cloud-hosted"):
        Custom("jira", image="x/y:1", hosting="cloud")


def test_the_docs_page_examples_are_valid_stacks() -> None:
    from conftest import REPO_ROOT

    page = (REPO_ROOT / "docs" / "conductorone.md").read_text()
    opt_in, cloud, self_hosted = re.findall(r"```python\n(.*?)```", page, re.S)
    for addition, resource in ((cloud, "conductorone_integration_okta_v2"), (self_hosted, "conductorone_integration_baton")):
        namespace: dict[str, Any] = {}
        exec(compile(opt_in + addition, "docs/conductorone.md", "exec"), namespace)
        [app] = conductorone_apps(namespace["stack"])
        assert (app.resource, app.display_name, app.owners) == (resource, "Okta", ("2a3bExampleUserId0000000000",))
        for attribute in app.attributes:
            assert f'"{attribute.name}"' in page, attribute.name
