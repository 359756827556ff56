"""Parity between an upstream connector's c1z and our artifact: both reduced to sets of facts, and every
difference either explained by a row of the README's "Differences from the upstream connectors" table or
reported.

A fact is a string: ``resource <type>:<id>`` or ``grant <entitlement id> <- <principal type>:<principal id>``.
A table row names a connector, the side the facts are only in (``upstream`` or ``ours``), a pattern of facts
(``fnmatch``: ``*`` matches anything) and a condition:

- empty: the pattern alone explains the fact;
- ``expanded``: an upstream grant ``E <- user:U`` that our artifact reaches by expansion: ours holds an
  expandable grant ``E <- T:X`` and a grant on resource ``T:X`` to ``user:U`` (a group member, a role holder);
- ``renamed <pattern>``: the fact is the other side's fact with the pattern's ``*`` parts put into
  ``<pattern>`` (both facts are then explained);
- ``upstream-page <N>``: a grant of ours on a resource the upstream holds exactly N grants of (all it read
  of a list it does not page past its first N).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from iac.c1z import open_c1z
from iac.runtime import Artifact
from iac.runtime._inspect import inspect_view

README = Path(__file__).resolve().parents[1] / "README.md"
_BEGIN = "<!-- BEGIN upstream-differences"
_END = "<!-- END upstream-differences -->"


def upstream_facts(c1z: Path) -> set[str]:
    with open_c1z(c1z) as reader:
        facts = {f"resource {r.id.resource_type}:{r.id.resource}" for r in reader.resources()}
        facts |= {f"grant {g.entitlement.id} <- {g.principal.id.resource_type}:{g.principal.id.resource}"
                  for g in reader.grants()}
    return facts


@dataclass
class OurArtifact:
    facts: set[str]
    expandable: set[tuple[str, str]] = field(default_factory=set)  # (entitlement id, "type:id" principal)


def our_facts(path: Path) -> OurArtifact:
    """Read through the project's inspect API (what ``iac connector inspect`` shows)."""
    with Artifact(path) as artifact:
        facts = {f"resource {r['type']}:{r['id']}" for r in inspect_view(artifact, "resources").rows}
        expandable = set()
        for g in inspect_view(artifact, "grants").rows:
            principal = f"{g['principal_type']}:{g['principal_id']}"
            facts.add(f"grant {g['entitlement_id']} <- {principal}")
            if g["expandable"]:
                expandable.add((g["entitlement_id"], principal))
    return OurArtifact(facts, expandable)


@dataclass(frozen=True)
class Listed:
    connector: str
    side: str  # "upstream" or "ours"
    pattern: str
    condition: str
    why: str


def listed_differences(readme: Path = README) -> list[Listed]:
    """The rows of the README's machine-readable table."""
    text = readme.read_text()
    start, end = text.find(_BEGIN), text.find(_END)
    assert 0 <= start < end, f"{readme} has no {_BEGIN} ... {_END} table"
    rows = []
    for line in text[start:end].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or cells[0] in ("Connector", "") or set(cells[0]) <= {"-"}:
            continue
        connector, side, pattern, condition, why = cells
        rows.append(Listed(connector, side, pattern.strip("`"), condition.strip("`"), why))
    return rows


def _renamed(fact: str, pattern: str, template: str) -> str | None:
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")).replace(".*", "(.*)") + "$"
    match = re.match(regex, fact)
    if match is None:
        return None
    pieces = template.split("*")
    if len(pieces) - 1 != len(match.groups()):
        raise AssertionError(f"README differences table: {template!r} needs as many * as {pattern!r}")
    return pieces[0] + "".join(part + piece for part, piece in zip(match.groups(), pieces[1:], strict=True))


_GRANT = re.compile(r"grant (\S+) <- (\S+)")


def _reached_by_expansion(fact: str, ours: OurArtifact, users_of: dict[str, set[str]]) -> bool:
    match = _GRANT.fullmatch(fact)
    if match is None or not match.group(2).startswith("user:"):
        return False
    entitlement, user = match.groups()
    return any(held == entitlement and user in users_of.get(holder, set()) for held, holder in ours.expandable)


def _users_of(ours: OurArtifact) -> dict[str, set[str]]:
    """``type:id`` of a resource -> the users holding any of its entitlements in our artifact."""
    found: dict[str, set[str]] = {}
    for fact in ours.facts:
        match = _GRANT.fullmatch(fact)
        if match and match.group(2).startswith("user:"):
            resource = match.group(1).rsplit(":", 1)[0]  # the entitlement id less its slug
            found.setdefault(resource, set()).add(match.group(2))
    return found


@dataclass
class Comparison:
    only_upstream: set[str]
    only_ours: set[str]
    unexplained_upstream: set[str]
    unexplained_ours: set[str]
    unused_rows: list[Listed]
    used: dict[Listed, int]


def compare(connector: str, upstream: set[str], ours: OurArtifact, rows: Iterable[Listed]) -> Comparison:
    only_up, only_ours = upstream - ours.facts, ours.facts - upstream
    left_up, left_ours = set(only_up), set(only_ours)
    mine = [row for row in rows if row.connector == connector]
    used: dict[Listed, int] = {row: 0 for row in mine}
    users_of = _users_of(ours)
    upstream_per_resource: dict[str, int] = {}
    for fact in upstream:
        if match := _GRANT.fullmatch(fact):
            resource = match.group(1).rsplit(":", 1)[0]
            upstream_per_resource[resource] = upstream_per_resource.get(resource, 0) + 1
    for row in mine:
        pool, other_only = (left_up, only_ours) if row.side == "upstream" else (left_ours, only_up)
        for fact in sorted(pool):
            if not fnmatch.fnmatchcase(fact, row.pattern):
                continue
            if row.condition == "expanded":
                if row.side != "upstream" or not _reached_by_expansion(fact, ours, users_of):
                    continue
            elif row.condition.startswith("upstream-page "):
                match = _GRANT.fullmatch(fact)
                size = int(row.condition.split()[1])
                if match is None or upstream_per_resource.get(match.group(1).rsplit(":", 1)[0], 0) != size:
                    continue
            elif row.condition.startswith("renamed "):
                counterpart = _renamed(fact, row.pattern, row.condition.removeprefix("renamed ").strip())
                if counterpart is None or counterpart not in other_only:
                    continue
                (left_ours if row.side == "upstream" else left_up).discard(counterpart)
            elif row.condition:
                raise AssertionError(f"README differences table: unknown condition {row.condition!r}")
            pool.discard(fact)
            used[row] += 1
    return Comparison(only_up, only_ours, left_up, left_ours, [r for r, n in used.items() if n == 0], used)
