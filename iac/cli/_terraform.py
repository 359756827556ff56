"""`iac terraform ...`: make the Terraform provider iac/baton available to Terraform, and describe it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer

from iac.cli._app import OutputFormat, app, err, out, output_option, user_errors

terraform_app = typer.Typer(name="terraform", no_args_is_help=True, add_completion=False,
                            help="The Terraform provider iac/baton: install it for Terraform, list its resources.")
app.add_typer(terraform_app, name="terraform")


@terraform_app.command()
def install(
    cli_config: Annotated[Path | None, typer.Option(
        "--cli-config", help="Write a Terraform CLI configuration here (then export TF_CLI_CONFIG_FILE=PATH): "
        "dev_overrides of a plugin directory, or the mirror when --mirror is given.", show_default=False)] = None,
    mirror: Annotated[Path | None, typer.Option(
        "--mirror", help="Write a filesystem mirror here, for `terraform init` and a lock file.",
        show_default=False)] = None,
    plugin_dir: Annotated[Path | None, typer.Option(
        "--plugin-dir", help="Plugin directory for dev_overrides (default: baton-provider/ next to --cli-config).",
        show_default=False)] = None,
    python: Annotated[str | None, typer.Option(
        "--python", help="Interpreter the plugin runs (default: this one). `python3` (looked up on PATH when "
        "Terraform starts the plugin) makes the package, and its lock-file hash, the same on every machine.",
        show_default=False)] = None,
    hostname: Annotated[str | None, typer.Option(
        "--hostname", help="Registry host name for the mirror layout (default: asked from --terraform).",
        show_default=False)] = None,
    terraform: Annotated[str, typer.Option(
        "--terraform", help="Terraform command that will read the mirror (asked for its registry host name).")
    ] = "terraform",
    offline: Annotated[bool, typer.Option(
        "--offline", help="No `direct` installation block: Terraform installs no other provider from a registry.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace a --cli-config file this command did not write.")
                     ] = False,
) -> None:
    """Make the provider available to Terraform: a CLI config with dev_overrides, and/or a filesystem mirror."""
    from iac.backends.terraform import PROVIDER_SOURCE, cli_config_text
    from iac.backends.terraform import install as install_provider

    with user_errors():
        result = install_provider(cli_config=cli_config, mirror=mirror, plugin_dir=plugin_dir, python=python,
                                  hostname=hostname, terraform=shlex.split(terraform) if mirror else None,
                                  offline=offline, force=force)
    if result.plugin_dir is not None:
        err.print(f"plugin: {result.plugin_dir}", markup=False)
    for package in result.packages:
        err.print(f"mirror package: {package}", markup=False)
    if result.cli_config is not None:
        err.print(f"CLI configuration: {result.cli_config}", markup=False)
        out.print(f"export TF_CLI_CONFIG_FILE={shlex.quote(str(result.cli_config))}", markup=False)
    else:
        err.print("add this to your Terraform CLI configuration:", markup=False)
        out.print(cli_config_text(mirror=result.mirror, offline=offline), markup=False, end="")
    if result.mirror is not None:
        err.print(f"then `terraform init` installs {PROVIDER_SOURCE} {result.version} from the mirror and records its "
                  "hash in .terraform.lock.hcl; for more platforms: terraform providers lock "
                  f"-fs-mirror={shlex.quote(str(result.mirror))} -platform=linux_amd64 -platform=darwin_arm64 "
                  f"{PROVIDER_SOURCE}", markup=False)
    else:
        err.print(f"no `terraform init` needed for {PROVIDER_SOURCE} (development override)", markup=False)


@terraform_app.command()
def resources(
    output: Annotated[OutputFormat, output_option(OutputFormat.text, OutputFormat.json)] = OutputFormat.text,
) -> None:
    """List the provider's resource types and their arguments (derived from the integration specs)."""
    from iac.backends.terraform import COMPUTED_ATTRIBUTES, all_schemas

    schemas = all_schemas()
    if output is OutputFormat.json:
        out.print_json(json.dumps({
            name: {"arguments": [{"name": a.name, "type": a.kind, "required": a.required, "write_only": a.secret,
                                  "default": a.default, "description": a.description} for a in schema.inputs],
                   "computed": sorted(COMPUTED_ATTRIBUTES)}
            for name, schema in schemas.items()}))
        return
    for name, schema in schemas.items():
        out.print(f"{name}  ({schema.integration.integration.title})", markup=False)
        for a in schema.inputs:
            flags = ", ".join(f for f in ("required" if a.required else "", "write-only" if a.secret else "") if f)
            out.print(f"  {a.name:<28} {a.kind:<12} {flags}", markup=False)
        out.print(f"  computed: {', '.join(COMPUTED_ATTRIBUTES)}", markup=False)
