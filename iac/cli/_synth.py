"""`iac synth`: a stack as Terraform JSON (cdktf or CDK Terrain) for the hashicorp/kubernetes provider (or this
project's iac/baton), plus the ConductorOne provider's resources when the stack uses ConductorOne.managed(...)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from iac.cli._app import app, err, fail, user_errors
from iac.errors import IacError
from iac.spec import load_stack

StackFile = Annotated[Path, typer.Argument(help="Python file defining a module-level `stack`.",
                                           show_default=False)]


@app.command()
def synth(
    stack_file: StackFile,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Synth output directory.")] = Path(
        "cdktf.out"),
    cdk: Annotated[str | None, typer.Option(
        "--cdk", help="cdktn (CDK Terrain, default when installed) or cdktf.", show_default=False)] = None,
    environment: Annotated[str | None, typer.Option(
        "--env", help="Synthesize this environment of the stack.", show_default=False)] = None,
    kubeconfig: Annotated[str | None, typer.Option(
        "--kubeconfig", help="Kubeconfig path for the kubernetes provider (default: the provider's lookup).",
        show_default=False)] = None,
    context: Annotated[str | None, typer.Option(
        "--context", help="Kubeconfig context for the kubernetes provider.", show_default=False)] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="Terraform backend type (s3, gcs, azurerm, http, local, ...); default: local state.",
        show_default=False)] = None,
    backend_config: Annotated[list[str] | None, typer.Option(
        "--backend-config", help="KEY=VALUE for the backend (repeatable); the rest can go to "
        "`terraform init -backend-config`.", show_default=False)] = None,
    write_only: Annotated[bool, typer.Option(
        "--write-only/--no-write-only",
        help="Write Secret values through write-only data_wo (never in state; Terraform >= 1.11). "
        "--no-write-only uses data (kept in state, sensitive) for older Terraform.")] = True,
    provider: Annotated[str, typer.Option(
        "--provider", help="Provider of the output: kubernetes (hashicorp/kubernetes) or baton (this project's "
        "provider iac/baton, one resource per connector; `iac terraform install`).")] = "kubernetes",
    provider_version: Annotated[str | None, typer.Option(
        "--provider-version", help="Version constraint for hashicorp/kubernetes (e.g. '~> 2.36'); default: the "
        "version of the installed bindings (cdktn 3.4.0, cdktf 2.38.0). Write-only needs >= 2.36.0.",
        show_default=False)] = None,
    wait_for_rollout: Annotated[bool, typer.Option(
        "--wait-for-rollout/--no-wait-for-rollout",
        help="Apply waits until each Deployment has rolled out (the provider's wait_for_rollout). Turn off only "
        "where nothing reports Deployment status (a cluster without controller-manager or nodes).")] = True,
    service_accounts: Annotated[str, typer.Option(
        "--service-accounts", help="typed: kubernetes_service_account_v1, which on Kubernetes < 1.24 waits for "
        "the token Secret kube-controller-manager creates; manifest: kubernetes_manifest (server-side apply, "
        "no wait).")] = "typed",
) -> None:
    """Synthesize Terraform JSON for a stack; secret values become sensitive variables, never file contents."""
    from iac.backends.cdk import (
        MIN_PROVIDER_WRITE_ONLY,
        MIN_TERRAFORM_WRITE_ONLY,
        SERVICE_ACCOUNT_RESOURCES,
        Provider,
        SynthSettings,
        check_provider_version,
    )
    from iac.backends.cdk import synth as synthesize

    config: dict[str, str] = {}
    for item in backend_config or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--backend-config takes KEY=VALUE, got {item!r}")
        config[key] = value
    if config and backend is None:
        fail("--backend-config needs --backend TYPE")
    if service_accounts not in SERVICE_ACCOUNT_RESOURCES:
        fail(f"--service-accounts takes {' or '.join(SERVICE_ACCOUNT_RESOURCES)}, got {service_accounts!r}")
    if provider_version is not None:
        try:
            provider_version = check_provider_version(provider_version, write_only=write_only)
        except IacError as exc:
            fail(f"--provider-version: {exc}")
    # -- --provider baton (iac.backends.terraform owns it) --
    if provider not in ("kubernetes", "baton"):
        fail(f"--provider takes kubernetes or baton, got {provider!r}")
    provider_name: Provider = "kubernetes"
    if provider == "baton":
        if not write_only:
            fail("--no-write-only: the baton provider's credentials are always write-only (Terraform >= 1.11)")
        if provider_version is not None or not wait_for_rollout or service_accounts != "typed":
            fail("--provider-version, --no-wait-for-rollout and --service-accounts configure hashicorp/kubernetes, "
                 "not --provider baton")
        from iac.backends.terraform.cdk import synth as synthesize

        provider_name = "baton"
    # -- end --baton --
    with user_errors():
        stack = load_stack(stack_file)
        if environment is not None:
            stack = stack.environment(environment)
        settings = SynthSettings(cdk=cdk, kubeconfig=kubeconfig, context=context, backend=backend,
                                 backend_config=config, write_only=write_only,
                                 stack_id=f"{stack.name}-{environment}" if environment else None,
                                 provider=provider_name, provider_version=provider_version,
                                 wait_for_rollout=wait_for_rollout,
                                 service_accounts="manifest" if service_accounts == "manifest" else "typed")
        result = synthesize(stack, output_dir, settings)
    count = sum(result.resources.values())
    err.print(f"synthesized stack '{stack.name}' with {result.flavor}: {count} resources in {result.config_file}")
    if result.variables:
        err.print("Secret values are sensitive Terraform variables; set them where terraform runs:")
        for variable in result.variables:
            err.print(f"  export {variable.environment}=...   # {variable.ref}, for {', '.join(variable.used_by)}",
                      markup=False)
    terraform = f"Terraform >= {MIN_TERRAFORM_WRITE_ONLY}" if write_only else "any Terraform >= 1.5"
    if provider == "baton":
        err.print("the baton provider must be installed for Terraform: `iac terraform install --help`", markup=False)
    else:
        terraform += (", hashicorp/kubernetes >= " + ".".join(map(str, MIN_PROVIDER_WRITE_ONLY)) if write_only
                      else ", hashicorp/kubernetes >= 2.9.0")
        if not write_only and "kubernetes_secret_v1" in result.resources:
            err.print("Secret values will be kept in the Terraform state (marked sensitive): use an encrypted "
                      "backend; hashicorp/kubernetes also logs new Secrets' values when TF_LOG is DEBUG or TRACE, "
                      "so keep TF_LOG off where logs are kept", markup=False)
    if any(kind.startswith("conductorone_") for kind in result.resources):
        err.print("the ConductorOne provider (conductorone/conductorone) authenticates with CONDUCTORONE_CLIENT_ID and "
                  "CONDUCTORONE_CLIENT_SECRET (a ConductorOne API key) where terraform runs; its resources keep "
                  "integration secrets and generated client secrets in state (sensitive): use an encrypted backend",
                  markup=False)
    err.print(f"then: cd {shlex.quote(str(result.stack_dir))} && terraform init && terraform apply   ({terraform})",
              markup=False)
