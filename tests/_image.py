"""The runtime image, built once per test session (scripts/build-image.sh, podman, no registry): the image
tests run it with podman, the one-node cluster (tests/_node.py) loads it into containerd."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["BUILD_SECONDS", "build_runtime_image"]

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_SECONDS: list[float] = []


@functools.cache
def build_runtime_image() -> str:
    """Build the image (the first call in a session) and return its reference; RuntimeError on failure."""
    started = time.monotonic()
    # The project's interpreter builds the wheels: the one running the tests (a worktree has no .venv).
    result = subprocess.run([str(REPO_ROOT / "scripts" / "build-image.sh")], capture_output=True, text=True,
                            timeout=900, cwd=REPO_ROOT, env={"PYTHON": sys.executable, **os.environ})
    if result.returncode != 0:
        raise RuntimeError(f"image build failed:\n{result.stderr[-4000:]}")
    BUILD_SECONDS.append(time.monotonic() - started)
    return result.stdout.strip().splitlines()[-1]
