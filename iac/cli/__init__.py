"""Command-line interface: ``iac``. Parses arguments, calls the library, formats output.

Each command family lives in its own module and registers itself on the shared app. ``iac <command>``
imports only the module that registers ``<command>`` (the runtime, the engine and the CDK shims are
heavy); ``iac --help`` and unknown commands load them all.
"""

from __future__ import annotations

import gc
import importlib
import sys
import traceback
from collections.abc import Sequence

import typer

from iac.cli._app import app, print_error
from iac.errors import PluginError

__all__ = ["COMMAND_MODULES", "get_app", "main"]

# Order is the order of `iac --help`.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "_stack": ("catalog", "explain", "validate", "render"),
    "_demo": ("demo",),
    "_deploy": ("preview", "up", "refresh", "destroy", "rbac"),
    "_synth": ("synth",),
    "_terraform": ("terraform",),
    "_connector": ("connector",),
    "_review": ("review",),
    "_sim": ("sim",),
}
_MODULE_OF = {command: module for module, commands in COMMAND_MODULES.items() for command in commands}


def _load(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(f"iac.cli.{module}")


def get_app() -> typer.Typer:
    """The app with every command registered (for tests and documentation)."""
    _load(list(COMMAND_MODULES))
    return app


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((arg for arg in args if not arg.startswith("-")), None)
    module = _MODULE_OF.get(command or "")
    try:
        _load([module] if module else list(COMMAND_MODULES))
        # What is loaded now lives until exit. Frozen, the collector stops re-walking it during the command,
        # and the interpreter's last collection at exit skips it (~60 ms of a 100-connector `iac up`).
        gc.freeze()
        try:
            app(args=args, prog_name="iac")
        finally:
            gc.freeze()
    except PluginError as exc:  # a broken third-party registration: one line, whichever command met it
        print_error(str(exc))
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:  # a bug: still nothing unredacted on the way out
        print_error("".join(traceback.format_exception(exc)).rstrip(), prefix="internal error")
        raise SystemExit(1) from None
