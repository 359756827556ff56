"""`iac render STACK --gitops DIR`: a Kustomize tree that `kubectl kustomize` builds into what `iac render`
gives, without plaintext secrets; ExternalSecrets checked against the operator's CRD schema."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from _required import unavailable
from conftest import EXAMPLE_ENV, REPO_ROOT, RunIac

from iac import Celigo, Concur, Okta, Stack, load_stack, secret
from iac.backends.gitops import MARKER, build_gitops_tree, json_patch, write_gitops_tree
from iac.errors import RenderError, SpecError
from iac.render import render_stack
from iac.spec.secret import PlaintextSecretWarning

EXAMPLE = REPO_ROOT / "stacks" / "example.py"
CRD_SCHEMA = Path(__file__).parent / "data" / "external-secrets.io_externalsecret_v1.schema.yaml"
STACK = '''\
from iac import Celigo, Concur, ConductorOne, Okta, Stack, Storage, secret

stack = Stack(
    "gitops", namespace="ids", create_namespace=True,
    conductorone=ConductorOne(client_id=secret.external("vault", "c1/connector", property="id"),
                              client_secret=secret.external("vault", "c1/connector", property="secret")),
    environments={
        "staging": {"namespace": "ids-staging", "image": "registry.example.com/baton-iac:next",
                    "kubernetes_version": "1.20",
                    "connectors": {"okta": {"domain": "acme-staging.okta.com",
                                            "api_token": secret.external("vault", "okta/staging")}}},
        "prod": {"labels": {"tier": "prod"}},
    } if WITH_ENVIRONMENTS else {},
)
stack.add(
    Okta("okta", domain="acme.okta.com", api_token=secret.kubernetes("okta-token", "token"), provisioning=True,
         storage=Storage(size="2Gi")),
    Concur("concur", base_url="https://us2.api.concursolutions.com", client_id="concur-client",
           client_secret=secret.external("vault", "concur/app", property="secret"),
           refresh_token=secret.external("vault", "concur/app", property="refresh")),
    Celigo("celigo", access_token=secret.kubernetes("celigo-credentials", "token"), region="eu",
           schedule="0 */6 * * *"),
)
'''


def kubectl() -> str:
    found = shutil.which("kubectl") or ("/usr/bin/kubectl" if os.access("/usr/bin/kubectl", os.X_OK) else None)
    if found is None:
        unavailable("kubectl (for `kubectl kustomize`)", "it is not installed", "run scripts/install-test-deps.sh")
    return found


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def write_stack(directory: Path, *, environments: bool) -> Path:
    path = directory / ("envs.py" if environments else "flat.py")
    path.write_text(STACK.replace("WITH_ENVIRONMENTS", str(environments)))
    return path


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def test_flat_tree_builds_into_exactly_what_iac_render_gives(tmp_path: Path, run_iac: RunIac) -> None:
    stack_file = write_stack(tmp_path, environments=False)
    result = run_iac("render", str(stack_file), "--gitops", str(tmp_path / "tree"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "point Argo CD or Flux at" in result.stderr
    expected = render_stack(load_stack(stack_file), environ={})
    assert kustomize(tmp_path / "tree") == expected, "same objects in the same order"
    kinds = [o["kind"] for o in expected]
    assert "Secret" not in kinds and kinds.count("ExternalSecret") == 3
    assert kinds.count("PersistentVolumeClaim") == 2 and kinds.count("CronJob") == 1
    kustomization = (tmp_path / "tree" / "kustomization.yaml").read_text()
    assert "must already exist in namespace ids (secret.kubernetes): celigo-credentials (key token), okta-token" \
        in kustomization
    files = sorted(str(p.relative_to(tmp_path / "tree")) for p in (tmp_path / "tree").rglob("*.yaml"))
    assert files == sorted(["kustomization.yaml", *(_path(o) for o in expected)])
    # Each object file is the template's text, comments included (reviewable in Git).
    assert "# One worker per credential" in (tmp_path / "tree" / "okta" / "deployment-baton-okta.yaml").read_text()


def test_environments_get_a_base_and_one_overlay_each(tmp_path: Path) -> None:
    stack_file = write_stack(tmp_path, environments=True)
    stack = load_stack(stack_file)
    tree = write_gitops_tree(stack, tmp_path / "tree")
    assert tree.roots == {"base": "base", "staging": "overlays/staging", "prod": "overlays/prod"}
    assert kustomize(tmp_path / "tree" / "base") == render_stack(stack, environ={})
    for env in ("staging", "prod"):
        got = kustomize(tmp_path / "tree" / "overlays" / env)
        want = render_stack(stack.environment(env), environ={})
        assert sorted(got, key=_key) == sorted(want, key=_key), env
    # prod only relabels: every object patched in place, order kept.
    assert kustomize(tmp_path / "tree" / "overlays" / "prod") == render_stack(stack.environment("prod"), environ={})
    staging = tmp_path / "tree" / "overlays" / "staging"
    overlay = yaml.safe_load((staging / "kustomization.yaml").read_text())
    assert overlay["resources"][0] == "../../base"
    assert "namespace-ids-staging.yaml" in overlay["resources"], "an object only staging has"
    deletion = yaml.safe_load((staging / "patches" / "namespace-ids.yaml").read_text())
    assert deletion["$patch"] == "delete", "the base's Namespace is not staging's"
    assert not [f for f in (tmp_path / "tree").rglob("*.yaml") if f.name.startswith("secret-")], "no Secret objects"
    cronjobs = [o for o in kustomize(staging) if o["kind"] == "CronJob"]
    assert [o["apiVersion"] for o in cronjobs] == ["batch/v1beta1"], "staging targets Kubernetes 1.20"


def test_plaintext_secrets_are_refused_with_one_line_and_nothing_written(tmp_path: Path, run_iac: RunIac) -> None:
    result = run_iac("render", str(EXAMPLE), "--gitops", str(tmp_path / "tree"), env=EXAMPLE_ENV)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: stack 'example', connector 'okta', field 'api_token': "
                                    "secret.env('OKTA_API_TOKEN') would be written in plaintext to the GitOps tree")
    assert "--allow-plaintext-secrets" in result.stderr
    assert not (tmp_path / "tree").exists()
    assert not [v for v in EXAMPLE_ENV.values() if v in result.stderr + result.stdout]


def test_an_environment_that_brings_a_plaintext_secret_is_refused_too() -> None:
    stack = Stack("t", environments={"dev": {"connectors": {"okta": {"api_token": secret.env("DEV_TOKEN")}}}})
    stack.add(Okta("okta", domain="acme.okta.com", api_token=secret.external("vault", "okta")))
    with pytest.raises(SpecError, match=r"connector 'okta', field 'api_token': secret.env\('DEV_TOKEN'\)"):
        build_gitops_tree(stack)


def test_allow_plaintext_secrets_writes_them_and_warns(tmp_path: Path, run_iac: RunIac) -> None:
    result = run_iac("render", str(EXAMPLE), "--gitops", str(tmp_path / "tree"), "--allow-plaintext-secrets",
                     env=EXAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    assert "warning: the GitOps tree contains plaintext secret values (okta.api_token," in result.stderr
    with pytest.MonkeyPatch.context() as patch:
        for key, value in EXAMPLE_ENV.items():
            patch.setenv(key, value)
        expected = render_stack(load_stack(EXAMPLE))
    assert kustomize(tmp_path / "tree") == expected


def test_no_secret_value_in_a_tree_of_references(tmp_path: Path) -> None:
    stack = load_stack(write_stack(tmp_path, environments=True))
    write_gitops_tree(stack, tmp_path / "tree", environ=EXAMPLE_ENV)
    text = "".join(p.read_text() for p in (tmp_path / "tree").rglob("*") if p.is_file())
    assert "kind: Secret\n" not in text
    assert not [v for v in EXAMPLE_ENV.values() if v in text]


def test_external_secrets_match_the_operator_crd_schema(tmp_path: Path) -> None:
    stack = load_stack(write_stack(tmp_path, environments=True))
    tree = build_gitops_tree(stack)
    validator = _crd_validator()
    externals = [doc for name, text in tree.files.items() if name.endswith(".yaml") and "/patches/" not in name
                 for doc in [yaml.safe_load(text)] if doc.get("kind") == "ExternalSecret"]
    assert len(externals) == 3  # the base's; staging patches okta's
    externals += [o for env in stack.environments for o in render_stack(stack.environment(env), environ={})
                  if o["kind"] == "ExternalSecret"]
    assert any(len(o["spec"]["data"]) == 3 for o in externals), "staging's okta: token and ConductorOne pair"
    for obj in externals:
        validator.validate(obj)
    # The check is not vacuous: a misspelt field, a wrong enum and a missing key are all rejected.
    broken = copy.deepcopy(externals[0])
    broken["spec"]["secretStoreRef"]["kind"] = "Vault"
    bad_field = copy.deepcopy(externals[0])
    bad_field["spec"]["data"][0]["remoteRef"]["propety"] = "x"
    missing = copy.deepcopy(externals[0])
    del missing["spec"]["data"][0]["remoteRef"]["key"]
    for bad in (broken, bad_field, missing):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(bad)


def test_a_new_render_replaces_the_tree_and_foreign_directories_are_refused(tmp_path: Path) -> None:
    stack = Stack("t", namespace="ids").add(
        Okta("okta", domain="acme.okta.com", api_token=secret.kubernetes("o", "t")),
        Celigo("celigo", access_token=secret.kubernetes("c", "t")))
    write_gitops_tree(stack, tmp_path / "tree")
    assert (tmp_path / "tree" / "celigo").is_dir()
    stack.connectors.pop()
    write_gitops_tree(stack, tmp_path / "tree")
    assert not (tmp_path / "tree" / "celigo").exists()
    assert json.loads((tmp_path / "tree" / MARKER).read_text())["stack"] == "t"
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.md").write_text("mine")
    with pytest.raises(RenderError, match="not empty and was not written by iac render --gitops"):
        write_gitops_tree(stack, foreign)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "tree"], "no staging leftovers"


def test_json_patch_is_minimal_and_escapes_keys() -> None:
    old = {"metadata": {"labels": {"app.kubernetes.io/name": "a", "gone": "x"}}, "n": 1, "l": [1, 2], "b": True}
    new = {"metadata": {"labels": {"app.kubernetes.io/name": "b", "t~x": "y"}}, "n": True, "l": [1, 2, 3], "b": True}
    assert json_patch(old, new) == [
        {"op": "remove", "path": "/metadata/labels/gone"},
        {"op": "replace", "path": "/metadata/labels/app.kubernetes.io~1name", "value": "b"},
        {"op": "add", "path": "/metadata/labels/t~0x", "value": "y"},
        {"op": "replace", "path": "/n", "value": True},
        {"op": "replace", "path": "/l", "value": [1, 2, 3]},
    ]
    assert json_patch(new, new) == []


def test_library_warns_when_plaintext_is_allowed() -> None:
    stack = Stack("t").add(Concur("concur", base_url="https://us2.api.concursolutions.com", client_id="c",
                                  client_secret=secret.env("S"), refresh_token=secret.env("R")))
    with pytest.warns(PlaintextSecretWarning, match=r"concur\.client_secret, concur\.refresh_token"):
        tree = build_gitops_tree(stack, environ={"S": "s", "R": "r"}, allow_plaintext_secrets=True)
    assert "concur/secret-baton-concur.yaml" in tree.files


def test_cli_flag_combinations_fail_in_one_line(tmp_path: Path, run_iac: RunIac) -> None:
    stack_file = write_stack(tmp_path, environments=False)
    for args, message in (
        (["--gitops", str(tmp_path / "t"), "-o", str(tmp_path / "o")], "cannot be combined with -o or --env"),
        (["--allow-plaintext-secrets"], "--allow-plaintext-secrets only applies to --gitops"),
        (["--env", "nope"], "no environment named 'nope'"),
    ):
        result = run_iac("render", str(stack_file), *args)
        assert result.returncode == 2, args
        assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_render_env_gives_the_environment_objects(tmp_path: Path, run_iac: RunIac) -> None:
    stack_file = write_stack(tmp_path, environments=True)
    result = run_iac("render", str(stack_file), "--env", "staging")
    assert result.returncode == 0, result.stderr
    assert list(yaml.safe_load_all(result.stdout)) == render_stack(load_stack(stack_file).environment("staging"),
                                                                   environ={})


def test_docs_examples_point_argo_cd_and_flux_at_the_tree() -> None:
    docs = REPO_ROOT / "docs" / "gitops"
    application = yaml.safe_load((docs / "argocd-application.yaml").read_text())
    assert (application["apiVersion"], application["kind"]) == ("argoproj.io/v1alpha1", "Application")
    assert application["spec"]["syncPolicy"]["automated"]["prune"] is True
    source, flux = list(yaml.safe_load_all((docs / "flux-kustomization.yaml").read_text()))
    assert (source["apiVersion"], source["kind"]) == ("source.toolkit.fluxcd.io/v1", "GitRepository")
    assert (flux["apiVersion"], flux["kind"]) == ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    assert flux["spec"]["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    assert flux["spec"]["prune"] is True
    assert application["spec"]["source"]["path"] == flux["spec"]["path"].removeprefix("./") == \
        "deploy/baton/overlays/prod"
    assert "iac render stacks/prod.py --gitops deploy/baton" in (docs / "README.md").read_text()


def _path(obj: dict[str, Any]) -> str:
    from iac.render import object_path

    return object_path(obj)


def _crd_validator() -> jsonschema.protocols.Validator:
    """The CRD's structural schema as JSON Schema; unknown fields rejected (`kubectl --validate=strict`)."""
    def strict(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: strict(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
        elif isinstance(node, list):
            node = [strict(v) for v in node]
        return node

    schema = strict(yaml.safe_load(CRD_SCHEMA.read_text()))
    schema["properties"]["apiVersion"]["const"] = "external-secrets.io/v1"
    schema["properties"]["kind"]["const"] = "ExternalSecret"
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    validator: jsonschema.protocols.Validator = jsonschema.Draft7Validator(schema)
    return validator
