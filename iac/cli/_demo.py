"""`iac demo`: the embedded default — the example stack rendered with demo credentials."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from iac.cli._app import app, err, out, user_errors
from iac.render import render_manifests, schema_versions, validate_objects, write_tree
from iac.spec import load_stack

EXAMPLE_STACK = Path(__file__).resolve().parent.parent.parent / "stacks" / "example.py"

# Obviously fake values for every secret.env() of the example stack; they only ever reach demo files.
DEMO_CREDENTIALS = {
    "C1_CLIENT_ID": "demo-connector@demo.conductor.one/demo",
    "C1_CLIENT_SECRET": "demo-c1-client-secret",
    "OKTA_API_TOKEN": "demo-okta-api-token",
    "COUPA_CLIENT_SECRET": "demo-coupa-client-secret",
    "CONCUR_CLIENT_SECRET": "demo-concur-client-secret",
    "CONCUR_REFRESH_TOKEN": "demo-concur-refresh-token",
}


@app.command()
def demo(
    stack_file: Annotated[Path, typer.Option("--stack", help="Stack to demonstrate.")] = EXAMPLE_STACK,
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where the manifests go.")] = Path(
        "demo-out/manifests"),
) -> None:
    """Render the example stack with demo credentials, validate it, and summarise what was produced."""
    with user_errors():
        started = time.perf_counter()
        stack = load_stack(stack_file)
        manifests = render_manifests(stack, environ=DEMO_CREDENTIALS)
        validate_objects([m.obj for m in manifests])
        files = write_tree(manifests, output_dir)
        elapsed = time.perf_counter() - started

    table = Table(title=f"stack '{stack.name}' → namespace {stack.namespace}")
    for column in ("connector", "integration", "objects", "secret keys (values hidden)", "image"):
        table.add_column(column)
    for connector in stack.connectors:
        mine = [m.obj for m in manifests
                if m.obj["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == connector.name]
        keys = sorted(k for o in mine if o["kind"] == "Secret" for k in o.get("data", {}))
        image = next(o for o in mine if o["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
        table.add_row(connector.name, connector.integration.name, " ".join(o["kind"] for o in mine),
                      ", ".join(keys) or "(references only)", image)
    out.print(table)
    err.print(f"{len(files)} manifests in {output_dir}/, valid for Kubernetes {' and '.join(schema_versions())}, "
              f"in {elapsed:.2f} s")
    err.print("next: `iac explain okta`, `iac render stacks/example.py`, `make test`")
