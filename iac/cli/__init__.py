"""Command-line interface: ``iac``. Parses arguments, calls the library, formats output.

Each command family lives in its own module and registers itself on the shared app.
"""

from __future__ import annotations

from iac.cli import _connector, _demo, _deploy, _sim, _stack  # noqa: F401  (registration side effects)
from iac.cli._app import app

__all__ = ["app", "main"]


def main() -> None:
    app()
