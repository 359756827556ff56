"""`pulumi up`: the Pulumi program under pulumi.runtime.set_mocks (no Pulumi CLI offline).

Proves: one iac:index:Connector component per connector with typed pulumi_kubernetes children, the same
objects as `iac render`, and secret values that stay Output.secret end to end."""

from __future__ import annotations

import base64
import json
import runpy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from conftest import EXAMPLE_ENV, REPO_ROOT
from pulumi.runtime import rpc

from iac import Celigo, Concur, ConductorOne, Okta, Stack, Storage, load_stack, secret
from iac.backends.pulumi import CONNECTOR_TYPE, ConnectorDeployment, deploy, resource_class
from iac.errors import SecretResolutionError
from iac.render import render_stack

EXAMPLE = REPO_ROOT / "stacks" / "example.py"
PROJECT = "baton-iac"


class Recorder(pulumi.runtime.Mocks):
    """Answers every resource registration with its inputs and keeps them for assertions."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append((args.typ, args.name, args.inputs))
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class Monitor(pulumi.runtime.mocks.MockMonitor):
    """Also records each registration's explicit dependencies (depends_on), which mocks do not pass on."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.dependencies: dict[str, list[str]] = {}
        self.outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # the gRPC method name
        response = super().RegisterResource(request)
        self.dependencies[response.urn] = list(request.dependencies)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # the gRPC method name
        self.outputs[request.urn] = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)


class Run:
    def __init__(self, recorder: Recorder, monitor: Monitor, result: Any) -> None:
        self.recorder = recorder
        self.monitor = monitor
        self.result = result

    def of_type(self, typ: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, inputs) for t, name, inputs in self.recorder.registered if t == typ]

    def urns(self) -> list[str]:
        return list(self.monitor.get_registered_resources())

    def objects(self) -> list[dict[str, Any]]:
        """The Kubernetes objects Pulumi would send, secrets unwrapped."""
        return [_plain(inputs) for typ, _, inputs in self.recorder.registered if typ.startswith("kubernetes:")]


def run_pulumi(program: Callable[[], Any], *, config: dict[str, str] | None = None,
               secret_keys: tuple[str, ...] = ()) -> Run:
    """Run ``program`` under fresh mocks and wait until every registration finished."""
    recorder = Recorder()
    monitor = Monitor(recorder)
    pulumi.runtime.set_mocks(recorder, project=PROJECT, stack="test", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config or {}, list(secret_keys))
    box: dict[str, Any] = {}

    @pulumi.runtime.test
    def body() -> Any:
        box["result"] = program()
        return None

    body()
    return Run(recorder, monitor, box.get("result"))


def await_output(output: Any) -> Any:
    from pulumi.runtime.sync_await import _sync_await

    return _sync_await(output)


def _plain(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # numbers cross the protobuf boundary as doubles
    return value


def _secret_paths(value: Any, path: str = "") -> Iterator[str]:
    if rpc.is_rpc_secret(value):
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _secret_paths(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _secret_paths(v, f"{path}[{i}]")


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


@pytest.fixture
def example_run(example_env: dict[str, str]) -> Run:
    stack = load_stack(EXAMPLE)
    return run_pulumi(lambda: deploy(stack))


def test_one_component_per_connector_with_typed_children(example_run: Run) -> None:
    counts = {typ: len(example_run.of_type(typ)) for typ, _, _ in example_run.recorder.registered}
    assert counts == {
        "kubernetes:core/v1:Namespace": 1,
        CONNECTOR_TYPE: 4,
        "kubernetes:core/v1:Secret": 4,
        "kubernetes:core/v1:ServiceAccount": 4,
        "kubernetes:networking.k8s.io/v1:NetworkPolicy": 4,
        "kubernetes:apps/v1:Deployment": 4,
    }
    assert sorted(name for name, _ in example_run.of_type(CONNECTOR_TYPE)) == ["celigo", "concur", "coupa", "okta"]
    components: dict[str, ConnectorDeployment] = example_run.result
    assert list(components["okta"].objects) == [
        "Secret/baton-okta", "ServiceAccount/baton-okta", "NetworkPolicy/baton-okta", "Deployment/baton-okta"]
    assert await_output(components["okta"].deployment_name.future()) == "baton-okta"


def test_children_are_parented_by_their_connector_component(example_run: Run) -> None:
    components: dict[str, ConnectorDeployment] = example_run.result
    for name, component in components.items():
        # pulumi records each child in its parent's child set (ResourceOptions(parent=...)).
        assert component._childResources == set(component.objects.values()), name
        assert all(f"/baton-{name}" in key for key in component.objects)
    urns = example_run.urns()
    children = [u for u in urns if "::identity-connectors/" in u]
    assert len(children) == 16
    assert all(u.split("::")[2].startswith(f"{CONNECTOR_TYPE}$kubernetes:") for u in children), children
    [namespace] = [u for u in urns if u.endswith("::identity-connectors")]
    assert namespace.split("::")[2] == "pulumi:pulumi:Stack$kubernetes:core/v1:Namespace", "a stack-level object"
    for urn in children:
        assert example_run.monitor.dependencies[urn] == [namespace], "created after the namespace"
    assert sum(u.split("::")[2] == f"pulumi:pulumi:Stack${CONNECTOR_TYPE}" for u in urns) == 4


def test_components_register_their_outputs(example_run: Run) -> None:
    [okta] = [urn for urn in example_run.urns() if urn.endswith(f"{CONNECTOR_TYPE}::okta")]
    assert example_run.monitor.outputs[okta] == {
        "integration": "okta",
        "namespace": "identity-connectors",
        "deployment": "baton-okta",
        "objects": ["Secret/baton-okta", "ServiceAccount/baton-okta", "NetworkPolicy/baton-okta",
                    "Deployment/baton-okta"],
    }
    assert sum(CONNECTOR_TYPE in urn for urn in example_run.monitor.outputs) == 4


def test_objects_equal_iac_render(example_run: Run, example_env: dict[str, str]) -> None:
    expected = render_stack(load_stack(EXAMPLE))
    got = example_run.objects()
    assert sorted(got, key=_key) == sorted(expected, key=_key)
    assert got[0]["kind"] == "Namespace", "the namespace is declared before the connectors"


def test_secret_values_are_secret_outputs_and_appear_nowhere_else(example_run: Run) -> None:
    for typ, name, inputs in example_run.recorder.registered:
        paths = list(_secret_paths(inputs))
        if typ == "kubernetes:core/v1:Secret":
            assert paths == [".data"], name
        else:
            assert paths == [], f"{typ} {name} carries secret inputs at {paths}"
            text = json.dumps(inputs)
            for value in EXAMPLE_ENV.values():
                assert value not in text and base64.b64encode(value.encode()).decode() not in text
    okta_secret = example_run.result["okta"].objects["Secret/baton-okta"]
    assert await_output(okta_secret.data.is_secret()) is True


def test_pulumi_config_secret_supplies_a_value_and_keeps_it_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OKTA_API_TOKEN", raising=False)
    stack = Stack("cfg", namespace="ids").add(Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN")))
    from_config = "sentinel-from-pulumi-config-0007"
    run = run_pulumi(lambda: deploy(stack, environ={}),
                     config={f"{PROJECT}:OKTA_API_TOKEN": from_config}, secret_keys=(f"{PROJECT}:OKTA_API_TOKEN",))
    [(_, secret_inputs)] = run.of_type("kubernetes:core/v1:Secret")
    assert rpc.is_rpc_secret(secret_inputs["data"])
    assert base64.b64decode(_plain(secret_inputs)["data"]["BATON_API_TOKEN"]).decode() == from_config
    [(_, deployment_inputs)] = run.of_type("kubernetes:apps/v1:Deployment")
    assert list(_secret_paths(deployment_inputs)) == [], "the checksum of a secret is not itself a secret"
    # The pod rolls when the config secret changes: the checksum is the one iac render computes from that value.
    [expected] = [o for o in render_stack(stack, environ={"OKTA_API_TOKEN": from_config}) if o["kind"] == "Deployment"]
    assert _plain(deployment_inputs) == {k: v for k, v in expected.items()}
    assert from_config not in json.dumps(deployment_inputs)


def test_a_secret_in_neither_config_nor_environment_names_both() -> None:
    stack = Stack("cfg").add(Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN")))
    with pytest.raises(SecretResolutionError) as caught:
        run_pulumi(lambda: deploy(stack, environ={}))
    assert "connector 'okta', field 'api_token'" in str(caught.value)
    assert "pulumi config set --secret OKTA_API_TOKEN" in str(caught.value)


def test_cluster_held_references_declare_no_secret_values() -> None:
    stack = Stack("refs", namespace="ids").add(
        Celigo("celigo", access_token=secret.kubernetes("celigo-creds", "token")),
        Concur("concur", base_url="https://us2.api.concursolutions.com", client_id="cid",
               client_secret=secret.external("vault", "concur/app", property="secret"),
               refresh_token=secret.external("vault", "concur/app", property="refresh")),
    )
    run = run_pulumi(lambda: deploy(stack, environ={}))
    assert run.of_type("kubernetes:core/v1:Secret") == []
    [(name, external)] = run.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
    assert name == "ids/baton-concur-ext"
    assert external["spec"]["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "vault"}
    assert all(not list(_secret_paths(inputs)) for _, _, inputs in run.recorder.registered)
    assert sorted(run.objects(), key=_key) == sorted(render_stack(stack, environ={}), key=_key)


@pytest.mark.parametrize("kubernetes_version", ["1.20", "1.25"])
def test_a_schedule_and_storage_declare_the_cronjob_and_claims_iac_render_gives(kubernetes_version: str) -> None:
    import pulumi_kubernetes as k8s

    def scheduled() -> Stack:
        c1 = ConductorOne(client_id="id", client_secret=secret.env("C1S"))
        return Stack("s", kubernetes_version=kubernetes_version).add(
            Okta("okta", domain="acme.okta.com", api_token=secret.env("TOK"), storage=Storage(size="3Gi")),
            Okta("nightly", domain="acme.okta.com", api_token=secret.env("TOK"), schedule="0 2 * * *"),
            Celigo("celigo", access_token=secret.env("TOK"), image="ghcr.io/conductorone/baton-celigo:v0.1.26",
                   conductorone=c1))

    environ = {"TOK": "sentinel-tok", "C1S": "sentinel-c1"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environ.items():
            patch.setenv(key, value)
        run = run_pulumi(lambda: deploy(scheduled()))
        expected = render_stack(scheduled(), environ=environ)
    assert sorted(run.objects(), key=_key) == sorted(expected, key=_key)
    typed = {t for t, _, _ in run.recorder.registered if t.startswith("kubernetes:")}
    assert "kubernetes:core/v1:PersistentVolumeClaim" in typed
    cronjob_class = k8s.batch.v1beta1.CronJob if kubernetes_version == "1.20" else k8s.batch.v1.CronJob
    assert resource_class("batch/v1beta1" if kubernetes_version == "1.20" else "batch/v1", "CronJob") is cronjob_class
    assert f"kubernetes:batch/{'v1beta1' if kubernetes_version == '1.20' else 'v1'}:CronJob" in typed


def test_resource_classes_follow_the_api_group() -> None:
    import pulumi_kubernetes as k8s

    assert resource_class("apps/v1", "Deployment") is k8s.apps.v1.Deployment
    assert resource_class("v1", "Secret") is k8s.core.v1.Secret
    assert resource_class("networking.k8s.io/v1", "NetworkPolicy") is k8s.networking.v1.NetworkPolicy
    assert resource_class("external-secrets.io/v1", "ExternalSecret") is None
    assert resource_class("apps/v1", "NoSuchKind") is None


def test_program_deploys_the_stack_file_named_in_config(example_env: dict[str, str]) -> None:
    program = REPO_ROOT / "iac" / "backends" / "pulumi" / "program"
    run = run_pulumi(lambda: runpy.run_path(str(program), run_name="__main__"),
                     config={"iac:stack": str(EXAMPLE)})
    assert len(run.of_type(CONNECTOR_TYPE)) == 4
    assert sorted(run.objects(), key=_key) == sorted(render_stack(load_stack(EXAMPLE)), key=_key)


def test_program_selects_an_environment_and_reports_errors_in_one_line(tmp_path: Path) -> None:
    stack_file = tmp_path / "envs.py"
    stack_file.write_text(
        "from iac import Okta, Stack, secret\n"
        "stack = Stack('envs', namespace='ids', environments={'staging': {'namespace': 'ids-staging'}})\n"
        "stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.kubernetes('okta', 'token')))\n")
    program = REPO_ROOT / "iac" / "backends" / "pulumi" / "program"
    run = run_pulumi(lambda: runpy.run_path(str(program), run_name="__main__"),
                     config={"iac:stack": str(stack_file), "iac:environment": "staging"})
    assert {o["metadata"]["namespace"] for o in run.objects()} == {"ids-staging"}
    with pytest.raises(pulumi.RunError, match=r"^stack 'envs': no environment named 'prod'"):
        run_pulumi(lambda: runpy.run_path(str(program), run_name="__main__"),
                   config={"iac:stack": str(stack_file), "iac:environment": "prod"})


def test_pulumi_yaml_points_at_the_program_and_the_stack_setting() -> None:
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    assert project["name"] == PROJECT
    assert project["runtime"]["name"] == "python"
    assert (REPO_ROOT / project["main"] / "__main__.py").is_file()
    assert (REPO_ROOT / project["config"]["iac:stack"]).is_file()


def test_short_module_name_is_the_pulumi_backend() -> None:
    import iac.backends.pulumi
    import iac.pulumi

    assert iac.pulumi.deploy is iac.backends.pulumi.deploy
    assert iac.pulumi.ConnectorDeployment is iac.backends.pulumi.ConnectorDeployment
