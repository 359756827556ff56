"""Finding and loading the Jinja templates: inside the wheel (``iac/templates``) or, in a source
checkout, the top-level ``templates/`` directory."""

from __future__ import annotations

import json
import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import jinja2

__all__ = ["environment", "templates_dir"]


def templates_dir() -> Path:
    packaged = Path(__file__).resolve().parent.parent / "templates"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent.parent / "templates"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"iac templates not found in {packaged} or {checkout}")


# Strings YAML reads back as the same string when written bare: a letter first, no YAML indicators.
_BARE = re.compile(r"^[A-Za-z][A-Za-z0-9._/-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "nan", "inf"}


@lru_cache(maxsize=4096)
def _quote_str(value: str) -> str:
    if _BARE.match(value) and value.lower() not in _YAML_WORDS:
        return value
    return json.dumps(value, ensure_ascii=False)


def _quote(value: Any) -> str:
    # JSON strings are valid YAML scalars, so any value is safe whatever characters it holds.
    if isinstance(value, str):
        return _quote_str(value)
    return json.dumps(value, ensure_ascii=False)


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = _quote
    return env
