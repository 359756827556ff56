"""The runtime reads its configuration back through the integration spec that rendered it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import EXAMPLE_ENV, REPO_ROOT

from iac import load_stack
from iac.demo import container_environment
from iac.render import render_stack
from iac.runtime import load_settings
from iac.runtime.errors import ConnectorConfigError
from iac.runtime.testing import pod_environment
from iac.spec import Celigo, Concur, Connector, Coupa, Okta


@pytest.mark.parametrize("name", ["okta", "coupa", "concur"])
def test_rendered_environment_loads_back_into_the_same_settings(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    # ConductorOne credentials of the example are sentinels, not real ones: leave them out here.
    stack = load_stack(REPO_ROOT / "stacks" / "example.py")
    environ = container_environment(render_stack(stack), name)
    environ = {k: v for k, v in environ.items() if not k.startswith("BATON_CLIENT_")}
    declared = stack.connector(name)
    integration = type(declared)
    settings = load_settings(integration, environ=environ)
    loaded = settings.config_as(integration)
    for spec in integration.connector_settings():
        want, got = getattr(declared, spec.name), getattr(loaded, spec.name)
        if spec.secret:
            assert settings.secret(got) == EXAMPLE_ENV[want.var], spec.name
        elif spec.name == "host_id":
            assert got == declared.deployment_name
        else:
            assert got == want, spec.name
    assert str(settings.file) == "/data/sync.c1z"
    assert settings.health_check_bind_address == "0.0.0.0"
    assert settings.log_format == "json"


def test_every_bundled_connector_is_configured_by_its_spec() -> None:
    from iac.connectors import registered

    bundled = {cls.integration.name: cls for cls in (Okta, Coupa, Concur, Celigo)}
    entries = registered()
    assert list(entries) == list(bundled)
    for name, entry in entries.items():
        assert entry.integration is bundled[name]
        assert issubclass(entry.integration, Connector)


def test_env_errors_name_the_variable_and_not_the_value() -> None:
    with pytest.raises(ConnectorConfigError, match=r"^BATON_SYNC_CUSTOM_ROLES: expected true or false$"):
        load_settings(Okta, environ={"BATON_DOMAIN": "acme.okta.com", "BATON_API_TOKEN": "t",
                                     "BATON_SYNC_CUSTOM_ROLES": "maybe"})
    with pytest.raises(ConnectorConfigError, match="BATON_API_TOKEN: is required"):
        load_settings(Okta, environ={"BATON_DOMAIN": "acme.okta.com"})
    with pytest.raises(ConnectorConfigError, match=r"BATON_DOMAIN: .*admin console") as info:
        load_settings(Okta, environ={"BATON_DOMAIN": "acme-admin.okta.com", "BATON_API_TOKEN": "sentinel-t"})
    assert "sentinel" not in str(info.value)
    settings = load_settings(Okta, environ={"BATON_DOMAIN": "acme.okta.com", "BATON_API_TOKEN": "t",
                                            "BATON_LOG_LEVEL": "warn"})
    assert settings.log_level == "warn"


def test_secret_settings_have_no_command_line_flags() -> None:
    result = subprocess.run([sys.executable, "-m", "iac", "connector", "okta", "sync", "--help"],
                            capture_output=True, text=True, env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"},
                            check=True)
    assert "--domain" in result.stdout and "--sync-custom-roles" in result.stdout
    for flag in ("--api-token", "--client-secret", "--upload-token"):
        assert flag not in result.stdout


def test_pod_environment_reads_back_as_the_same_settings() -> None:
    """The test kit's pod environment uses the spec's names: load_settings reads every value back."""
    env = pod_environment(Coupa, simulator="http://127.0.0.1:9", domain="acme.coupahost.com", client_id="id",
                          client_secret="s3cret", provisioning=True, workers=3, file="/tmp/sync.sqlite")
    assert env["BATON_COUPA_DOMAIN"] == "acme.coupahost.com" and env["BATON_PROVISIONING"] == "true"
    settings = load_settings(Coupa, environ=env)
    config = settings.config_as(Coupa)
    assert (config.domain, config.client_id, config.provisioning, config.base_url_override) == (
        "acme.coupahost.com", "id", True, "http://127.0.0.1:9")
    assert (settings.workers, str(settings.file)) == (3, "/tmp/sync.sqlite")
    with pytest.raises(ValueError, match="Coupa has no setting domian"):
        pod_environment(Coupa, domian="x")


def test_the_variables_the_renderer_sets_are_runtime_knobs() -> None:
    from iac.runtime import RuntimeSettings
    from iac.spec import baton_env

    knobs = {baton_env.env_name(name) for name in RuntimeSettings.model_fields}
    # CONNECTOR and MODE (service or sync) are read by the image's entrypoint.
    assert set(baton_env.RENDERER_SET) - knobs == {baton_env.CONNECTOR, baton_env.MODE}
