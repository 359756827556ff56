"""The access review of one sync, computed from a :class:`~iac.review._source.Snapshot` into flat columns.

Everything is indexed: resources, entitlements and grants become integer positions in lists and arrays,
so 100k accounts and 1M grants fit in a few tens of MB here and travel to the browser as compact JSON.
Effective access follows ``expandable`` grants exactly as ``iac connector inspect … access`` does: a grant
on entitlement T held by H with ``expandable=[E]`` is held by every holder of E, "via H", transitively.
"""

from __future__ import annotations

import datetime as dt
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

from iac.review._source import Snapshot, SyncInfo, SyncSource
from iac.runtime import ReviewFacts, parse_entitlement_id

__all__ = ["Review", "build_review"]

DIRECT = -1
"""The ``via`` of a grant held directly."""


@dataclass
class Review:
    """Columns, aligned by index. Resource ``r``: ``res_type[r]`` (index into ``types``), ``res_id[r]`` …;
    entitlement ``e``: ``ent_res[e]`` (a resource index), ``ent_slug[e]`` …. Direct grants are stored by
    principal: ``grant_ents[grant_offsets[r]:grant_offsets[r + 1]]`` are the entitlements ``r`` holds."""

    source: str
    source_format: str
    integration: str
    facts: ReviewFacts
    sync: SyncInfo
    previous: SyncInfo | None
    generated_at: dt.datetime
    types: list[tuple[str, str]] = field(default_factory=list)
    res_type: list[int] = field(default_factory=list)
    res_id: list[str] = field(default_factory=list)
    res_name: list[str] = field(default_factory=list)
    res_login: list[str] = field(default_factory=list)
    res_status: list[str] = field(default_factory=list)
    res_inactive: list[str] = field(default_factory=list)
    ent_id: list[str] = field(default_factory=list)
    ent_res: list[int] = field(default_factory=list)
    ent_slug: list[str] = field(default_factory=list)
    ent_name: list[str] = field(default_factory=list)
    ent_rule: list[int] = field(default_factory=list)
    """Index into ``facts.privileged`` of the rule that makes the entitlement privileged, or -1."""
    ent_direct: list[int] = field(default_factory=list)
    ent_accounts: list[int] = field(default_factory=list)
    grant_offsets: array[int] = field(default_factory=lambda: array("i"))
    grant_ents: array[int] = field(default_factory=lambda: array("i"))
    edges: list[tuple[int, int, int]] = field(default_factory=list)
    """(source entitlement, target entitlement, holder resource): holders of source hold target via holder."""
    accounts: list[int] = field(default_factory=list)
    acc_direct: list[int] = field(default_factory=list)
    acc_effective: list[int] = field(default_factory=list)
    acc_privileged: list[int] = field(default_factory=list)
    privileged: list[tuple[int, int, int]] = field(default_factory=list)
    """(holder resource, entitlement, via resource or DIRECT): accounts, directly or through what they hold, and
    other principals (groups) holding a privileged entitlement directly."""
    inactive: list[int] = field(default_factory=list)
    """Account resources that are inactive and still hold at least one grant."""
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(change, kind, subject, detail): ``added``/``removed``/``changed``, ``grant``/``account``."""

    @property
    def grant_count(self) -> int:
        return len(self.grant_ents)

    def label(self, r: int) -> str:
        """``Ada Lovelace (user:00u1)``."""
        return f"{self.res_name[r]} ({self.types[self.res_type[r]][0]}:{self.res_id[r]})"

    def via_label(self, via: int) -> str:
        return "direct" if via == DIRECT else f"{self.types[self.res_type[via]][0]}:{self.res_id[via]}"

    def entitlement_label(self, e: int) -> str:
        return f"{self.ent_name[e]} ({self.ent_id[e]})"

    def access_rows(self, r: int) -> list[tuple[int, int]]:
        """(entitlement, via) rows of resource ``r``'s effective access, in ``inspect access`` order."""
        adjacency = _adjacency(self.edges)
        direct = self.grant_ents[self.grant_offsets[r]:self.grant_offsets[r + 1]]
        rows = [(e, DIRECT) for e in sorted(direct, key=self.ent_id.__getitem__)]
        expanded: set[int] = set()
        index = 0
        while index < len(rows):
            entitlement = rows[index][0]
            index += 1
            if entitlement in expanded:
                continue
            expanded.add(entitlement)
            rows += adjacency.get(entitlement, [])
        return rows


def _adjacency(edges: Iterable[tuple[int, int, int]]) -> dict[int, list[tuple[int, int]]]:
    out: dict[int, list[tuple[int, int]]] = {}
    for source, target, holder in edges:
        out.setdefault(source, []).append((target, holder))
    return out


class _Index:
    """Resources and entitlements of one review, growing as grants name ones the sync did not list."""

    def __init__(self, review: Review) -> None:
        self.review = review
        self.types: dict[str, int] = {}
        self.resources: dict[str, int] = {}
        self.entitlements: dict[str, int] = {}

    def type_index(self, type_id: str, name: str | None = None) -> int:
        index = self.types.get(type_id)
        if index is None:
            index = self.types[type_id] = len(self.review.types)
            self.review.types.append((type_id, name or type_id))
        return index

    def add_resource(self, type_id: str, ident: str, name: str, login: str, status: str, inactive: str) -> int:
        rv = self.review
        index = self.resources[f"{type_id}\x00{ident}"] = len(rv.res_id)
        rv.res_type.append(self.type_index(type_id))
        rv.res_id.append(ident)
        rv.res_name.append(name)
        rv.res_login.append(login)
        rv.res_status.append(status)
        rv.res_inactive.append(inactive)
        return index

    def resource(self, type_id: str, ident: str) -> int:
        index = self.resources.get(f"{type_id}\x00{ident}")
        return self.add_resource(type_id, ident, ident, "", "", "") if index is None else index

    def add_entitlement(self, ident: str, resource: int, slug: str, name: str, rule: int) -> int:
        rv = self.review
        index = self.entitlements[ident] = len(rv.ent_id)
        rv.ent_id.append(ident)
        rv.ent_res.append(resource)
        rv.ent_slug.append(slug)
        rv.ent_name.append(name)
        rv.ent_rule.append(rule)
        return index

    def entitlement(self, ident: str) -> int:
        index = self.entitlements.get(ident)
        if index is not None:
            return index
        try:
            ref, slug = parse_entitlement_id(ident)
        except ValueError:
            return self.add_entitlement(ident, self.resource("unknown", ident), "", ident, -1)
        resource = self.resource(ref.type, ref.id)
        return self.add_entitlement(ident, resource, slug, ident, self._rule(ref.type, ref.id, resource, slug))

    def _rule(self, type_id: str, ident: str, resource: int, slug: str) -> int:
        facts = self.review.facts
        rule = facts.privilege(type_id, ident, self.review.res_name[resource], slug)
        return -1 if rule is None else facts.privileged.index(rule)


def _status_text(facts: ReviewFacts, status: str | None, profile: Any) -> str:
    """The user trait's status, with the vendor's own word when a rule reads one (``disabled (SUSPENDED)``)."""
    shown = status or ""
    for rule in facts.inactive:
        if rule.source == "profile" and not rule.past_date:
            value = profile.get(rule.attribute)
            if isinstance(value, str) and value:
                return f"{shown} ({value})" if shown else value
    return shown


def build_review(source: SyncSource, snapshot: Snapshot, facts: ReviewFacts, *,
                 previous: Snapshot | None = None, integration: str | None = None,
                 now: dt.datetime | None = None) -> Review:
    now = now or dt.datetime.now(dt.UTC)
    review = Review(str(source.path), source.format, integration or source.integration or "unknown", facts,
                    snapshot.info, previous.info if previous else None, now)
    index = _Index(review)
    for t in snapshot.resource_types():
        index.type_index(t.id, t.display_name)
    account_type = facts.account_type
    wanted = facts.profile_attributes()
    for r in snapshot.resources(attributes=wanted):
        login = r.login or (r.emails[0] if r.emails else "")
        if r.type == account_type:
            inactive = facts.inactive_reason(r.status, r.profile, now) or ""
            status = _status_text(facts, r.status, r.profile)
        else:
            inactive, status = "", ""
        index.add_resource(r.type, r.id, r.display_name, login, status, inactive)
    for e in snapshot.entitlements():
        resource = index.resource(e.resource_type, e.resource_id)
        index.add_entitlement(e.id, resource, e.slug, e.display_name,
                              index._rule(e.resource_type, e.resource_id, resource, e.slug))
    _load_grants(review, index, snapshot)
    _effective_access(review)
    if previous is not None:
        _changes(review, index, snapshot, previous)
    return review


def _load_grants(review: Review, index: _Index, snapshot: Snapshot) -> None:
    """Direct grants as one array of entitlement indexes per principal, in resource order (CSR)."""
    ent_get, res_get = index.entitlements.get, index.resources.get
    held: dict[int, list[int]] = {}
    for ptype, pid, entitlement_ids in snapshot.grants_by_principal():
        p = res_get(ptype + "\x00" + pid)
        if p is None:
            p = index.resource(ptype, pid)
        found = [ent_get(x) for x in entitlement_ids]
        # Entitlements the sync did not list are kept, with their id for a name.
        ents = [index.entitlement(x) if e is None else e for x, e in zip(entitlement_ids, found, strict=True)] \
            if None in found else cast(list[int], found)
        known = held.get(p)
        if known is None:
            held[p] = ents
        else:
            known += ents
    for ent_id, ptype, pid, expandable in snapshot.expandable_grants():
        e, p = index.entitlement(ent_id), index.resource(ptype, pid)
        review.edges += [(index.entitlement(source), e, p) for source in expandable]
    offsets, flat = array("i", [0]), array("i")
    for r in range(len(review.res_id)):
        ents_of = held.get(r)
        if ents_of:
            flat.extend(ents_of)
        offsets.append(len(flat))
    review.grant_offsets, review.grant_ents = offsets, flat
    direct = Counter(flat)
    review.ent_direct = [direct.get(e, 0) for e in range(len(review.ent_id))]


def _effective_access(review: Review) -> None:
    """Per account: direct and effective entitlement counts and privileged rows; per entitlement: how many
    accounts hold it effectively."""
    adjacency = _adjacency(review.edges)
    reach_memo: dict[int, frozenset[int]] = {}

    def reach(start: int) -> frozenset[int]:
        """Every entitlement reachable from ``start`` through expansion edges (not ``start`` itself)."""
        known = reach_memo.get(start)
        if known is not None:
            return known
        # Depth first over expansion edges; the memo makes every entitlement's walk happen once.
        seen: set[int] = set()
        stack = [target for target, _ in adjacency.get(start, [])]
        while stack:
            e = stack.pop()
            if e not in seen:
                seen.add(e)
                stack += [target for target, _ in adjacency.get(e, [])]
        reach_memo[start] = result = frozenset(seen)
        return result

    privileged = {e for e, rule in enumerate(review.ent_rule) if rule >= 0}
    expands = set(adjacency)
    type_ids = [t for t, _ in review.types]
    account_type_index = type_ids.index(review.facts.account_type) if review.facts.account_type in type_ids else -1
    offsets, grant_ents, res_type, inactive = review.grant_offsets, review.grant_ents, review.res_type, \
        review.res_inactive
    accounts = [r for r in range(len(review.res_id)) if res_type[r] == account_type_index]
    # A group (or any other principal) holding a privileged entitlement is a finding of its own, whether or
    # not the connector marks the grant as passing on to the group's members.
    for r in range(len(review.res_id)):
        if res_type[r] != account_type_index and offsets[r + 1] > offsets[r]:
            review.privileged += [(r, e, DIRECT) for e in set(grant_ents[offsets[r]:offsets[r + 1]]) & privileged]
    held = array("i")  # every account's effective entitlements, one after another (counted once at the end)
    acc_direct, acc_effective, acc_privileged = array("i"), array("i"), array("i")
    found: list[tuple[int, int, int]] = []
    for r in accounts:
        low, high = offsets[r], offsets[r + 1]
        direct = set(grant_ents[low:high])
        expanding = direct & expands
        effective = direct.union(*[reach(e) for e in expanding]) if expanding else direct
        acc_direct.append(high - low)
        acc_effective.append(len(effective))
        held.extend(effective)
        hits = effective & privileged
        acc_privileged.append(len(hits))
        if hits:
            rows = {(r, e, DIRECT) for e in direct & hits}
            for source in effective & expands:
                rows.update((r, target, holder) for target, holder in adjacency[source] if target in hits)
            found += rows
        if high > low and inactive[r]:
            review.inactive.append(r)
    review.accounts = accounts
    review.acc_direct, review.acc_effective, review.acc_privileged = \
        list(acc_direct), list(acc_effective), list(acc_privileged)
    review.privileged += found
    holders = Counter(held)
    review.ent_accounts = [holders.get(e, 0) for e in range(len(review.ent_id))]
    # Critical first, then by rule, entitlement, holder and path.
    review.privileged.sort(key=lambda row: (not review.facts.privileged[review.ent_rule[row[1]]].critical,
                                            review.ent_rule[row[1]], review.ent_id[row[1]], row[0], row[2]))


def _changes(review: Review, index: _Index, current: Snapshot, previous: Snapshot) -> None:
    """Accounts added, removed or changed in status, and direct grants added or removed, against
    ``previous``: by the source itself when it can (two syncs of one file), else as sorted 64-bit keys
    (entitlement << 32 | principal) merged in one pass."""
    account_type = review.facts.account_type
    attributes = review.facts.profile_attributes()
    # old_accounts: every previous account, or (when the source compares them itself) only those that changed
    # or are gone; a previous account missing from it is then equal to the current one.
    old_accounts: dict[str, tuple[str, str]] = {}
    compared = current.resource_changes(previous, account_type, attributes)
    old_rows, added = (previous.resources(account_type, attributes), None) if compared is None else compared
    for row in old_rows:
        status = _status_text(review.facts, row.status, row.profile)
        old_accounts[row.id] = (f"{row.display_name} ({row.type}:{row.id})", status)
    review.changes += _account_changes(review, old_accounts, None if added is None else set(added))
    diff = current.grant_changes(previous)
    if diff is None:
        diff = _merged_grant_changes(review, index, previous)
    ent_get, res_get = index.entitlements.get, index.resources.get
    for change, ent_id, ptype, pid in diff:
        r = res_get(f"{ptype}\x00{pid}")
        if r is not None:
            subject = review.label(r)
        elif ptype == account_type and pid in old_accounts:
            subject = old_accounts[pid][0]
        else:
            subject = f"{pid} ({ptype}:{pid})"
        e = ent_get(ent_id)
        review.changes.append((change, "grant", subject, ent_id if e is None else review.entitlement_label(e)))


def _merged_grant_changes(review: Review, index: _Index, previous: Snapshot) -> Iterator[tuple[str, str, str, str]]:
    ent_get, res_get = index.entitlements.get, index.resources.get
    old_keys = array("q")
    for ent_id, ptype, pid, _expandable in previous.grants():
        e, p = ent_get(ent_id), res_get(f"{ptype}\x00{pid}")
        if e is None or p is None:  # the current sync does not know it: removed
            yield "removed", ent_id, ptype, pid
        else:
            old_keys.append(e << 32 | p)
    offsets, grant_ents = review.grant_offsets, review.grant_ents
    new_keys = array("q", sorted(e << 32 | r for r in range(len(review.res_id))
                                 for e in grant_ents[offsets[r]:offsets[r + 1]]))
    old_sorted = array("q", sorted(old_keys))
    del old_keys
    types = [t for t, _ in review.types]
    for change, key in _merge_diff(old_sorted, new_keys):
        e, r = key >> 32, key & 0xFFFFFFFF
        yield change, review.ent_id[e], types[review.res_type[r]], review.res_id[r]


def _account_changes(review: Review, old: dict[str, tuple[str, str]],
                     added: set[str] | None) -> list[tuple[str, str, str, str]]:
    """``added``: the accounts the previous sync lacks, when ``old`` holds only the changed ones."""
    out: list[tuple[str, str, str, str]] = []
    current = {review.res_id[r]: r for r in review.accounts}
    for ident in sorted(current.keys() - old.keys() if added is None else current.keys() & added):
        out.append(("added", "account", review.label(current[ident]), review.res_status[current[ident]]))
    for ident in sorted(old.keys() - current.keys()):
        out.append(("removed", "account", old[ident][0], old[ident][1]))
    for ident in sorted(current.keys() & old.keys()):
        r = current[ident]
        if old[ident][1] != review.res_status[r]:
            change = f"status {old[ident][1] or '—'} → {review.res_status[r]}"
            out.append(("changed", "account", review.label(r), change))
    return out


def _merge_diff(old: array[int], new: array[int]) -> Iterable[tuple[str, int]]:
    i = j = 0
    while i < len(old) and j < len(new):
        a, b = old[i], new[j]
        if a == b:
            i += 1
            j += 1
        elif a < b:
            yield "removed", a
            i += 1
        else:
            yield "added", b
            j += 1
    for k in range(i, len(old)):
        yield "removed", old[k]
    for k in range(j, len(new)):
        yield "added", new[k]
