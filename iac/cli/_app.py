"""The Typer application and the error boundary shared by every command module."""

from __future__ import annotations

import enum
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from iac._redact import redact
from iac.errors import IacError

app = typer.Typer(
    name="iac",
    help="Declare, render, deploy and run baton identity connectors on your own Kubernetes clusters.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# stdout carries results (manifests, JSON); everything for humans goes to stderr.
def _width(stream: object) -> int | None:
    # Pipes and CI logs have no terminal width; rich would assume 80 and wrap every table.
    isatty = getattr(stream, "isatty", None)
    return None if (isatty and isatty()) or os.environ.get("COLUMNS") else 160


out = Console(highlight=False, soft_wrap=True, width=_width(sys.stdout))
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_width(sys.stderr))


class OutputFormat(enum.StrEnum):
    """Every format an ``--output`` option may offer; each command offers its own subset (:func:`output_option`)."""

    text = "text"
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


def output_option(*offered: OutputFormat, help: str = "Output format.") -> Any:
    """``--output/-o`` offering only ``offered`` (shown in ``--help``; anything else is refused, exit code 2)."""

    def only_offered(value: OutputFormat | None) -> OutputFormat | None:
        if value is not None and value not in offered:
            raise typer.BadParameter(f"{value.value!r} is not one of {', '.join(repr(f.value) for f in offered)}.")
        return value

    return typer.Option("--output", "-o", help=help, metavar="[" + "|".join(offered) + "]", callback=only_offered)


def print_error(message: str, *, prefix: str = "error") -> None:
    """The one printer of every error and warning line: registered secrets are masked and the text is never
    read as Rich markup (a message may quote ``[...]`` from a vendor or a file)."""
    text = redact(message)
    if err.is_terminal:
        err.print(Text.assemble((f"{prefix}:", "bold red" if prefix == "error" else "yellow"), " ", text),
                  highlight=False)
    else:
        print(f"{prefix}: {text}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 2) -> NoReturn:
    print_error(message)
    raise typer.Exit(code)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn library errors into one line on stderr and exit code 2; show warnings as one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except IacError as exc:
            _print_warnings(caught)
            fail(str(exc), exc.exit_code)
        _print_warnings(caught)


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    seen: set[str] = set()
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.add(text)
            print_error(text, prefix="warning")


def _show_version(value: bool) -> None:
    if value:
        from iac._version import __version__

        print(f"iac {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_show_version,
                                 is_eager=True),
) -> None:
    """Declare, render, deploy and run baton identity connectors on your own Kubernetes clusters."""
