"""File-system helpers shared by everything that writes a tree of files all at once."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

__all__ = ["swap_into_place"]


def swap_into_place(staging: Path, target: Path) -> None:
    """Replace directory ``target`` with the fully written ``staging`` (a sibling), or leave it as it was.

    The old tree is moved aside first and put back if the final rename fails, so a reader sees either the
    whole old tree or the whole new one."""
    if not target.exists():
        staging.rename(target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    retired.rmdir()
    target.rename(retired)
    try:
        staging.rename(target)
    except OSError:
        retired.rename(target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
