"""The provider plugin executable: ``python -m iac.backends.terraform`` (what ``iac terraform install`` wires up)."""

from __future__ import annotations

import sys

from iac.backends.terraform._server import serve

if __name__ == "__main__":
    sys.exit(serve())
