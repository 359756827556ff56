"""Regenerate the integration table in README.md from the integration specs (`make docs`)."""

from __future__ import annotations

import sys
from pathlib import Path

from iac.docs import README_BEGIN, README_END, catalog_markdown

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text()
try:
    start = text.index(README_BEGIN)
    end = text.index(README_END) + len(README_END) + 1
except ValueError:
    sys.exit("README.md has no integration table markers")
readme.write_text(text[:start] + catalog_markdown() + text[end:])
print("README.md integration table regenerated", file=sys.stderr)
