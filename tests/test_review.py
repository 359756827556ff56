"""`iac review`: the access-review report. Its findings are checked against `inspect` and the simulator's
ground truth; the page itself is opened in headless Chromium, filtered through its own script and
compared with a reference screenshot."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard
from _browser import Browser
from conftest import EXAMPLE_ENV, RunIac
from PIL import Image, ImageChops, ImageStat

from iac.c1z import C1Z_V1_MAGIC, decompress_c1z, open_c1z, pb
from iac.connectors.okta import build
from iac.review import CSV_FILES, DIRECT, Review, build_review, facts_for, open_source, review_file
from iac.runtime import (
    Artifact,
    Entitlement,
    Grant,
    Resource,
    ResourceRef,
    ResourceType,
    SyncEngine,
    Trait,
    UserStatus,
    Wiring,
    WorkingStore,
    inspect_view,
    load_settings,
)
from iac.sim import OktaSim, serve
from iac.spec import Okta

REFERENCE = Path(__file__).parent / "data" / "review-layout.png"
SUSPENDED, DEPROVISIONED = 3, 4  # positions in iac.sim's USER_STATUSES


@dataclass
class Org:
    sim: OktaSim
    artifact: Path
    added: tuple[str, str]    # (group id, user id) joined between the two syncs
    removed: tuple[str, str]  # (group id, user id) left
    suspended: str            # user id suspended between the two syncs


def _sync(sim: OktaSim, base: str, path: Path) -> None:
    settings = load_settings(Okta, environ={}, domain="acme.okta.com", api_token=sim.token,
                             base_url_override=base, sync_custom_roles=True)
    connector = build(settings, Wiring())
    try:
        SyncEngine(connector, path, workers=4).run()
    finally:
        connector.close()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    """An Okta org synced twice; between the syncs one user joins a group, one leaves one and one is suspended."""
    sim = OktaSim(seed=7, users=90, groups=8, apps=4, rate_scale=100)
    data = sim.dataset
    path = tmp_path_factory.mktemp("review") / "okta.c1z"
    with serve(sim.app) as base:
        _sync(sim, base, path)
        group = next(g for g in range(len(data.group_members)) if 0 < len(data.group_members[g]) < 80)
        joiner = next(u for u in range(90) if u not in data.group_members[group] and data.status[u] == 0)
        leaver = data.group_members[group][0]
        member_of = {u for members in data.group_members for u in members}
        suspended = next(u for u in range(90) if data.status[u] == 0 and u in member_of and u not in (joiner, leaver))
        data.add_group_member(group, joiner, 1)
        data.remove_group_member(group, leaver, 1)
        data.status[suspended] = SUSPENDED
        _sync(sim, base, path)
    gid = data.group_ids.encode(group)
    uid = data.user_ids.encode
    yield Org(sim, path, (gid, uid(joiner)), (gid, uid(leaver)), uid(suspended))


@pytest.fixture(scope="module")
def report(org: Org, tmp_path_factory: pytest.TempPathFactory) -> tuple[Review, Path, Path]:
    out = tmp_path_factory.mktemp("report")
    result = review_file(org.artifact, out / "report.html", csv_dir=out / "evidence")
    return result.review, result.html, out / "evidence"


def _inspect(artifact: Path, view: str, **kw: Any) -> list[dict[str, Any]]:
    with Artifact(artifact) as art:
        return list(inspect_view(art, view, **kw).rows)


# -- the findings ---------------------------------------------------------------------------------------

def test_effective_access_of_every_account_equals_inspect(org: Org, report: tuple[Review, Path, Path]) -> None:
    review = report[0]
    users = _inspect(org.artifact, "principals", resource_type="user")
    assert sorted(review.res_id[r] for r in review.accounts) == sorted(u["id"] for u in users)
    for r, direct, effective in zip(review.accounts, review.acc_direct, review.acc_effective, strict=True):
        expected = _inspect(org.artifact, "access", principal=f"user:{review.res_id[r]}")
        got = [(review.ent_id[e], review.via_label(via)) for e, via in review.access_rows(r)]
        assert Counter(got) == Counter((row["entitlement_id"], row["via"]) for row in expected)
        assert direct == sum(1 for row in expected if row["via"] == "direct")
        assert effective == len({row["entitlement_id"] for row in expected})


def test_privileged_access_is_every_admin_role_holder_with_its_path(org: Org, report: tuple[Review, Path, Path]) -> None:
    review = report[0]
    admin_types = ("role", "custom-role", "resourceset-binding")
    expected = set()
    for r in review.accounts:
        for row in _inspect(org.artifact, "access", principal=f"user:{review.res_id[r]}"):
            if row["resource_type"] in admin_types:
                expected.add((review.res_id[r], row["entitlement_id"], row["via"]))
    # Groups that hold an admin role are findings too (their members are listed through them above).
    groups = {(row["principal_id"], row["entitlement_id"], "direct") for row in _inspect(org.artifact, "grants")
              if row["principal_type"] == "group" and row["resource_type"] in admin_types}
    got = {(review.res_id[r], review.ent_id[e], review.via_label(via)) for r, e, via in review.privileged}
    assert got == expected | groups and expected and groups
    assert any(via != DIRECT for _, _, via in review.privileged), "some admin access comes through a group"
    rows = list(csv.DictReader(io.StringIO((report[2] / "privileged.csv").read_text())))
    assert {(row["holder_id"], row["entitlement_id"], row["path"]) for row in rows} == expected | groups


def test_inactive_accounts_with_grants_are_the_suspended_and_deprovisioned(org: Org,
                                                                            report: tuple[Review, Path, Path]) -> None:
    review, data = report[0], org.sim.dataset
    holders = {row["principal_id"] for row in _inspect(org.artifact, "grants") if row["principal_type"] == "user"}
    expected = {data.user_ids.encode(u) for u in range(90) if data.status[u] in (SUSPENDED, DEPROVISIONED)} & holders
    assert {review.res_id[r] for r in review.inactive} == expected
    assert org.suspended in expected
    reasons = {review.res_inactive[r] for r in review.inactive}
    assert reasons <= {"status SUSPENDED", "status DEPROVISIONED"}


def test_changes_are_exactly_what_happened_between_the_syncs(org: Org, report: tuple[Review, Path, Path]) -> None:
    review = report[0]
    got = {(change, kind, subject.rsplit("(", 1)[1].rstrip(")"),
            detail.rsplit("(", 1)[-1].rstrip(")") if kind == "grant" else detail)
           for change, kind, subject, detail in review.changes}
    group, joiner = org.added
    _, leaver = org.removed
    assert got == {
        ("added", "grant", f"user:{joiner}", f"group:{group}:member"),
        ("removed", "grant", f"user:{leaver}", f"group:{group}:member"),
        ("changed", "account", f"user:{org.suspended}", "status enabled (ACTIVE) → disabled (SUSPENDED)"),
    }


def test_csv_evidence_matches_the_report(report: tuple[Review, Path, Path]) -> None:
    review, _, evidence = report
    assert sorted(p.name for p in evidence.iterdir()) == sorted(CSV_FILES)
    counts = {name: sum(1 for _ in csv.DictReader(io.StringIO((evidence / name).read_text()))) for name in CSV_FILES}
    assert counts == {"privileged.csv": len(review.privileged), "inactive.csv": len(review.inactive),
                      "changes.csv": len(review.changes), "accounts.csv": len(review.accounts),
                      "entitlements.csv": len(review.ent_id)}


# -- the page in a browser --------------------------------------------------------------------------------

def _counts(browser: Browser) -> dict[str, int]:
    return {k: int(v) for k, v in browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#counts a')].map(a => [a.id, a.dataset.count]))").items()}


def test_report_opens_in_chromium_with_counts_equal_to_inspect(org: Org, report: tuple[Review, Path, Path],
                                                               tmp_path: Path) -> None:
    review, html, _ = report
    stats = {(row["kind"], row["type"]): row["count"] for row in _inspect(org.artifact, "stats")}
    with Browser(tmp_path / "profile") as browser:
        browser.open(html.as_uri())
        assert browser.evaluate("document.documentElement.dataset.ready") == "true"
        headings = browser.evaluate("[...document.querySelectorAll('h2')].map(h => h.textContent)")
        assert headings[1:] == ["Privileged access", "Access that should be gone",
                                "What changed since the previous sync", "Accounts", "Entitlements", "Grants"]
        footer = browser.evaluate("document.querySelector('footer').textContent")
        assert "No decision is recorded here" in footer and "ConductorOne" in footer
        assert browser.evaluate("document.getElementById('sync-id').textContent") == review.sync.sync_id
        assert _counts(browser) == {
            "count-privileged-holdings": len(review.privileged), "count-inactive-with-access": len(review.inactive),
            "count-changes": 3, "count-accounts": stats[("resources", "user")],
            "count-entitlements": stats[("entitlements", "(total)")], "count-grants": stats[("grants", "(total)")]}
        by_type = browser.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#by-type a')].map(a => [a.dataset.type, +a.dataset.count]))")
        assert by_type == {t: n for (kind, t), n in stats.items() if kind == "resources" and t != "(total)"}
        # Every table holds one page, and its status names the whole count.
        for table, total in (("privileged", len(review.privileged)), ("accounts", len(review.accounts)),
                             ("grants", stats[("grants", "(total)")])):
            shown = browser.evaluate(f"document.querySelectorAll('#{table}-table tbody tr').length")
            assert shown == min(50, total)
            assert browser.evaluate(f"document.querySelector('[data-table={table}]').dataset.total") == str(total)
        # Nothing but the file itself was requested: no CDN, no network.
        requested = {e["params"]["request"]["url"] for e in browser.events if e["method"] == "Network.requestWillBeSent"}
        assert requested == {html.as_uri()}


def test_tables_filter_sort_and_open_details_through_the_page_script(org: Org, report: tuple[Review, Path, Path],
                                                                     tmp_path: Path) -> None:
    review, html, _ = report
    users = _inspect(org.artifact, "principals", resource_type="user")
    with Browser(tmp_path / "profile") as browser:
        browser.open(html.as_uri())
        # Type into the search box as a reviewer would; the page's own handler filters.
        browser.evaluate("""(() => { const input = document.getElementById('accounts-q');
            input.value = 'status:suspended'; input.dispatchEvent(new Event('input')); })()""")
        browser.evaluate("new Promise(r => setTimeout(r, 400))")
        suspended = sorted(u["id"] for u in users if u["status"] == "disabled"
                           and _profile_status(org, u["id"]) == "SUSPENDED")
        shown = browser.evaluate("""[...document.querySelectorAll('#accounts-table tbody tr td:first-child a')]
            .map(a => a.dataset.key.split(':').pop())""")
        assert sorted(shown) == suspended and suspended
        # Sorting by "Effective entitlements" (descending first) puts the largest count on top.
        browser.evaluate("""(() => { const input = document.getElementById('accounts-q');
            input.value = ''; input.dispatchEvent(new Event('input')); })()""")
        browser.evaluate("new Promise(r => setTimeout(r, 400))")
        browser.evaluate("document.querySelector('#accounts-table th[data-key=effective] button').click()")
        top = browser.evaluate("document.querySelector('#accounts-table tbody tr td:nth-child(6)').textContent")
        assert int(top) == max(review.acc_effective)
        assert browser.evaluate(
            "document.querySelector('#accounts-table th[data-key=effective]').getAttribute('aria-sort')") == "descending"
        # An account's detail lists exactly `inspect access`, each row with its path.
        user = org.added[1]
        browser.evaluate(f"location.hash = 'account/user:{user}'")
        browser.evaluate("new Promise(r => setTimeout(r, 200))")
        rows = browser.evaluate("""[...document.querySelectorAll('#account-detail-table tbody tr')].map(tr =>
            [tr.querySelector('[data-entitlement]').dataset.entitlement, tr.querySelector('[data-via]').dataset.via])""")
        expected = _inspect(org.artifact, "access", principal=f"user:{user}")
        assert Counter(map(tuple, rows)) == Counter((r["entitlement_id"], r["via"]) for r in expected)
        # An entitlement's holders: direct ones, and the members of each group holding it, via that group.
        grants = _inspect(org.artifact, "grants")
        app = next(g["entitlement_id"] for g in grants if g["resource_type"] == "app" and g["principal_type"] == "group")
        expected_holders = Counter()
        for g in grants:
            if g["entitlement_id"] == app:
                expected_holders[(f"{g['principal_type']}:{g['principal_id']}", "direct")] += 1
                for source in filter(None, g["expandable"].split(",")):
                    expected_holders.update((f"{m['principal_type']}:{m['principal_id']}", f"group:{g['principal_id']}")
                                            for m in grants if m["entitlement_id"] == source)
        browser.evaluate(f"location.hash = 'entitlement/{app}'")
        browser.evaluate("new Promise(r => setTimeout(r, 200))")
        assert browser.evaluate("document.querySelectorAll('#entitlement-detail-table tbody tr').length") == \
            min(50, sum(expected_holders.values()))  # a page at a time, like every table
        browser.evaluate("window.accessReview.tables['entitlement-detail'].printAll(true)")
        holders = browser.evaluate("""[...document.querySelectorAll('#entitlement-detail-table tbody tr')].map(tr =>
            [tr.querySelector('[data-holder]').dataset.holder, tr.querySelector('[data-via]').dataset.via])""")
        assert Counter(map(tuple, holders)) == expected_holders and len(expected_holders) > 1
        # A header number links to its rows: entitlements of one type.
        browser.evaluate("document.querySelector('#by-type a[data-type=app]').click()")
        browser.evaluate("new Promise(r => setTimeout(r, 200))")
        apps = browser.evaluate("document.querySelector('[data-table=entitlements]').dataset.total")
        assert int(apps) == sum(1 for row in _inspect(org.artifact, "entitlements") if row["resource_type"] == "app")


def test_markup_is_accessible_and_the_page_prints(report: tuple[Review, Path, Path], tmp_path: Path) -> None:
    review, html, _ = report
    with Browser(tmp_path / "profile") as browser:
        browser.open(html.as_uri())
        assert browser.evaluate("document.documentElement.lang") == "en"
        assert browser.evaluate("document.querySelectorAll('h1').length") == 1
        # Headings never skip a level; every table has a caption and column headers; every input a label.
        levels = browser.evaluate("[...document.querySelectorAll('h1,h2,h3')].map(h => +h.tagName[1])")
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
        assert browser.evaluate("""[...document.querySelectorAll('table')].every(t => t.caption &&
            t.caption.textContent.trim() && t.tHead.querySelectorAll('th[scope=col]').length > 0)""")
        assert browser.evaluate("""[...document.querySelectorAll('input')].every(i =>
            document.querySelector(`label[for="${i.id}"]`))""")
        # Meaning is in words, not colour: a critical or inactive marker carries its text.
        badges = browser.evaluate("[...document.querySelectorAll('.badge')].map(b => b.textContent)")
        assert set(badges) <= {"CRITICAL", "INACTIVE"} and "INACTIVE" in badges
        # Printing: controls disappear and the decision tables print whole.
        browser.call("Emulation.setEmulatedMedia", session=True, media="print")
        assert browser.evaluate("getComputedStyle(document.getElementById('accounts-q')).display") == "none"
        assert browser.evaluate("getComputedStyle(document.querySelector('.pager button')).display") == "none"
        browser.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        rows = browser.evaluate("document.querySelectorAll('#privileged-table tbody tr').length")
        assert rows == len(review.privileged) > 50
        pdf = browser.call("Page.printToPDF", session=True)["data"]
        assert len(pdf) > 1000
        browser.evaluate("window.dispatchEvent(new Event('afterprint'))")
        assert browser.evaluate("document.querySelectorAll('#privileged-table tbody tr').length") == 50


def _profile_status(org: Org, user_id: str) -> str:
    with open_c1z(org.artifact) as c1z:
        found = c1z.resource("user", user_id)
    assert found is not None
    trait = pb.UserTrait()
    assert found.annotations[0].Unpack(trait)
    status: str = trait.profile.fields["status"].string_value
    return status


def test_layout_matches_the_reference_screenshot(org: Org, tmp_path: Path) -> None:
    """Layout regressions (a lost stylesheet, a table blown up to every row, a broken header) change the
    picture far beyond the tolerance; names and ids are seeded, only sync ids and times differ."""
    import datetime as dt

    html = review_file(org.artifact, tmp_path / "report.html",
                       now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)).html
    with Browser(tmp_path / "profile", width=1280, height=1000) as browser:
        browser.open(html.as_uri())
        shot = Image.open(io.BytesIO(browser.screenshot())).convert("L")
    small = shot.resize((shot.width // 4, shot.height // 4), Image.Resampling.BOX)
    (tmp_path / "screenshot.png").write_bytes(_png(shot))
    if os.environ.get("UPDATE_GOLDEN"):
        REFERENCE.write_bytes(_png(small, optimize=True))
    reference = Image.open(REFERENCE).convert("L")
    assert reference.size == small.size
    difference = ImageStat.Stat(ImageChops.difference(small, reference)).mean[0]
    assert difference < 4.0, f"screenshot differs from {REFERENCE.name} by {difference:.2f}/255 on average " \
                             f"(see {tmp_path / 'screenshot.png'}; UPDATE_GOLDEN=1 after a reviewed change)"


def _png(image: Image.Image, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


# -- safety: what a value can and cannot do; what can never reach the report --------------------------

def _hostile_artifact(path: Path) -> None:
    """A sync of a connector that declares no review facts, with markup in every name."""
    store = WorkingStore(path, connector="acme")
    sid = store.begin_sync({})
    store.put_resource_types(sid, [ResourceType("user", "User", (Trait.USER,)), ResourceType("role", "Role", (Trait.ROLE,))])
    evil = "</script><script>window.pwned = 1</script><img src=x onerror=window.pwned=2>"
    store.put_resources(sid, [
        Resource("user", "u1", evil, status=UserStatus.DISABLED, login="=HYPERLINK(\"http://x\")"),
        Resource("user", "u2", "Grace", status=UserStatus.ENABLED),
        Resource("role", "admin", f"Acme Admin {evil}"), Resource("role", "viewer", "Viewer")])
    store.put_entitlements(sid, [Entitlement(ResourceRef("role", "admin"), "assigned", f"Admin {evil}"),
                                 Entitlement(ResourceRef("role", "viewer"), "assigned", "Viewer")])
    store.put_grants(sid, [Grant(ResourceRef("role", "admin"), "assigned", ResourceRef("user", "u1")),
                           Grant(ResourceRef("role", "viewer"), "assigned", ResourceRef("user", "u2"))])
    store.finish(sid, stats=store.stats(sid))


def test_markup_in_data_stays_text_and_undeclared_connectors_get_generic_rules(tmp_path: Path) -> None:
    _hostile_artifact(tmp_path / "acme.c1z")
    result = review_file(tmp_path / "acme.c1z", tmp_path / "acme.html", csv_dir=tmp_path / "csv")
    review = result.review
    assert review.facts.declared_by == "generic"
    assert [(review.res_id[r], review.ent_id[e]) for r, e, _ in review.privileged] == [("u1", "role:admin:assigned")]
    assert [review.res_id[r] for r in review.inactive] == ["u1"]
    inactive = (tmp_path / "csv" / "inactive.csv").read_text()
    assert "'=HYPERLINK" in inactive and ",=HYPERLINK" not in inactive
    with Browser(tmp_path / "profile") as browser:
        browser.open(result.html.as_uri())
        assert browser.evaluate("document.documentElement.dataset.ready") == "true"
        assert browser.evaluate("window.pwned === undefined")
        assert browser.evaluate("document.querySelectorAll('img, script:not([id])').length") == 1  # our one script
        cell = browser.evaluate("document.querySelector('#inactive-table tbody td a').textContent")
        assert cell.startswith("</script><script>window.pwned")


def test_no_credential_reaches_the_report(org: Org, run_iac: RunIac, tmp_path: Path) -> None:
    result = run_iac("review", str(org.artifact), "-o", str(tmp_path / "r.html"), "--csv", str(tmp_path / "csv"),
                     env=EXAMPLE_ENV | {"BATON_API_TOKEN": org.sim.token, "BATON_CLIENT_SECRET": "sentinel-c1-0009"})
    assert result.returncode == 0, result.stderr
    outputs = [tmp_path / "r.html", *sorted((tmp_path / "csv").iterdir())]
    for secret in [*EXAMPLE_ENV.values(), org.sim.token, "sentinel-c1-0009"]:
        for path in outputs:
            assert secret not in path.read_text(), (secret, path.name)
        assert secret not in result.stdout + result.stderr
    assert result.stdout.strip() == str(tmp_path / "r.html")


def test_bad_input_is_one_line_and_writes_nothing(run_iac: RunIac, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    for target, message in ((tmp_path / "missing.sqlite", "no such file"),
                            (tmp_path / "notes.txt", "neither a sync artifact nor a c1z file")):
        result = run_iac("review", str(target), "-o", str(tmp_path / "out.html"), "--csv", str(tmp_path / "csv"))
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [f"error: {target}: {message}"]
        assert not (tmp_path / "out.html").exists() and not (tmp_path / "csv").exists()
    _hostile_artifact(tmp_path / "acme.sqlite")
    result = run_iac("review", str(tmp_path / "acme.sqlite"), "-o", str(tmp_path / "out.html"), "--integration", "oktaa")
    assert result.returncode == 2 and not (tmp_path / "out.html").exists()
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: --integration: unknown integration 'oktaa'; known: ") and "okta" in line


def test_previous_file_gives_the_same_changes_as_the_previous_sync_inside(org: Org, report: tuple[Review, Path, Path],
                                                                          tmp_path: Path) -> None:
    """--previous FILE goes through the generic comparison (sorted keys), the in-file one through SQLite."""
    database, older = tmp_path / "older.sqlite", tmp_path / "older.c1z"
    with database.open("wb") as out:
        decompress_c1z(org.artifact, out)
    with contextlib.closing(sqlite3.connect(database)) as conn, conn:
        [(newest,)] = conn.execute("SELECT sync_id FROM v1_sync_runs ORDER BY ended_at DESC LIMIT 1").fetchall()
        for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_sync_runs"):
            conn.execute(f"DELETE FROM {table} WHERE sync_id = ?", (newest,))
    older.write_bytes(C1Z_V1_MAGIC + zstandard.ZstdCompressor().compress(database.read_bytes()))
    compared = review_file(org.artifact, tmp_path / "r.html", previous=older).review
    assert sorted(compared.changes) == sorted(report[0].changes) and len(compared.changes) == 3


def test_a_sync_compared_with_itself_has_no_changes(org: Org, tmp_path: Path) -> None:
    with open_source(org.artifact) as source:
        syncs = source.syncs()
        facts = facts_for("okta")
        alone = build_review(source, source.snapshot(syncs[0]), facts)
        against_itself = build_review(source, source.snapshot(syncs[0]), facts, previous=source.snapshot(syncs[0]))
    assert alone.previous is None and alone.changes == []
    assert against_itself.changes == []
