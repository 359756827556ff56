"""``iac review``: an access-review report of a sync file, for people to read in a browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from iac.cli._app import app, err, out, user_errors


@app.command()
def review(
    file: Annotated[Path, typer.Argument(
        help="A sync artifact (iac connector … sync --file) or any baton connector's c1z v1.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML report to write (one self-contained file).",
                                         show_default=False)],
    previous: Annotated[Path | None, typer.Option(
        help="An earlier sync file to compare with (default: the previous sync FILE holds, if any).")] = None,
    csv_dir: Annotated[Path | None, typer.Option(
        "--csv", help="Also write the findings as CSV evidence files into this directory.")] = None,
    integration: Annotated[str | None, typer.Option(
        help="Whose privileged/inactive rules to apply (default: the connector the file names).")] = None,
) -> None:
    """Write an access-review report: privileged access, access that should be gone, what changed, and every
    account's effective access with its path. Reviewers' decisions are not recorded in it."""
    from iac.review import review_file

    with user_errors():
        result = review_file(file, output, previous=previous, csv_dir=csv_dir, integration=integration)
    rv = result.review
    err.print(f"{rv.integration}: {len(rv.accounts):,} accounts, {rv.grant_count:,} grants; "
              f"{len(rv.privileged):,} privileged holdings, {len(rv.inactive):,} inactive accounts with access"
              + (f", {len(rv.changes):,} changes" if rv.previous else ", no previous sync to compare with"))
    for path in result.csv:
        err.print(f"evidence: {path}")
    out.print(str(result.html))
