"""Stack commands: catalog, explain, validate, render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from iac.cli._app import OutputFormat, app, err, fail, out, output_option, user_errors
from iac.docs import catalog_markdown, catalog_rows, explain_integration
from iac.plugins import get_plugin, plugins
from iac.render import manifests_to_yaml, render_manifests, render_stack, schema_versions, validate_objects, write_tree
from iac.spec import ManagedConductorOne, Stack, conductorone_apps, load_stack

StackFile = Annotated[Path, typer.Argument(help="Python file defining a module-level `stack`.",
                                           show_default=False)]


@app.command()
def catalog(
    output: Annotated[OutputFormat, output_option(OutputFormat.table, OutputFormat.json, OutputFormat.markdown)
    ] = OutputFormat.table,
) -> None:
    """List the integrations: what each syncs, can provision, and which settings it needs."""
    rows = catalog_rows()
    if output is OutputFormat.json:
        out.print_json(json.dumps(rows))
        return
    if output is OutputFormat.markdown:
        print(catalog_markdown(), end="")
        return
    table = Table(title="Integrations", show_lines=False)
    for column in ("integration", "title", "hosting", "syncs", "provisioning", "required settings"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["title"], ", ".join(row["hosting"]), ", ".join(row["resource_types"]),
                      "yes" if row["provisioning"] else "no", ", ".join(row["required"]))
    out.print(table)


@app.command()
def explain(
    integration: Annotated[str, typer.Argument(
        help=f"One of: {', '.join(plugins())}.", show_default=False)],
    output: Annotated[OutputFormat, output_option(OutputFormat.text, OutputFormat.json)] = OutputFormat.text,
) -> None:
    """Show an integration's settings, env names, what it syncs and what to create upstream."""
    with user_errors():
        cls = get_plugin(integration).spec_class()
    info = explain_integration(cls)
    if output is OutputFormat.json:
        out.print_json(json.dumps(info))
        return
    _print_explanation(info)


def _print_explanation(info: dict[str, Any]) -> None:
    out.print(f"[bold]{info['title']}[/] ({info['name']}): {info['summary']}")
    out.print("[bold]Settings[/] (Python name, container env, type, default)")
    for s in info["settings"]:
        kind = "secret reference" if s["secret"] else s["kind"]
        if s["choices"]:
            kind += " " + "|".join(s["choices"])
        out.print(f"  [cyan]{s['name']}[/]  {s['env']}  {kind}, {s['default']}")
        out.print(f"      {escape(s['help'])}")
        if info["c1_resource"] and s["c1_attribute"]:
            key = f" (sent to ConductorOne's API as {s['c1_key']})" if s["c1_key"] else ""
            out.print(f"      ConductorOne attribute: {s['c1_attribute']}{key}", markup=False)
    if info["syncs"]:
        out.print("[bold]Syncs[/]")
        for rt in info["syncs"]:
            ents = "; ".join(f"{e['slug']} → {', '.join(e['grantable_to'])}" for e in rt["entitlements"])
            extra = f" [{ents}]" if ents else ""
            extra += f" (opt-in: {rt['opt_in']})" if rt["opt_in"] else ""
            out.print(f"  {rt['id']}: {escape(rt['description'] + extra)}")
    out.print("[bold]Provisioning[/] (provisioning=True)")
    for line in info["provisioning"]:
        out.print(f"  - {escape(line)}")
    out.print("[bold]Set up upstream[/]")
    for line in info["upstream_setup"]:
        out.print(f"  - {escape(line)}")
    for label, key in (("Read scopes", "read_scopes"), ("Write scopes (provisioning)", "write_scopes")):
        if info[key]:
            out.print(f"[bold]{label}[/]: {' '.join(info[key])}")
    if info["docs_url"]:
        out.print(f"[bold]Docs[/]: {info['docs_url']}")
    out.print("[bold]Hosting[/] (hosting=...)")
    if "cloud" in info["hosting"]:
        out.print("  self (default): rendered into your cluster; cloud: ConductorOne runs it as "
                  f"{info['c1_resource']} (catalog ID {info['c1_catalog_id']})", markup=False)
        if info["self_hosted_only"]:
            out.print(f"  self-hosted only (no ConductorOne attribute): {', '.join(info['self_hosted_only'])}",
                      markup=False)
    else:
        out.print("  self only: ConductorOne does not host this integration", markup=False)
    out.print(f"  {escape(info['conductorone'])}")


@app.command()
def validate(
    stack_file: StackFile,
    no_secrets: Annotated[bool, typer.Option(
        "--no-secrets", help="Do not read secret.env/secret.file values (check everything else).")] = False,
) -> None:
    """Check a stack: settings, secret references, and every rendered object against the Kubernetes schemas."""
    with user_errors():
        stack = load_stack(stack_file)
        if isinstance(stack.conductorone, ManagedConductorOne):
            conductorone_apps(stack)  # display names of unknown connectors
        # With ConductorOne.managed(...), Terraform creates the ConductorOne credentials: placeholders here.
        objects = render_stack(stack, redact_secrets=no_secrets, placeholder_credentials=True)
        validate_objects(objects)
    versions = " and ".join(schema_versions())
    err.print(f"stack '{stack.name}': {len(stack.connectors)} connectors, {len(objects)} objects, "
              f"valid for Kubernetes {versions}{_cloud_note(stack)}", markup=False)


def _cloud_note(stack: Stack) -> str:
    """The summary's note on connectors that have no Kubernetes objects."""
    if not stack.cloud_hosted:
        return ""
    names = ", ".join(c.name for c in stack.cloud_hosted)
    return f"; cloud-hosted in ConductorOne, so no Kubernetes objects: {names}"


@app.command()
def render(
    stack_file: StackFile,
    output_dir: Annotated[Path | None, typer.Option(
        "--output-dir", "-o", help="Write one file per object here (replaced as a whole) instead of stdout.",
        show_default=False)] = None,
    check: Annotated[bool, typer.Option(
        "--validate/--no-validate", help="Validate every object against the Kubernetes schemas first.")] = True,
    environment: Annotated[str | None, typer.Option(
        "--env", help="Render this environment of the stack (Stack(environments=...)).", show_default=False)] = None,
    gitops_dir: Annotated[Path | None, typer.Option(
        "--gitops", help="Write a Kustomize tree for Argo CD / Flux here (base and one overlay per environment).",
        show_default=False)] = None,
    allow_plaintext_secrets: Annotated[bool, typer.Option(
        "--allow-plaintext-secrets",
        help="With --gitops: write secret.env/file/literal values into the tree (warns).")] = False,
) -> None:
    """Render a stack's Kubernetes objects (YAML) to stdout, to a directory, or as a GitOps tree."""
    if gitops_dir is not None and (output_dir is not None or environment is not None):
        fail("--gitops writes the base and every environment; it cannot be combined with -o or --env")
    if allow_plaintext_secrets and gitops_dir is None:
        fail("--allow-plaintext-secrets only applies to --gitops")
    with user_errors():
        stack = load_stack(stack_file)
        if gitops_dir is not None:
            _render_gitops(stack, stack_file, gitops_dir, check=check, allow_plaintext=allow_plaintext_secrets)
            return
        if environment is not None:
            stack = stack.environment(environment)
        manifests = render_manifests(stack)
        if check:
            validate_objects([m.obj for m in manifests])
        if output_dir is None:
            print(manifests_to_yaml(manifests), end="")
            if stack.cloud_hosted:
                err.print(f"note: {_cloud_note(stack).removeprefix('; ')}", markup=False)
        else:
            files = write_tree(manifests, output_dir)
            err.print(f"wrote {len(files)} files for {len(stack.self_hosted)} connectors to {output_dir}"
                      f"{_cloud_note(stack)}", markup=False)


def _render_gitops(stack: Stack, stack_file: Path, directory: Path, *, check: bool, allow_plaintext: bool) -> None:
    from iac.backends.gitops import write_gitops_tree

    if check:
        for variant in [stack, *(stack.environment(name) for name in stack.environments)]:
            validate_objects(render_stack(variant, redact_secrets=True))
    tree = write_gitops_tree(stack, directory, allow_plaintext_secrets=allow_plaintext, stack_file=str(stack_file))
    roots = ", ".join(f"{directory / path if path != '.' else directory} ({name})" for name, path in tree.roots.items())
    err.print(f"wrote a Kustomize tree of {len(tree.files)} files to {directory}; point Argo CD or Flux at: {roots}")
