"""catalog, explain and the README table derive from the specs."""

from __future__ import annotations

import json

from conftest import REPO_ROOT, RunIac

from iac.docs import README_BEGIN, README_END, catalog_markdown
from iac.plugins import integration_classes


def test_catalog_json_lists_every_integration_with_its_env(run_iac: RunIac) -> None:
    result = run_iac("catalog", "--output", "json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert list(rows) == ["okta", "coupa", "concur", "celigo", "custom"]
    assert rows["okta"]["env"] == ["BATON_DOMAIN", "BATON_API_TOKEN", "BATON_SYNC_CUSTOM_ROLES",
                                   "BATON_SKIP_SECONDARY_EMAILS", "BATON_SYNC_INACTIVE_APPS",
                                   "BATON_SKIP_APP_GROUPS", "BATON_FILTER_EMAIL_DOMAINS"]
    assert rows["coupa"]["secret_env"] == ["BATON_COUPA_CLIENT_SECRET"]
    assert rows["concur"]["secret_env"] == ["BATON_CONCUR_CLIENT_SECRET", "BATON_CONCUR_REFRESH_TOKEN"]
    assert rows["celigo"]["env"] == ["BATON_CELIGO_ACCESS_TOKEN", "BATON_REGION"]
    assert rows["custom"]["bundled_runtime"] is False


def test_catalog_table_mentions_each_integration(run_iac: RunIac) -> None:
    result = run_iac("catalog")
    assert result.returncode == 0
    for name in integration_classes():
        assert name in result.stdout


def test_explain_json_has_env_names_scopes_and_setup(run_iac: RunIac) -> None:
    result = run_iac("explain", "coupa", "--output", "json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    settings = {s["name"]: s for s in info["settings"]}
    assert settings["client_secret"]["secret"] is True and settings["client_secret"]["env"] == "BATON_COUPA_CLIENT_SECRET"
    assert settings["domain"]["c1_attribute"] == "coupa_domain"
    assert settings["conductorone.client_secret"]["env"] == "BATON_CLIENT_SECRET"
    assert "core.user.read" in info["read_scopes"] and "core.user.write" in info["write_scopes"]
    assert any("Client credentials" in line for line in info["upstream_setup"])


def test_explain_text_names_common_and_specific_settings(run_iac: RunIac) -> None:
    result = run_iac("explain", "okta")
    assert result.returncode == 0
    for text in ("BATON_DOMAIN", "BATON_API_TOKEN", "secret reference", "BATON_PROVISIONING",
                 "Super Administrator", "member → user"):
        assert text in result.stdout, text


def test_settings_map_to_runtime_flags() -> None:
    okta = {s.name: s for s in integration_classes()["okta"].settings()}
    assert okta["sync_custom_roles"].cli_flag == "--sync-custom-roles"
    assert okta["api_token"].secret and not okta["domain"].secret
    assert okta["sync_inactive_apps"].default is True


def test_readme_integration_table_is_generated_from_the_specs() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index(README_BEGIN)
    end = readme.index(README_END) + len(README_END) + 1
    assert readme[start:end] == catalog_markdown(), "run `make docs` to regenerate the README table"


def test_lazy_command_map_matches_what_the_modules_register() -> None:
    from iac.cli import COMMAND_MODULES, get_app

    app = get_app()
    registered = {c.name or c.callback.__name__ for c in app.registered_commands}  # type: ignore[union-attr]
    registered |= {g.name for g in app.registered_groups if g.name}
    mapped = {c for commands in COMMAND_MODULES.values() for c in commands}
    assert registered == mapped


def test_a_command_imports_only_its_own_module() -> None:
    import subprocess
    import sys

    code = ("import sys; from iac.cli import main\n"
            "try:\n    main(['catalog', '-o', 'json'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('iac.cli.')), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stderr.strip().splitlines()[-1] == "['iac.cli._app', 'iac.cli._stack']"


def test_version(run_iac: RunIac) -> None:
    from iac import __version__

    result = run_iac("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"iac {__version__}"
