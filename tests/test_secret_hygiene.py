"""Sentinel secret values appear only inside Secret objects: never in stdout/stderr text outside them,
Deployment env values, args or annotations, error messages, or reprs."""

from __future__ import annotations

import base64
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import EXAMPLE_ENV, REPO_ROOT, RunIac

from iac import Okta, Stack, load_stack, secret
from iac.errors import SpecError
from iac.render import render_stack
from iac.spec.secret import PlaintextSecretWarning

SENTINELS = list(EXAMPLE_ENV.values())


def encodings(value: str) -> list[str]:
    return [value, base64.b64encode(value.encode()).decode()]


def test_sentinels_only_inside_secret_objects(tmp_path: Path, run_iac: RunIac) -> None:
    result = run_iac("render", str(REPO_ROOT / "stacks" / "example.py"), env=EXAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    documents = [d for d in yaml.safe_load_all(result.stdout) if d]
    secrets_text = "".join(yaml.safe_dump(d) for d in documents if d["kind"] == "Secret")
    others_text = "".join(yaml.safe_dump(d) for d in documents if d["kind"] != "Secret")
    for sentinel in SENTINELS:
        for form in encodings(sentinel):
            assert form not in others_text, f"{sentinel} leaked outside a Secret"
            assert form not in result.stderr
        assert base64.b64encode(sentinel.encode()).decode() in secrets_text, "the Secret must carry the value"
    # stdout has nothing but the documents: strip the Secret documents and no sentinel remains
    for sentinel in SENTINELS:
        assert result.stdout.count(base64.b64encode(sentinel.encode()).decode()) == secrets_text.count(
            base64.b64encode(sentinel.encode()).decode())


def test_deployment_env_args_and_annotations_hold_no_secret(example_env: dict[str, str]) -> None:
    objects = render_stack(load_stack(REPO_ROOT / "stacks" / "example.py"))
    for obj in objects:
        if obj["kind"] == "Secret":
            continue
        flat = yaml.safe_dump(obj)
        for sentinel in SENTINELS:
            for form in encodings(sentinel):
                assert form not in flat, f"{obj['kind']} {obj['metadata']['name']} holds a secret"
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    for deployment in deployments:
        c: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
        assert "args" not in c and "command" not in c
        secret_envs = {"BATON_API_TOKEN", "BATON_CLIENT_SECRET", "BATON_COUPA_CLIENT_SECRET",
                       "BATON_CONCUR_CLIENT_SECRET", "BATON_CONCUR_REFRESH_TOKEN", "BATON_CELIGO_ACCESS_TOKEN"}
        for entry in c["env"]:
            if entry["name"] in secret_envs:
                assert "value" not in entry, f"{entry['name']} must come from a Secret"


def test_files_written_with_o_keep_secrets_in_secret_files(tmp_path: Path, run_iac: RunIac) -> None:
    out = tmp_path / "m"
    result = run_iac("render", str(REPO_ROOT / "stacks" / "example.py"), "-o", str(out), env=EXAMPLE_ENV)
    assert result.returncode == 0
    for path in out.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_text()
        holds = any(form in text for s in SENTINELS for form in encodings(s))
        assert holds == path.name.startswith("secret-"), path


def test_error_messages_never_quote_secret_values(tmp_path: Path, run_iac: RunIac) -> None:
    cases = [
        "stack.add(Okta('okta', domain='acme.okta.com', api_token='sentinel-in-plain-field'))",
        "stack.add(Okta('okta', domain='acme.okta.com', api_token=['sentinel-in-list']))",
        "stack.add(Custom('c', image='i:1', secret_env={'BATON_T': 'sentinel-in-custom'}))",
    ]
    for line in cases:
        stack_file = tmp_path / "s.py"
        stack_file.write_text(f"from iac import *\nstack = Stack('prod')\n{line}\n")
        result = run_iac("render", str(stack_file))
        assert result.returncode == 2
        assert "sentinel" not in result.stderr, result.stderr


def test_reprs_and_descriptions_mask_literal_values() -> None:
    with pytest.warns(PlaintextSecretWarning):
        ref = secret.literal("sentinel-literal")
    assert "sentinel" not in repr(ref) and "sentinel" not in str(ref) and "sentinel" not in ref.describe()
    okta = Okta("okta", domain="acme.okta.com", api_token=ref)
    assert "sentinel" not in repr(okta)
    assert "sentinel" not in repr(Stack("s").add(okta))


def test_literal_warns_once_on_the_cli(tmp_path: Path, run_iac: RunIac) -> None:
    stack_file = tmp_path / "s.py"
    stack_file.write_text("from iac import *\nstack = Stack('prod')\n"
                          "stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.literal('sentinel-lit')))\n")
    result = run_iac("render", str(stack_file))
    assert result.returncode == 0
    warnings_ = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings_) == 1 and "secret.literal() puts a credential in the stack file" in warnings_[0]
    assert "sentinel" not in result.stderr


def test_file_secret_strips_one_trailing_newline_and_stays_out_of_errors(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("sentinel-file-token\n")
    stack = Stack("s").add(Okta("okta", domain="acme.okta.com", api_token=secret.file(str(token))))
    [secret_obj] = [o for o in render_stack(stack, environ={}) if o["kind"] == "Secret"]
    assert base64.b64decode(secret_obj["data"]["BATON_API_TOKEN"]) == b"sentinel-file-token"
    token.write_text("")
    with pytest.raises(SpecError, match="is empty") as caught:
        render_stack(stack, environ={})
    assert "sentinel" not in str(caught.value)


def test_no_warning_without_literals() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Okta("okta", domain="acme.okta.com", api_token=secret.env("X"))
