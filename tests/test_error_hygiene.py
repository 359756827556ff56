"""Every error path prints through one redacting printer (iac.cli._app.print_error): each CLI failure this test
can reach runs with the sentinel credentials set, and no sentinel appears on stdout, stderr or in the logs.
Error text is never read as Rich markup. The Terraform provider logs tracebacks through the same redaction."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLE_ENV, REPO_ROOT, RunIac
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from iac._redact import register_secret
from iac.sim import serve

EXAMPLE = str(REPO_ROOT / "stacks" / "example.py")
VENDOR_TOKEN = "sentinel-vendor-echoed-token-0801"
SENTINELS = [*EXAMPLE_ENV.values(), VENDOR_TOKEN]


@pytest.fixture(scope="module")
def echoing_vendor() -> Iterator[str]:
    """An API that quotes the credential it was sent in its error, as some vendors do."""

    async def refuse(request: Request) -> JSONResponse:
        sent = request.headers.get("authorization", "").partition(" ")[2]
        return JSONResponse({"errorCode": "E0000011", "errorSummary": f"Invalid token provided: {sent}"}, 401)

    app = Starlette(routes=[Route("/{path:path}", refuse, methods=["GET", "POST", "PUT", "DELETE"])])
    with serve(app) as base_url:
        yield base_url


def _busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def _cases(tmp: Path, vendor: str, port: int) -> dict[str, tuple[list[str], dict[str, str]]]:
    foreign = tmp / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("not a render")
    broken = tmp / "broken.py"
    broken.write_text("import os\nfrom iac import secret\ntoken = secret.env('OKTA_API_TOKEN')\n"
                      "raise RuntimeError('cannot load: ' + os.environ['OKTA_API_TOKEN'])\n")
    okta = {"BATON_DOMAIN": "acme.okta.com", "BATON_API_TOKEN": VENDOR_TOKEN, "BATON_BASE_URL": vendor,
            "BATON_FILE": str(tmp / "okta.sqlite"), "BATON_HTTP_TIMEOUT_SECONDS": "2"}
    without_one = {k: v for k, v in EXAMPLE_ENV.items() if k != "CONCUR_REFRESH_TOKEN"}
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    return {
        "render, a variable missing": (["render", EXAMPLE], without_one),
        "render -o into a foreign directory": (["render", EXAMPLE, "-o", str(foreign)], EXAMPLE_ENV),
        "render --gitops with plaintext secrets": (["render", EXAMPLE, "--gitops", str(tmp / "g")], EXAMPLE_ENV),
        "a stack file that raises with a secret": (["render", str(broken)], EXAMPLE_ENV),
        "validate, a bad option": (["validate", EXAMPLE, "--env", "nope"], EXAMPLE_ENV),
        "preview, no such context": (["preview", EXAMPLE, "--context", "nope"],
                                     EXAMPLE_ENV | {"KUBECONFIG": str(kubeconfig)}),
        "up, no such context": (["up", EXAMPLE, "--context", "nope"], EXAMPLE_ENV | {"KUBECONFIG": str(kubeconfig)}),
        "synth, a bad backend config": (["synth", EXAMPLE, "-o", str(tmp / "s"), "--backend-config", "x"],
                                        EXAMPLE_ENV),
        "connector sync, the vendor echoes the token": (["connector", "okta", "sync"], EXAMPLE_ENV | okta),
        "connector sync, a bad setting": (["connector", "okta", "sync"],
                                          EXAMPLE_ENV | okta | {"BATON_DOMAIN": "acme-admin.okta.com"}),
        "connector grant, provisioning off": (["connector", "okta", "grant", "-e", "group:g:member", "-p", "u"],
                                              EXAMPLE_ENV | okta),
        "connector grant, the vendor echoes the token": (
            ["connector", "okta", "grant", "-e", "group:g:member", "-p", "u"],
            EXAMPLE_ENV | okta | {"BATON_PROVISIONING": "true"}),
        "connector inspect, no artifact": (["connector", "inspect", str(tmp / "none.sqlite"), "stats"], EXAMPLE_ENV),
        "sim, the port is taken": (["sim", "okta", "--port", str(port)], EXAMPLE_ENV | {"IAC_SIM_TOKEN": VENDOR_TOKEN}),
    }


def test_no_cli_failure_prints_a_secret(tmp_path: Path, run_iac: RunIac, echoing_vendor: str) -> None:
    for port in _busy_port():
        cases = _cases(tmp_path, echoing_vendor, port)
        failures = {}
        for name, (args, env) in cases.items():
            result = run_iac(*args, env=env)
            assert result.returncode != 0, f"{name}: did not fail\n{result.stderr}"
            assert "Traceback" not in result.stderr or name == "a stack file that raises with a secret", name
            leaked = [s for s in SENTINELS if s in result.stdout + result.stderr]
            if leaked:
                failures[name] = (leaked, result.stderr[-500:])
        assert not failures, json.dumps(failures, indent=1)
        echoed = run_iac(*cases["connector sync, the vendor echoes the token"][0],
                         env=cases["connector sync, the vendor echoes the token"][1])
        assert "Invalid token provided: [REDACTED]" in echoed.stderr, echoed.stderr


def test_error_text_is_not_read_as_markup(tmp_path: Path, run_iac: RunIac) -> None:
    stack = tmp_path / "markup.py"
    stack.write_text("from iac import Stack, Okta, secret\nstack = Stack('m')\n"
                     "stack.add(Okta('okta', domain='[bold]acme[/].okta.com', api_token=secret.env('T')))\n")
    result = run_iac("validate", str(stack), env={"T": "sentinel-t-0802", "FORCE_COLOR": "1"})
    assert result.returncode == 2
    assert "'[bold]acme[/].okta.com'" in result.stderr, result.stderr


def test_an_unexpected_error_is_redacted_too(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import iac.cli

    register_secret("sentinel-in-a-bug-0803")

    def bug(**_: object) -> None:
        raise KeyError("sentinel-in-a-bug-0803")

    monkeypatch.setattr(iac.cli, "app", bug)
    with pytest.raises(SystemExit) as exited:
        iac.cli.main(["catalog"])
    assert exited.value.code == 1
    stderr = capsys.readouterr().err
    assert "KeyError" in stderr and "[REDACTED]" in stderr and "sentinel-in-a-bug" not in stderr


def test_the_terraform_provider_logs_tracebacks_redacted(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from iac.backends.terraform import _server

    stream = io.StringIO()
    handler = _server.log_handler(stream)
    _server.log.addHandler(handler)
    register_secret("sentinel-write-only-0804")

    class Servicer:
        @_server._guarded
        def ApplyResourceChange(self, request: object, context: object) -> None:
            raise ValueError("the apiserver refused sentinel-write-only-0804")

    try:
        with pytest.raises(ValueError):
            Servicer().ApplyResourceChange(None, None)
    finally:
        _server.log.removeHandler(handler)
    logged = stream.getvalue() + capsys.readouterr().err
    assert "ApplyResourceChange failed" in logged and "ValueError" in logged
    assert "[REDACTED]" in logged and "sentinel-write-only" not in logged
