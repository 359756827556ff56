"""The provider without Terraform: schemas derived from the specs, the protocol fields tf 1.2 lacks, plan-time
validation, write-only handling, live-state mapping, installation and the CLI. Terraform's part is played by
calling the gRPC servicer with the messages Terraform sends."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path
from typing import Annotated, Any, ClassVar

import pytest
from conftest import RunIac
from tf.gen import tfplugin_pb2 as pb
from tf.types import Unknown
from tf.utils import read_dynamic_value, to_dynamic_value

from iac import Okta, Stack
from iac.backends.terraform import (
    COMPUTED_ATTRIBUTES,
    PROVIDER_SOURCE,
    InstallError,
    all_schemas,
    cli_config_text,
    connector_schema,
    default_registry_host,
    install,
    launcher,
    write_mirror,
)
from iac.backends.terraform._live import from_live
from iac.backends.terraform._protocol import request_with_capabilities, write_only_allowed
from iac.backends.terraform._provider import BatonProvider
from iac.backends.terraform._server import BatonServicer
from iac.plugins import plugins
from iac.render import render_stack
from iac.spec import Integration, Setting
from iac.spec._connector import SecretField
from iac.spec.secret import LiteralSecret

WRITE_ONLY_TAG = b"\x58\x01"  # tfplugin6.9 Schema.Attribute: bool write_only = 11 (varint field 11, value 1)


def _servicer() -> BatonServicer:
    provider = BatonProvider(api_factory=_no_cluster)
    servicer = BatonServicer(provider)
    config = {"kubeconfig": None, "context": None, "namespace": "ids", "create_namespace": None, "image": None,
              "images": None}
    servicer.ConfigureProvider(pb.ConfigureProvider.Request(terraform_version="1.15.5",
                                                            config=to_dynamic_value(config)), None)
    return servicer


def _no_cluster(settings: Any) -> Any:
    raise AssertionError("this test must not reach the cluster")


def _config(type_name: str, **values: Any) -> dict[str, Any]:
    schema = all_schemas()[type_name]
    config: dict[str, Any] = {a.name: None for a in schema.inputs}
    config.update(dict.fromkeys(COMPUTED_ATTRIBUTES))
    config.update(values)
    return config


OKTA = dict(name="okta", domain="acme.okta.com", api_token="sentinel-unit-token-0201")


# -- schema derivation -----------------------------------------------------------------------------------------


def test_one_resource_type_per_integration_with_the_python_api_names() -> None:
    schemas = all_schemas()

    assert list(schemas) == [f"baton_{name}_connector" for name in plugins()]
    for schema in schemas.values():
        cls = schema.integration
        flat = {a.field for a in schema.inputs if a.field is not None}
        # every model field but hosting (a cloud-hosted connector is a ConductorOne resource), nothing else
        assert flat == set(cls.model_fields) - {"hosting"}, schema.type_name
        assert "hosting" not in {a.name for a in schema.inputs}
        settings = {s.name for s in cls.connector_settings()}
        assert settings <= {a.name for a in schema.inputs}
        assert {"name", "namespace", "provisioning", "image"} <= {a.name for a in schema.inputs}


def test_write_only_and_sensitive_exactly_where_the_spec_says_secret() -> None:
    for schema in all_schemas().values():
        cls = schema.integration
        secret_settings = {s.name for s in cls.connector_settings() if s.secret}
        expected = secret_settings | {"conductorone_client_secret"} | (
            {"secret_env"} if schema.name == "custom" else set())
        assert {a.name for a in schema.secret_inputs} == expected, schema.type_name
        required = {s.name for s in cls.connector_settings() if s.required}
        assert required <= {a.name for a in schema.inputs if a.required}


def test_a_new_setting_appears_in_the_schema_without_touching_the_provider() -> None:
    class Extended(Okta):
        integration: ClassVar[Integration] = Okta.integration
        vault_token: Annotated[SecretField, Setting(env="BATON_VAULT_TOKEN", help="a new credential")]
        region_hint: Annotated[str, Setting(env="BATON_REGION_HINT", help="a new plain setting")] = "us"

    schema = connector_schema(Extended)

    assert schema.input("vault_token").secret and schema.input("vault_token").required
    hint = schema.input("region_hint")
    assert (hint.kind, hint.secret, hint.default, hint.env) == ("string", False, "us", "BATON_REGION_HINT")


def test_schema_response_marks_write_only_on_the_wire_and_announces_capabilities() -> None:
    response = _servicer().GetProviderSchema(pb.GetProviderSchema.Request(), None)
    wire = pb.GetProviderSchema.Response.FromString(response.SerializeToString())  # what Terraform receives

    okta = {a.name: a for a in wire.resource_schemas["baton_okta_connector"].block.attributes}
    assert okta["api_token"].SerializeToString().endswith(WRITE_ONLY_TAG)
    assert okta["api_token"].sensitive
    assert not okta["domain"].SerializeToString().endswith(WRITE_ONLY_TAG)
    assert okta["generation"].computed and not okta["generation"].optional
    assert okta["sync_inactive_apps"].optional and okta["sync_inactive_apps"].computed  # spec default planned
    assert wire.server_capabilities.plan_destroy
    assert set(wire.data_source_schemas) == {"baton_catalog"}


def test_client_capabilities_are_read_from_the_fields_tf_does_not_know() -> None:
    plain = pb.ValidateResourceConfig.Request(type_name="baton_okta_connector")
    announced = request_with_capabilities("ValidateResourceConfig", plain, write_only=True)

    assert not write_only_allowed("ValidateResourceConfig", plain)
    assert write_only_allowed("ValidateResourceConfig", announced)
    # field 3 on the wire: tag 0x1a, then a ClientCapabilities with field 2 set
    assert announced.SerializeToString().endswith(b"\x1a\x02\x10\x01")


# -- validation and planning ----------------------------------------------------------------------------------


def _validate(servicer: BatonServicer, config: dict[str, Any], *, write_only: bool = True) -> Any:
    request = pb.ValidateResourceConfig.Request(type_name="baton_okta_connector", config=to_dynamic_value(config))
    if write_only:
        request = request_with_capabilities("ValidateResourceConfig", request, write_only=True)
    return servicer.ValidateResourceConfig(request, None).diagnostics


@pytest.mark.parametrize(("values", "attribute", "message"), [
    ({"domain": "acme-admin.okta.com"}, "domain", "is the admin console domain; use the org domain 'acme.okta.com'"),
    ({"name": "Okta"}, "name", "must be a lowercase RFC 1123 label"),
    ({"conductorone_client_id": "c1"}, "conductorone_client_secret", "is required"),
    ({"resources_limits": {"gpu": "1"}}, "resources_limits", "unknown resource 'gpu'"),
    ({"log_level": "loud"}, "log_level", "must be one of 'debug', 'info', 'warn' or 'error'"),
    ({"namespace": "Not_A_Label"}, "namespace", "must be a lowercase RFC 1123 label"),
    ({"image": "ghcr.io/conductorone/baton-okta:v1"}, "image", "would restart it forever; set schedule="),
    ({"schedule": "0 25 * * *"}, "schedule", "is not a cron expression"),
    ({"storage_size": "big"}, "storage_size", "storage quantity"),
])
def test_spec_errors_become_diagnostics_on_the_attribute(values: dict[str, Any], attribute: str,
                                                         message: str) -> None:
    diagnostics = _validate(_servicer(), _config("baton_okta_connector", **{**OKTA, **values}))

    assert len(diagnostics) == 1
    assert diagnostics[0].severity == pb.Diagnostic.ERROR
    assert message in diagnostics[0].summary
    assert [s.attribute_name for s in diagnostics[0].attribute.steps] == [attribute]
    assert OKTA["api_token"] not in str(diagnostics)


@pytest.mark.parametrize("unknown", [{"domain": Unknown}, {"filter_email_domains": ["acme.com", Unknown]},
                                     {"resources_limits": {"cpu": Unknown}}])
def test_unknown_values_are_not_validated_until_known(unknown: dict[str, Any]) -> None:
    config = _config("baton_okta_connector", **{**OKTA, "domain": "acme-admin.okta.com", **unknown})

    assert list(_validate(_servicer(), config)) == []


def test_a_terraform_without_write_only_support_is_refused_before_anything_is_planned() -> None:
    servicer = _servicer()
    config = _config("baton_okta_connector", **OKTA)

    diagnostics = _validate(servicer, config, write_only=False)
    plan = servicer.PlanResourceChange(pb.PlanResourceChange.Request(
        type_name="baton_okta_connector", prior_state=to_dynamic_value(None),
        proposed_new_state=to_dynamic_value(config), config=to_dynamic_value(config)), None)

    assert [d.summary for d in diagnostics] == ["api_token is write-only and needs Terraform >= 1.11"]
    assert [s.attribute_name for s in diagnostics[0].attribute.steps] == ["api_token"]
    assert "would store the value" in diagnostics[0].detail
    assert not plan.planned_state.msgpack and [d.summary for d in plan.diagnostics] == [diagnostics[0].summary]


def test_create_plan_keeps_write_only_values_out_and_plans_computed_values() -> None:
    config = _config("baton_okta_connector", **OKTA)
    request = request_with_capabilities("PlanResourceChange", pb.PlanResourceChange.Request(
        type_name="baton_okta_connector", prior_state=to_dynamic_value(None),
        proposed_new_state=to_dynamic_value(config), config=to_dynamic_value(config)), write_only=True)

    response = _servicer().PlanResourceChange(request, None)
    planned = read_dynamic_value(response.planned_state)

    assert list(response.diagnostics) == []
    assert planned["api_token"] is None and OKTA["api_token"].encode() not in response.SerializeToString()
    assert planned["namespace"] == "ids" and planned["id"] == "ids/okta"
    assert planned["objects"] == ["Secret/baton-okta", "ServiceAccount/baton-okta", "NetworkPolicy/baton-okta",
                                  "Deployment/baton-okta"]
    assert planned["secret_keys"] == ["BATON_API_TOKEN"]
    assert planned["generation"] is Unknown and planned["secret_version"] is Unknown
    assert planned["sync_inactive_apps"] is True and planned["egress_ports"] == [443]  # the spec's defaults


def test_a_plan_with_unknown_values_leaves_what_derives_from_them_unknown() -> None:
    config = _config("baton_okta_connector", **{**OKTA, "domain": Unknown})
    request = request_with_capabilities("PlanResourceChange", pb.PlanResourceChange.Request(
        type_name="baton_okta_connector", prior_state=to_dynamic_value(None),
        proposed_new_state=to_dynamic_value(config), config=to_dynamic_value(config)), write_only=True)

    planned = read_dynamic_value(_servicer().PlanResourceChange(request, None).planned_state)

    assert planned["domain"] is Unknown and planned["objects"] is Unknown and planned["secret_keys"] is Unknown


def test_destroy_is_planned_as_null() -> None:
    state = _config("baton_okta_connector", **{**OKTA, "api_token": None, "namespace": "ids"})
    request = request_with_capabilities("PlanResourceChange", pb.PlanResourceChange.Request(
        type_name="baton_okta_connector", prior_state=to_dynamic_value(state),
        proposed_new_state=to_dynamic_value(None), config=to_dynamic_value(None)), write_only=True)

    response = _servicer().PlanResourceChange(request, None)

    assert list(response.diagnostics) == [] and read_dynamic_value(response.planned_state) is None


def test_catalog_data_source_lists_every_integration() -> None:
    response = _servicer().ReadDataSource(pb.ReadDataSource.Request(
        type_name="baton_catalog", config=to_dynamic_value({"integrations": None})), None)
    entries = read_dynamic_value(response.state)["integrations"]

    assert [e["resource_type"] for e in entries] == list(all_schemas())
    okta = entries[0]
    assert okta["secret_settings"] == ["api_token", "conductorone_client_secret"]
    assert "domain" in okta["settings"] and "api_token" not in okta["settings"]


# -- live state -------------------------------------------------------------------------------------------------


def _deployment(**changes: str) -> dict[str, Any]:
    okta = Okta("okta", domain="acme.okta.com", api_token=LiteralSecret(value="x"))  # type: ignore[arg-type]
    objects = render_stack(Stack("terraform", namespace="ids").add(okta), environ={})
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        if item["name"] in changes:
            item["value"] = changes[item["name"]]
    return deployment


def test_read_keeps_prior_values_the_cluster_still_holds_and_reports_the_rest() -> None:
    schema = all_schemas()["baton_okta_connector"]
    prior = {"domain": "acme.okta.com", "sync_inactive_apps": None, "rate_limit_share": 0.5, "image": None}

    same = from_live(schema, live=_deployment(), rendered=_deployment(), prior=prior)
    edited = from_live(schema, live=_deployment(BATON_DOMAIN="evil.okta.com", BATON_SYNC_INACTIVE_APPS="false",
                                                BATON_RATE_LIMIT_SHARE="0.25"),
                       rendered=_deployment(), prior=prior)

    assert (same["domain"], same["sync_inactive_apps"], same["image"]) == ("acme.okta.com", None, None)
    assert (edited["domain"], edited["sync_inactive_apps"], edited["rate_limit_share"]) == \
        ("evil.okta.com", False, 0.25)


def test_import_reads_every_value_and_leaves_derived_ones_unset() -> None:
    values = from_live(all_schemas()["baton_okta_connector"], live=_deployment(), rendered=None, prior=None)

    assert values["domain"] == "acme.okta.com" and values["sync_inactive_apps"] is True
    assert values["host_id"] is None and values["image"] is None and values["resources_limits"] is None
    assert values["filter_email_domains"] == []


# -- installation -------------------------------------------------------------------------------------------------


def test_cli_config_for_dev_overrides_and_for_a_mirror(tmp_path: Path) -> None:
    dev = cli_config_text(plugin_dir=tmp_path / "plugins")
    mirror = cli_config_text(mirror=tmp_path / "mirror", offline=True)

    assert f'"{PROVIDER_SOURCE}" = "{tmp_path / "plugins"}"' in dev and "direct {" in dev
    assert f'exclude = ["{PROVIDER_SOURCE}"]' in dev
    assert "filesystem_mirror" in mirror and f'include = ["{PROVIDER_SOURCE}"]' in mirror
    assert "direct" not in mirror  # offline: no registry is ever asked


def test_mirror_packages_are_reproducible_executables(tmp_path: Path) -> None:
    first = write_mirror(tmp_path / "a", hostname="example.invalid", python="python3")
    second = write_mirror(tmp_path / "b", hostname="example.invalid", python="python3")

    assert [p.name for p in first] == [f"terraform-provider-baton_0.1.0_{p}.zip" for p in
                                       ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")]
    assert first[0].parent == tmp_path / "a" / "example.invalid" / "iac" / "baton"
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    with zipfile.ZipFile(io.BytesIO(first[0].read_bytes())) as archive:
        (info,) = archive.infolist()
        assert info.filename == "terraform-provider-baton_v0.1.0"
        assert stat.S_IMODE(info.external_attr >> 16) == 0o755
        assert archive.read(info).decode() == launcher("python3")


def test_registry_host_is_learned_from_the_terraform_that_reads_the_mirror(tmp_path: Path) -> None:
    fake = tmp_path / "terraform"
    fake.write_text("#!/bin/sh\n[ \"$1\" = providers ] && grep -q 'iac/baton' main.tf && "
                    "echo '└── provider[mirror.example.invalid/iac/baton]'\n")
    fake.chmod(0o755)
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\necho 'no providers'\n")
    silent.chmod(0o755)

    assert default_registry_host([str(fake)]) == "mirror.example.invalid"
    with pytest.raises(InstallError, match="did not name iac/baton"):
        default_registry_host([str(silent)])


def test_install_refuses_to_replace_a_cli_config_it_did_not_write(tmp_path: Path) -> None:
    config = tmp_path / "terraform.rc"
    config.write_text('plugin_cache_dir = "/cache"\n')

    with pytest.raises(InstallError, match="was not written by `iac terraform install`"):
        install(cli_config=config)
    assert config.read_text() == 'plugin_cache_dir = "/cache"\n'
    result = install(cli_config=config, force=True)
    again = install(cli_config=config)  # its own file is replaced without --force

    assert result.plugin_dir == tmp_path / "baton-provider" and again.plugin_dir == result.plugin_dir
    plugin = result.plugin_dir / "terraform-provider-baton"
    assert plugin.stat().st_mode & 0o111 and "-m iac.backends.terraform" in plugin.read_text()
    with pytest.raises(InstallError, match="say where"):
        install()


def test_cli_install_and_resources(run_iac: RunIac, tmp_path: Path) -> None:
    installed = run_iac("terraform", "install", "--cli-config", str(tmp_path / "tf.rc"), "--offline")
    listed = run_iac("terraform", "resources", "--output", "json")

    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.strip() == f"export TF_CLI_CONFIG_FILE={tmp_path / 'tf.rc'}"
    assert "dev_overrides" in (tmp_path / "tf.rc").read_text()
    types = json.loads(listed.stdout)
    assert list(types) == list(all_schemas())
    okta = {a["name"]: a for a in types["baton_okta_connector"]["arguments"]}
    assert okta["api_token"]["write_only"] and not okta["domain"]["write_only"]


def test_the_plugin_explains_itself_when_run_by_hand() -> None:
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "iac.backends.terraform"], capture_output=True, text=True,
                            timeout=60, env={"PATH": "/usr/bin:/bin"})

    assert result.returncode == 1 and "Terraform starts it" in result.stderr


def test_an_unknown_provider_configuration_never_falls_back_to_the_default_cluster(tmp_path: Path) -> None:
    from tf.utils import Diagnostics

    from iac.errors import IacError

    provider = BatonProvider(api_factory=_no_cluster)
    provider.configure_provider(Diagnostics(), {"kubeconfig": Unknown, "namespace": "ids"})
    servicer = BatonServicer(provider)
    state = _config("baton_okta_connector", **{**OKTA, "api_token": None, "namespace": "ids"})

    with pytest.raises(IacError, match="the provider's kubeconfig is not known yet"):
        provider.api()
    read = servicer.ReadResource(pb.ReadResource.Request(type_name="baton_okta_connector",
                                                         current_state=to_dynamic_value(state)), None)
    assert [d.summary for d in read.diagnostics] == [
        "the provider's kubeconfig is not known yet (it depends on a resource still to be created); apply that "
        "resource first (-target)"]
    provider.configure_provider(Diagnostics(), {"kubeconfig": "~/cluster.yaml"})
    assert provider.settings.kubeconfig == str(Path.home() / "cluster.yaml")
