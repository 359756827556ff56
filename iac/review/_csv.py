"""The review's findings as CSV evidence files, written next to each other all at once."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from iac._files import swap_into_place
from iac.review._model import Review

__all__ = ["CSV_FILES", "write_csv"]

CSV_FILES = ("privileged.csv", "inactive.csv", "changes.csv", "accounts.csv", "entitlements.csv")

_FORMULA = frozenset("=+-@\t\r")
"""Spreadsheets run a cell that starts like a formula: evidence must not, so such text gets a quote."""


def _safe(row: Sequence[Any]) -> list[Any]:
    return ["'" + v if v.__class__ is str and v[:1] in _FORMULA else v for v in row]


def _account(review: Review, r: int) -> list[Any]:
    return [review.types[review.res_type[r]][0], review.res_id[r], review.res_name[r], review.res_login[r],
            review.res_status[r]]


def _tables(review: Review) -> Iterator[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]:
    account = ("account_type", "account_id", "account_name", "login", "status")
    rules = review.facts.privileged
    position = {r: i for i, r in enumerate(review.accounts)}
    holder = ("holder_type", "holder_id", "holder_name", "login", "status")
    yield "privileged.csv", (*holder, "entitlement_id", "entitlement_name", "privilege", "critical", "path"), (
        [*_account(review, r), review.ent_id[e], review.ent_name[e], rules[review.ent_rule[e]].why,
         rules[review.ent_rule[e]].critical, review.via_label(via)] for r, e, via in review.privileged)
    yield "inactive.csv", (*account, "reason", "direct_grants", "effective_entitlements"), (
        [*_account(review, r), review.res_inactive[r], review.acc_direct[position[r]],
         review.acc_effective[position[r]]] for r in review.inactive)
    yield "changes.csv", ("change", "kind", "subject", "detail"), review.changes
    yield "accounts.csv", (*account, "inactive_reason", "direct_grants", "effective_entitlements",
                           "privileged_entitlements"), (
        [*_account(review, r), review.res_inactive[r], review.acc_direct[i], review.acc_effective[i],
         review.acc_privileged[i]] for i, r in enumerate(review.accounts))
    yield "entitlements.csv", ("entitlement_id", "entitlement_name", "resource_type", "resource_id",
                               "resource_name", "slug", "privilege", "direct_grants", "accounts_with_access"), (
        [review.ent_id[e], review.ent_name[e], review.types[review.res_type[review.ent_res[e]]][0],
         review.res_id[review.ent_res[e]], review.res_name[review.ent_res[e]], review.ent_slug[e],
         rules[review.ent_rule[e]].why if review.ent_rule[e] >= 0 else "", review.ent_direct[e],
         review.ent_accounts[e]] for e in range(len(review.ent_id)))


def write_csv(review: Review, directory: Path) -> list[Path]:
    """Write :data:`CSV_FILES` into ``directory``: into a staging sibling first, then swapped into place,
    so the directory holds the whole old set or the whole new one."""
    directory = directory.resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for name, header, rows in _tables(review):
            with (staging / name).open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(header)
                writer.writerows(map(_safe, rows))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(staging, 0o777 & ~mask)  # mkdtemp made it 0700
        swap_into_place(staging, directory)
    except BaseException:
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [directory / name for name in CSV_FILES]
