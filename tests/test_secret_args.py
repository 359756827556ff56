"""Credentials never travel in process arguments: any local user can read them (``ps``, /proc/PID/cmdline).
They come from the environment or a file, and every one is registered for redaction."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from _sim_helpers import iac_sim
from conftest import RunIac

from iac import Okta
from iac.runtime import load_settings
from iac.runtime.errors import ConnectorConfigError

SIM_TOKEN = "sentinel-sim-okta-token-0701"


def _serve_okta(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Start `iac sim okta` with ``args``; return the status of a users request made with SIM_TOKEN and the
    process's command line as the kernel shows it to every user."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("IAC_SIM_")} | (env or {})
    with iac_sim("okta", "--users", "5", "--groups", "1", "--apps", "0", *args, env=full_env) as sim:
        base_url = sim.line()
        cmdline = Path(f"/proc/{sim.proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        deadline = time.monotonic() + 10
        while True:
            try:
                status = httpx.get(f"{base_url}/api/v1/users", headers={"Authorization": f"SSWS {SIM_TOKEN}"},
                                   timeout=5).status_code
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.05)
    stderr = sim.stderr
    assert SIM_TOKEN not in stderr
    return status, cmdline


def test_sim_token_is_not_an_argument(run_iac: RunIac) -> None:
    result = run_iac("sim", "okta", "--token", SIM_TOKEN)
    assert result.returncode == 2
    assert "No such option: --token" in result.stderr


def test_sim_token_from_the_environment(tmp_path: Path) -> None:
    status, cmdline = _serve_okta(tmp_path, env={"IAC_SIM_TOKEN": SIM_TOKEN})
    assert status == 200 and SIM_TOKEN not in cmdline


def test_sim_token_from_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(SIM_TOKEN + "\n")
    status, cmdline = _serve_okta(tmp_path, "--token-file", str(token_file))
    assert status == 200 and SIM_TOKEN not in cmdline and str(token_file) in cmdline


def test_without_a_token_the_sim_derives_one_from_the_seed(tmp_path: Path) -> None:
    status, _ = _serve_okta(tmp_path)
    assert status == 401


UPLOAD_URL = "https://bucket.s3.example/okta.sqlite?X-Amz-Signature=sentinel-presigned-0702&X-Amz-Expires=900"


def test_the_upload_url_is_a_credential_read_from_the_environment_only(run_iac: RunIac) -> None:
    usage = run_iac("connector", "okta", "sync", "--help")
    assert "--upload-token" not in usage.stdout and "--upload-url" not in usage.stdout
    refused = run_iac("connector", "okta", "sync", "--upload-url", UPLOAD_URL)
    assert refused.returncode == 2 and "sentinel-presigned" not in refused.stdout + refused.stderr

    settings = load_settings(Okta, environ={"BATON_DOMAIN": "acme.okta.com", "BATON_API_TOKEN": "t0k3n",
                                            "BATON_UPLOAD_URL": UPLOAD_URL})
    assert settings.upload_url is not None and settings.upload_url.get_secret_value() == UPLOAD_URL
    assert "sentinel-presigned" not in repr(settings) + str(settings.model_dump())
    assert {UPLOAD_URL, UPLOAD_URL.partition("?")[2]} <= set(settings.secrets())


def test_a_malformed_upload_url_is_named_but_not_echoed() -> None:
    with pytest.raises(ConnectorConfigError, match=r"BATON_UPLOAD_URL: .*http:// or https://") as info:
        load_settings(Okta, environ={"BATON_DOMAIN": "acme.okta.com", "BATON_API_TOKEN": "t0k3n",
                                     "BATON_UPLOAD_URL": "ftp://sentinel-presigned-0703"})
    assert "sentinel-presigned" not in str(info.value)
