"""Rendering: golden manifests, strict schemas, determinism and the hardening every pod gets."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLE_ENV, REPO_ROOT, RunIac

from iac import Celigo, Concur, ConductorOne, Coupa, Custom, MetricsFrom, Okta, Resources, Stack, load_stack, secret
from iac.errors import RenderError, SpecError
from iac.render import (
    manifests_to_yaml,
    render_manifests,
    render_stack,
    schema_versions,
    to_yaml,
    validate_objects,
    write_tree,
)

GOLDEN = Path(__file__).parent / "golden" / "example.yaml"
EXAMPLE = REPO_ROOT / "stacks" / "example.py"


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]  # type: ignore[no-any-return]


def test_example_matches_golden(example_env: dict[str, str]) -> None:
    text = manifests_to_yaml(render_manifests(load_stack(EXAMPLE)))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "rendering changed; rerun with UPDATE_GOLDEN=1 and review the diff"


def test_every_object_passes_strict_schemas_of_oldest_and_newest_version(example_env: dict[str, str]) -> None:
    objects = render_stack(load_stack(EXAMPLE))
    assert schema_versions()[0] == "1.25"
    assert float(schema_versions()[1].split(".")[1]) >= 37
    assert validate_objects(objects) == 2 * len(objects)


def test_schema_validation_catches_an_unknown_field() -> None:
    bad = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}, "automount": False}
    with pytest.raises(RenderError, match=r"ServiceAccount x fails the Kubernetes 1\.25 schema"):
        validate_objects([bad])


def test_render_is_byte_identical_across_processes(tmp_path: Path, run_iac: RunIac) -> None:
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**EXAMPLE_ENV, "PYTHONHASHSEED": seed}
        result = run_iac("render", str(EXAMPLE), env=env)
        assert result.returncode == 0, result.stderr
        outputs.add(result.stdout)
    assert len(outputs) == 1


def test_object_order_and_seed_shape(example_env: dict[str, str]) -> None:
    objects = render_stack(load_stack(EXAMPLE))
    assert objects[0]["kind"] == "Namespace"
    okta = [o for o in objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == "okta"]
    assert [o["kind"] for o in okta] == ["Secret", "ServiceAccount", "NetworkPolicy", "Deployment"]
    deployment = okta[-1]
    assert deployment["metadata"]["name"] == "baton-okta"
    assert deployment["metadata"]["labels"]["app"] == "baton-okta"
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["baton"] == "true" and pod_labels["baton-app"] == "okta"
    env = {e["name"]: e.get("value") for e in container(deployment)["env"]}
    assert env["BATON_HOST_ID"] == "baton-okta"
    assert env["BATON_DOMAIN"] == "acme.okta.com"
    assert env["BATON_PROVISIONING"] == "true"
    assert env["BATON_SYNC_INACTIVE_APPS"] == "true"
    assert container(deployment)["envFrom"] == [{"secretRef": {"name": "baton-okta"}}]


def test_pods_meet_pod_security_restricted(example_env: dict[str, str]) -> None:
    for deployment in by_kind(render_stack(load_stack(EXAMPLE)), "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        assert deployment["spec"]["replicas"] == 1
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 65532
        assert spec["securityContext"]["runAsGroup"] == 65532
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        c = container(deployment)
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp", "/data"}
        assert c["resources"]["requests"] and c["resources"]["limits"]
        for probe, path in (("startupProbe", "/live"), ("livenessProbe", "/live"), ("readinessProbe", "/ready")):
            assert c[probe]["httpGet"] == {"path": path, "port": "health"}
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["BATON_HEALTH_CHECK_BIND_ADDRESS"] == "0.0.0.0"
        assert env["BATON_HEALTH_CHECK_PORT"] == "8081"
        assert spec["serviceAccountName"] == deployment["metadata"]["name"]
    for sa in by_kind(render_stack(load_stack(EXAMPLE)), "ServiceAccount"):
        assert sa["automountServiceAccountToken"] is False


def test_network_policy_admits_only_what_metrics_from_names(example_env: dict[str, str]) -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(render_stack(load_stack(EXAMPLE)), "NetworkPolicy")}
    assert policies["baton-okta"]["ingress"] == [{  # the example names Prometheus in namespace monitoring
        "from": [{"namespaceSelector": {"matchExpressions": [
                     {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring"]}]},
                  "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}],
        "ports": [{"port": 8081, "protocol": "TCP"}]}]
    for name, spec in policies.items():
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        if name != "baton-okta":  # by default no rule admits anyone (kubelet probes come from the node)
            assert "ingress" not in spec
        https = spec["egress"][1]
        assert https["ports"] == [{"port": 443, "protocol": "TCP"}]
        assert https["to"][0]["ipBlock"]["except"] == ["169.254.169.254/32"]


def test_metrics_from_pods_only_means_the_connectors_own_namespace() -> None:
    stack = Stack("t", namespace="ns").add(Okta("okta", domain="acme.okta.com", api_token=secret.env("T"),
                                                metrics_from=MetricsFrom(pods={"app": "vmagent"})))
    [policy] = by_kind(render_stack(stack, environ={"T": "t0k3n"}), "NetworkPolicy")
    assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"app": "vmagent"}}}]
    with pytest.raises(SpecError, match="name at least one namespace or pod label; leave metrics_from unset"):
        MetricsFrom()
    with pytest.raises(SpecError, match="not a Kubernetes label value"):
        MetricsFrom(pods={"app": "not ok!"})


def test_namespace_is_created_only_when_asked_and_enforces_restricted() -> None:
    stack = Stack("t", namespace="ns")
    assert render_stack(stack, environ={}) == []
    stack = Stack("t", namespace="ns", create_namespace=True)
    [namespace] = render_stack(stack, environ={})
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_checksum_rolls_the_pod_when_a_credential_changes_and_holds_no_value() -> None:
    stack = Stack("t").add(Okta("okta", domain="acme.okta.com", api_token=secret.env("TOK")))

    def checksum(token: str) -> str:
        [deployment] = by_kind(render_stack(stack, environ={"TOK": token}), "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]  # type: ignore[no-any-return]

    first, again, rotated = checksum("token-one"), checksum("token-one"), checksum("token-two")
    assert first == again != rotated
    assert first.startswith("sha256:") and "token-one" not in first


def test_kubernetes_reference_renders_no_secret_and_a_key_ref() -> None:
    stack = Stack("t").add(Celigo("celigo", access_token=secret.kubernetes("celigo-creds", "token"), region="eu"))
    objects = render_stack(stack, environ={})
    assert by_kind(objects, "Secret") == []
    c = container(by_kind(objects, "Deployment")[0])
    assert "envFrom" not in c
    ref = next(e for e in c["env"] if e["name"] == "BATON_CELIGO_ACCESS_TOKEN")
    assert ref["valueFrom"] == {"secretKeyRef": {"name": "celigo-creds", "key": "token"}}
    assert {"name": "BATON_REGION", "value": "eu"} in c["env"]


def test_external_reference_renders_an_external_secret() -> None:
    stack = Stack("t", namespace="ids").add(
        Concur("concur", base_url="https://us2.api.concursolutions.com/", client_id="cid",
               client_secret=secret.external("vault", "concur/app", property="secret"),
               refresh_token=secret.external("vault", "concur/app", property="refresh")))
    objects = render_stack(stack, environ={})
    [external] = by_kind(objects, "ExternalSecret")
    assert external["apiVersion"] == "external-secrets.io/v1"
    assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert external["spec"]["target"]["name"] == "baton-concur-ext"
    assert external["spec"]["data"] == [
        {"secretKey": "BATON_CONCUR_CLIENT_SECRET", "remoteRef": {"key": "concur/app", "property": "secret"}},
        {"secretKey": "BATON_CONCUR_REFRESH_TOKEN", "remoteRef": {"key": "concur/app", "property": "refresh"}},
    ]
    env = container(by_kind(objects, "Deployment")[0])["env"]
    assert {"name": "BATON_CONCUR_BASE_URL", "value": "https://us2.api.concursolutions.com"} in env
    assert {"name": "BATON_CONCUR_CLIENT_SECRET",
            "valueFrom": {"secretKeyRef": {"name": "baton-concur-ext", "key": "BATON_CONCUR_CLIENT_SECRET"}}} in env
    validate_objects(objects)


def test_custom_connector_env_image_and_probes() -> None:
    stack = Stack("t").add(Custom("jira", image="registry.example.com/baton-jira:1.2",
                                  env={"BATON_JIRA_URL": "https://jira.example.com"},
                                  secret_env={"BATON_API_KEY": secret.env("JIRA_KEY")}, health_port=None,
                                  conductorone=ConductorOne(client_id="c", client_secret=secret.env("JIRA_KEY"))))
    objects = render_stack(stack, environ={"JIRA_KEY": "k"})
    [secret_obj] = by_kind(objects, "Secret")
    assert base64.b64decode(secret_obj["data"]["BATON_API_KEY"]) == b"k"
    c = container(by_kind(objects, "Deployment")[0])
    assert c["image"] == "registry.example.com/baton-jira:1.2"
    names = [e["name"] for e in c["env"]]
    assert "BATON_CONNECTOR" not in names and "BATON_HEALTH_CHECK" not in names
    assert "livenessProbe" not in c and "ports" not in c
    [policy] = by_kind(objects, "NetworkPolicy")
    assert "ingress" not in policy["spec"] and "Ingress" in policy["spec"]["policyTypes"]
    validate_objects(objects)


def test_image_resources_and_egress_overrides() -> None:
    stack = Stack("t", image="registry.example.com/baton-iac:9").add(
        Okta("a", domain="acme.okta.com", api_token=secret.env("T")),
        Coupa("b", domain="acme.coupacloud.com", client_id="c", client_secret=secret.env("T"),
              image="mirror.example.com/baton-iac:8", egress_ports=(443, 8443),
              conductorone=ConductorOne(client_id="c", client_secret=secret.env("T")),
              resources=Resources(requests={"cpu": "100m", "memory": "256Mi"}, limits={"memory": "1Gi"})),
    )
    objects = render_stack(stack, environ={"T": "t"})
    a, b = by_kind(objects, "Deployment")
    assert container(a)["image"] == "registry.example.com/baton-iac:9"
    assert container(b)["image"] == "mirror.example.com/baton-iac:8"
    assert container(b)["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}
    assert "BATON_CONNECTOR" not in {e["name"] for e in container(b)["env"]}, "a foreign image picks its own"
    ports = by_kind(objects, "NetworkPolicy")[1]["spec"]["egress"][1]["ports"]
    assert [p["port"] for p in ports] == [443, 8443]
    validate_objects(objects)


def test_default_image_is_the_runtime_image_tagged_with_the_package_version() -> None:
    import iac

    stack = Stack("t").add(Okta("okta", domain="acme.okta.com", api_token=secret.env("T")))
    [deployment] = by_kind(render_stack(stack, environ={"T": "x"}), "Deployment")
    assert container(deployment)["image"].endswith(f"/baton-iac:{iac.__version__}")


def test_write_tree_is_all_or_nothing_and_refuses_foreign_directories(tmp_path: Path,
                                                                     example_env: dict[str, str]) -> None:
    objects = render_stack(load_stack(EXAMPLE))
    out = tmp_path / "out"
    files = write_tree(objects, out)
    assert len(files) == len(objects)
    assert (out / "okta" / "deployment-baton-okta.yaml").is_file()
    assert yaml.safe_load((out / "namespace-identity-connectors.yaml").read_text())["kind"] == "Namespace"
    # A second render replaces the tree: files of connectors that left the stack disappear.
    write_tree(objects[:5], out)
    assert not (out / "coupa").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(RenderError, match="not empty and was not written by iac render"):
        write_tree(objects, foreign)
    assert (foreign / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "out"], "no staging leftovers"


def test_render_cli_writes_a_directory(tmp_path: Path, run_iac: RunIac) -> None:
    result = run_iac("render", str(EXAMPLE), "-o", str(tmp_path / "m"), env=EXAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    assert "wrote 17 files for 4 connectors" in result.stderr
    assert result.stdout == ""


def test_validate_cli_without_secrets(run_iac: RunIac) -> None:
    result = run_iac("validate", str(EXAMPLE), "--no-secrets")
    assert result.returncode == 0, result.stderr
    assert "4 connectors, 17 objects, valid for Kubernetes 1.25 and 1." in result.stderr
    result = run_iac("validate", str(EXAMPLE))
    assert result.returncode == 2
    assert "connector 'okta', field 'api_token': environment variable OKTA_API_TOKEN is not set" in result.stderr


def test_python_module_entry_point_matches_console_script() -> None:
    result = subprocess.run([sys.executable, "-m", "iac", "--help"], capture_output=True, text=True, check=True)
    for command in ("catalog", "explain", "validate", "render"):
        assert command in result.stdout


def test_template_text_and_parsed_objects_agree(example_env: dict[str, str]) -> None:
    """The text users read and the objects the engine applies are the same data, with either parser."""
    from iac.render import _render

    manifests = render_manifests(load_stack(EXAMPLE))
    for manifest in manifests:
        assert yaml.safe_load(manifest.text) == manifest.obj
    assert [d for d in yaml.safe_load_all(to_yaml([m.obj for m in manifests]))] == [m.obj for m in manifests]
    fast = _render._fast_loads
    try:
        _render._fast_loads = None  # the PyYAML fallback
        assert render_stack(load_stack(EXAMPLE)) == [m.obj for m in manifests]
    finally:
        _render._fast_loads = fast
