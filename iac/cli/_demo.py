"""`iac demo`: the embedded default — the example stack rendered, then each connector synced once
against its API simulator, through the environment the manifests give its container."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from iac.cli._app import app, err, out, user_errors
from iac.spec import load_stack

EXAMPLE_STACK = Path(__file__).resolve().parent.parent.parent / "stacks" / "example.py"


@app.command()
def demo(
    stack_file: Annotated[Path, typer.Option("--stack", help="Stack to demonstrate.")] = EXAMPLE_STACK,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where manifests and artifacts go.")] = Path(
        "demo-out"),
    users: Annotated[int, typer.Option(min=10, max=100_000, help="Users per simulated org.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the simulated orgs.")] = 1,
    cluster: Annotated[bool, typer.Option(
        "--cluster", help="Also preview and deploy the stack (iac up) to the cluster of --kubeconfig/--context.")
    ] = False,
    kubeconfig: Annotated[Path | None, typer.Option(help="Kubeconfig for --cluster (default: $KUBECONFIG, "
                                                         "~/.kube/config).")] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context for --cluster.")] = None,
) -> None:
    """Render the example stack, run each connector once against its API simulator, and summarise."""
    from iac.demo import run_demo

    started = time.perf_counter()
    with user_errors():
        stack = load_stack(stack_file)
        if output_dir.exists() and (output_dir / "artifacts").is_dir():
            shutil.rmtree(output_dir / "artifacts")  # a fresh sync each run, not a resume
        results, manifests = run_demo(stack, output_dir, users=users, seed=seed,
                                      progress=lambda message: err.print(f"[dim]{message}[/]"))
    table = Table(title=f"stack '{stack.name}': one sync per connector against its simulator ({users} users)")
    for column in ("connector", "status", "resources", "entitlements", "grants", "requests", "time"):
        table.add_column(column, justify="right" if column not in ("connector", "status") else "left")
    for row in results:
        table.add_row(row.connector, row.status, str(row.resources), str(row.entitlements), str(row.grants),
                      str(row.requests), f"{row.seconds:.1f} s")
    out.print(table)
    err.print(f"manifests: {manifests}/   artifacts: {output_dir / 'artifacts'}/   "
              f"({time.perf_counter() - started:.1f} s in all)")
    err.print(f"next: `iac connector inspect {output_dir / 'artifacts' / 'okta.c1z'} stats`, "
              "`iac explain okta`, `make test`")
    if cluster:
        from iac.demo import deploy_demo

        with user_errors():
            before, applied, after = deploy_demo(stack, output_dir, kubeconfig=kubeconfig, context=context,
                                                 users=users, seed=seed)
        out.print(f"preview: {before}")
        out.print(f"up:      {applied}")
        out.print(f"preview: {after}  (converged: a second up would write nothing)")
    from iac.demo import review_demo

    with user_errors():
        reports = review_demo(results, output_dir)
    if reports:
        err.print("access reviews (open in a browser; `iac review FILE -o report.html` makes one):")
        for path in reports:
            out.print(str(path.resolve()))
    if any(row.status.startswith("failed") for row in results):
        raise typer.Exit(1)
