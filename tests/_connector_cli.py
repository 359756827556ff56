"""Shared by the connector CLI tests: `iac connector ...` in a subprocess, configured like a pod."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from iac.runtime.testing import pod_environment
from iac.spec import Connector

__all__ = ["iac", "pod_env"]


def pod_env(integration: type[Connector], *, simulator: str, artifact: Path, **settings: Any) -> dict[str, str]:
    """This environment without inherited ``BATON_*``, plus what a pod of ``integration`` gets for ``settings``
    (names from its spec), pointed at the simulator and writing ``artifact``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return clean | {"COLUMNS": "200"} | pod_environment(integration, simulator=simulator, file=artifact, **settings)


def iac(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iac", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
