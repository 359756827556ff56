"""`iac review` of c1z v1 files written by the real upstream connectors (baton-okta, baton-celigo against the
simulators over HTTPS); the report's findings are checked against what the real `baton` CLI lists."""

from __future__ import annotations

import csv
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import RunIac

from iac.review import review_file
from iac.sim import CeligoSim, OktaSim
from tests._upstream import make_certificate, run_upstream, serve_https, upstream_binary
from tests.test_c1z import _okta_app, baton_json, baton_stats


@pytest.fixture(scope="module")
def c1z_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    work = tmp_path_factory.mktemp("upstream-review")
    cert, key = make_certificate(work, ["acme.okta.com", "api.integrator.io"])
    okta = OktaSim(seed=3, users=50, groups=6, apps=3)
    celigo = CeligoSim(seed=3, users=30, integrations=3)
    files = {"okta": work / "okta.c1z", "celigo": work / "celigo.c1z"}
    with serve_https(_okta_app(okta), cert, key) as okta_ip, serve_https(celigo.app, cert, key) as celigo_ip:
        hosts = {"acme.okta.com": okta_ip, "api.integrator.io": celigo_ip}
        for name, args in (
                ("baton-okta", ["--domain", "acme.okta.com", "--api-token", okta.token, "-f", str(files["okta"]),
                                "--storage-engine", "sqlite"]),
                ("baton-celigo", ["--celigo-access-token", celigo.token, "-f", str(files["celigo"])])):
            result = run_upstream(upstream_binary(name), args, hosts=hosts, cert=cert, workdir=work)
            assert result.returncode == 0, result.stderr[-2000:]
        # A second baton-okta sync into a copy, after one user joins a group: the file then holds two syncs.
        data = okta.dataset
        group = next(g for g in range(1, len(data.group_members)) if len(data.group_members[g]) < 50)
        joiner = next(u for u in range(50) if u not in data.group_members[group] and data.status[u] == 0)
        data.add_group_member(group, joiner, 1)
        files["okta-twice"] = work / "okta-twice.c1z"
        shutil.copyfile(files["okta"], files["okta-twice"])
        result = run_upstream(upstream_binary("baton-okta"), [
            "--domain", "acme.okta.com", "--api-token", okta.token, "-f", str(files["okta-twice"]),
            "--storage-engine", "sqlite"], hosts=hosts, cert=cert, workdir=work)
        assert result.returncode == 0, result.stderr[-2000:]
        files["joined"] = Path(f"{data.group_ids.encode(group)}/{data.user_ids.encode(joiner)}")
    yield files


def _grants(path: Path, resource_type: str) -> list[tuple[str, str, str]]:
    """(entitlement id, principal type, principal id) of ``baton grants -t TYPE``."""
    listed = baton_json(path, "grants", "-t", resource_type)["grants"]
    return [(g["grant"]["entitlement"]["id"], g["grant"]["principal"]["id"]["resourceType"],  # type: ignore[index]
             g["grant"]["principal"]["id"]["resource"]) for g in listed]  # type: ignore[index]


def test_review_of_an_upstream_okta_c1z_agrees_with_the_baton_cli(c1z_files: dict[str, Path], tmp_path: Path) -> None:
    path = c1z_files["okta"]
    review = review_file(path, tmp_path / "okta.html", csv_dir=tmp_path / "csv", integration="okta").review
    assert review.source_format == "c1z v1" and review.facts.declared_by == "okta"
    stats = baton_stats(path)
    assert review.grant_count == stats["grants"]
    users = {r["resource"]["id"]["resource"] for r in baton_json(path, "resources", "-t", "user")["resources"]}  # type: ignore[index]
    assert {review.res_id[r] for r in review.accounts} == users
    # Privileged: every holder of an admin role, directly or as a member of a group that holds one.
    # baton-okta marks a role held by a group expandable to the group's members (GrantExpandable in the
    # `expansion` column), so the members hold it through the group; the group's grant is a finding too.
    members: dict[str, set[str]] = {}
    for entitlement, ptype, pid in _grants(path, "group"):
        if ptype == "user" and entitlement.endswith(":member"):
            members.setdefault(entitlement.split(":")[1], set()).add(pid)
    expected = set()
    for entitlement, ptype, pid in _grants(path, "role"):
        expected.add((f"{ptype}:{pid}", entitlement, "direct"))
        if ptype == "group":
            expected |= {(f"user:{user}", entitlement, f"group:{pid}") for user in members.get(pid, set())}
    got = {(f"{review.types[review.res_type[r]][0]}:{review.res_id[r]}", review.ent_id[e], review.via_label(via))
           for r, e, via in review.privileged}
    assert got == expected
    assert any(holder.startswith("group:") for holder, *_ in expected)
    assert any(via.startswith("group:") for *_, via in expected)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "csv" / "privileged.csv").read_text())))
    assert len(rows) == len(expected)
    # Without --integration a c1z gets the generic rules: roles named like an administrator.
    generic = review_file(path, tmp_path / "generic.html").review
    assert generic.facts.declared_by == "generic"
    assert {(generic.res_id[r], generic.ent_id[e]) for r, e, _ in generic.privileged} == \
        {(holder.split(":")[1], entitlement) for holder, entitlement, _ in expected}


def test_review_of_an_upstream_celigo_c1z(c1z_files: dict[str, Path], run_iac: RunIac, tmp_path: Path) -> None:
    path = c1z_files["celigo"]
    result = run_iac("review", str(path), "-o", str(tmp_path / "celigo.html"), "--integration", "celigo")
    assert result.returncode == 0, result.stderr
    review = review_file(path, tmp_path / "again.html", integration="celigo").review
    stats = baton_stats(path)
    assert review.grant_count == stats["grants"] and len(review.accounts) == stats["user"]
    html = (tmp_path / "celigo.html").read_text()
    assert "c1z v1" in html and review.sync.sync_id in html


def test_changes_between_two_syncs_of_one_c1z(c1z_files: dict[str, Path], tmp_path: Path) -> None:
    group, user = c1z_files["joined"].parts
    review = review_file(c1z_files["okta-twice"], tmp_path / "twice.html", integration="okta").review
    assert review.previous is not None
    grants = [(change, subject.rsplit("(", 1)[1].rstrip(")"), detail.rsplit("(", 1)[1].rstrip(")"))
              for change, kind, subject, detail in review.changes if kind == "grant"]
    assert grants == [("added", f"user:{user}", f"group:{group}:member")]


def test_a_c1z_v3_is_refused_in_one_line(tmp_path: Path, run_iac: RunIac) -> None:
    v3 = tmp_path / "new.c1z"
    v3.write_bytes(b"C1Z3\x00pebble")
    result = run_iac("review", str(v3), "-o", str(tmp_path / "out.html"))
    assert result.returncode == 2 and "--storage-engine sqlite" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.html").exists()
