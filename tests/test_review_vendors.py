"""Each bundled integration's review declarations, checked on a demo sync against the synced data itself:
what the vendor calls an administrator is privileged, and a deactivated account that still holds grants is
reported. The expectations are written here from the vendors' words, not read from the declarations."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT

from iac import load_stack
from iac.demo import run_demo
from iac.review import facts_for, review_file
from iac.runtime import Artifact, Inactive, Privileged, ReviewFacts, inspect_view


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    results, _ = run_demo(load_stack(REPO_ROOT / "stacks" / "example.py"), tmp_path_factory.mktemp("vendors"), users=120)
    return {row.integration: row.artifact for row in results if row.artifact is not None}


def _content(path: Path) -> tuple[dict[tuple[str, str], dict[str, Any]], list[tuple[str, str, str]]]:
    """Resources by (type, id) and grants as (entitlement id, principal type, principal id), through the
    artifact's public inspect views (whatever the artifact's format)."""
    with Artifact(path) as art:
        resources = {(r["type"], r["id"]): r for r in inspect_view(art, "resources").rows}
        grants = [(g["entitlement_id"], g["principal_type"], g["principal_id"])
                  for g in inspect_view(art, "grants").rows]
    return resources, grants


def _past(value: Any) -> bool:
    return bool(value) and dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) < dt.datetime.now(dt.UTC)


ADMIN_ROLE: dict[str, Callable[[str, dict[str, Any]], bool]] = {
    "coupa": lambda rid, r: re.search(r"admin", r["display_name"], re.I) is not None,
    "concur": lambda rid, r: re.search(r"admin", f"{rid} {r['display_name']}", re.I) is not None,
    "celigo": lambda rid, r: rid in ("administrator", "manage"),
}
DEACTIVATED: dict[str, Callable[[dict[str, Any]], bool]] = {
    "coupa": lambda p: p["active"] is False,
    "concur": lambda p: p["is_active"] is False or _past(p.get("termination_date")),
    "celigo": lambda p: p["disabled"] is True or p["invitation"] == "declined",
}


@pytest.mark.parametrize("integration", ["coupa", "concur", "celigo"])
def test_declared_privileges_and_deactivations_find_what_the_vendor_means(
        integration: str, artifacts: dict[str, Path], tmp_path: Path) -> None:
    review = review_file(artifacts[integration], tmp_path / "r.html").review
    assert review.facts.declared_by == integration
    resources, grants = _content(artifacts[integration])
    admin_roles = {f"role:{rid}:assigned" for (kind, rid), r in resources.items()
                   if kind == "role" and ADMIN_ROLE[integration](rid, r)}
    expected = {(pid, ent) for ent, ptype, pid in grants if ent in admin_roles and ptype == "user"}
    got = {(review.res_id[r], review.ent_id[e]) for r, e, _ in review.privileged}
    assert got == expected and expected
    holders = {pid for _, ptype, pid in grants if ptype == "user"}
    deactivated = {rid for (kind, rid), r in resources.items() if kind == "user" and DEACTIVATED[integration](r["profile"])}
    assert {review.res_id[r] for r in review.inactive} == deactivated & holders and deactivated & holders


def test_every_bundled_connector_declares_its_review_facts() -> None:
    for name in ("okta", "coupa", "concur", "celigo"):
        facts = facts_for(name)
        assert facts.declared_by == name and facts.privileged and facts.inactive
        assert any(rule.critical for rule in facts.privileged)
    assert facts_for("no-such-connector").declared_by == "generic"


def test_rules_read_dates_values_and_names() -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    ended = Inactive("termination_date", "terminated", past_date=True)
    assert ended.reason(None, {"termination_date": "2026-05-31T00:00:00Z"}, now) == "termination_date 2026-05-31 is past"
    assert ended.reason(None, {"termination_date": "2026-06-02"}, now) is None
    assert ended.reason(None, {"termination_date": "not a date"}, now) is None
    assert ended.reason(None, {}, now) is None
    flag = Inactive("active", "Coupa", values=(False,))
    assert flag.reason(None, {"active": 0}, now) == "active false"  # SQLite's json_extract gives 0 for false
    assert flag.reason(None, {"active": True}, now) is None
    trait = Inactive("status", "trait", values=("disabled",), source="status")
    assert trait.reason("disabled", {"status": "ACTIVE"}, now) == "status disabled"
    facts = ReviewFacts(privileged=(Privileged("role", "top", resource_ids=frozenset({"SUPER"}), critical=True),
                                    Privileged("role", "admin-ish", name_pattern=r"admin", slugs=frozenset({"assigned"}))))
    assert facts.privilege("role", "SUPER", "Anything", "assigned").why == "top"  # type: ignore[union-attr]
    assert facts.privilege("role", "R2", "Help Desk ADMIN", "assigned").why == "admin-ish"  # type: ignore[union-attr]
    assert facts.privilege("role", "R2", "Help Desk ADMIN", "member") is None
    assert facts.privilege("group", "SUPER", "Admins", "assigned") is None
