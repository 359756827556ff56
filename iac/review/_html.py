"""The review as one self-contained HTML file: markup from a Jinja template, the stylesheet and script
inline, and the data as one JSON document the script pages through (tables never hold more than a page).

Integer columns travel as base64 of little-endian int32 (``Int32Array`` in the browser): 1M grants are
~5 MB of text and decode in milliseconds. Every ``<`` in the JSON is escaped, so no value can end the
``<script>`` element that carries it, and the script writes values with ``textContent`` only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import sys
import tempfile
from array import array
from collections import Counter
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from iac._version import __version__
from iac.review._model import Review

__all__ = ["render_html", "report_payload", "write_html"]


def _ints(values: Sequence[int] | array[int]) -> str:
    packed = values if isinstance(values, array) and values.typecode == "i" else array("i", values)
    if sys.byteorder != "little":
        packed = array("i", packed)
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _when(epoch: float | None) -> str:
    return "" if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def report_payload(review: Review) -> dict[str, Any]:
    """What the page's script reads (also the figures the header shows)."""
    facts = review.facts
    by_type = Counter(review.res_type)
    grants_by_type: Counter[int] = Counter()
    ent_by_type: Counter[int] = Counter()
    for e, res in enumerate(review.ent_res):
        ent_by_type[review.res_type[res]] += 1
        grants_by_type[review.res_type[res]] += review.ent_direct[e]
    return {
        "meta": {
            "integration": review.integration, "file": Path(review.source).name, "format": review.source_format,
            "sync_id": review.sync.sync_id, "synced_at": _when(review.sync.ended_at),
            "started_at": _when(review.sync.started_at),
            "previous_sync_id": review.previous.sync_id if review.previous else None,
            "previous_synced_at": _when(review.previous.ended_at) if review.previous else None,
            "generated_at": review.generated_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "rules": facts.declared_by or review.integration, "account_type": facts.account_type,
            "version": __version__,
        },
        "types": [list(t) for t in review.types],
        "type_counts": {"resources": [by_type.get(t, 0) for t in range(len(review.types))],
                        "entitlements": [ent_by_type.get(t, 0) for t in range(len(review.types))],
                        "grants": [grants_by_type.get(t, 0) for t in range(len(review.types))]},
        "rules": [[rule.why, rule.critical] for rule in facts.privileged],
        "res": {"t": _ints(review.res_type), "id": review.res_id, "n": review.res_name, "l": review.res_login,
                "s": review.res_status, "x": review.res_inactive},
        "ent": {"id": review.ent_id, "r": _ints(review.ent_res), "slug": review.ent_slug, "n": review.ent_name,
                "rule": _ints(review.ent_rule), "d": _ints(review.ent_direct), "a": _ints(review.ent_accounts)},
        "g": {"o": _ints(review.grant_offsets), "e": _ints(review.grant_ents)},
        "edges": _ints([v for edge in review.edges for v in edge]),
        "acc": {"r": _ints(review.accounts), "d": _ints(review.acc_direct), "f": _ints(review.acc_effective),
                "p": _ints(review.acc_privileged)},
        "priv": _ints([v for row in review.privileged for v in row]),
        "inactive": _ints(review.inactive),
        "changes": [list(c) for c in review.changes] if review.previous else None,
    }


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FunctionLoader(_asset), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _asset(name: str) -> str:
    return files("iac.review").joinpath("assets", name).read_text(encoding="utf-8")


_DATA_SLOT = "\x00review-data\x00"


def _script_json(payload: dict[str, Any]) -> str:
    # ASCII only (a non-ASCII character would make Python hold the whole 20 MB text at 2-4 bytes a character).
    # "<" only occurs inside strings, where \u003c means the same: nothing can close the script element.
    return json.dumps(payload, separators=(",", ":")).replace("<", "\\u003c")


def _page(review: Review, payload: dict[str, Any]) -> tuple[str, str]:
    """The page before and after its data (rendered without it: the data is written on its own)."""
    template = _environment().get_template("report.html.j2")
    page = template.render(meta=payload["meta"], style=Markup(_asset("report.css")),
                           script=Markup(_asset("report.js")), data=Markup(_DATA_SLOT),
                           has_previous=review.previous is not None)
    head, _, tail = page.partition(_DATA_SLOT)
    return head, tail


def render_html(review: Review) -> str:
    payload = report_payload(review)
    head, tail = _page(review, payload)
    return head + _script_json(payload) + tail


def write_html(review: Review, target: Path) -> Path:
    """Write the report atomically (a reader sees the old file or the whole new one)."""
    payload = report_payload(review)
    head, tail = _page(review, payload)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(handle, 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(head)
            out.write(_script_json(payload))
            del payload
            out.write(tail)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
