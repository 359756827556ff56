"""Trees written all at once (render -o, --gitops, review CSVs): staged, made durable, swapped in atomically;
a crash at any step leaves the whole old tree or the whole new one; trees holding secrets are private."""

from __future__ import annotations

import os
import pathlib
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_ENV, REPO_ROOT, RunIac

import iac._files
from iac import Okta, Stack, load_stack, secret
from iac._files import staged_tree, swap_into_place
from iac.backends.gitops import write_gitops_tree
from iac.render import render_manifests, write_tree

OLD = {"a.yaml": "old a\n", "sub/b.yaml": "old b\n"}
NEW = {"a.yaml": "new a\n", "sub/c.yaml": "new c\n", "sub/deeper/d.yaml": "new d\n"}


def write(target: Path, files: dict[str, str]) -> None:
    with staged_tree(target) as staging:
        for relative, text in files.items():
            staging.write(relative, text)


def contents(target: Path) -> dict[str, str]:
    return {str(p.relative_to(target)): p.read_text() for p in sorted(target.rglob("*")) if p.is_file()}


def siblings(target: Path) -> list[str]:
    return sorted(p.name for p in target.parent.iterdir() if p != target)


class Crash(Exception):
    pass


@pytest.mark.parametrize(("step", "expected"), [("staged", OLD), ("exchanged", NEW)])
def test_a_crash_between_steps_leaves_the_old_or_the_new_tree_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, expected: dict[str, str]) -> None:
    target = tmp_path / "out"
    write(target, OLD)

    def crash(name: str) -> None:
        if name == step:
            raise Crash(name)

    monkeypatch.setattr(iac._files, "_step", crash)
    with pytest.raises(Crash):
        write(target, NEW)
    assert contents(target) == expected
    assert siblings(target) == []  # the staging directory (new or, after the exchange, old) is gone


def test_a_failure_while_writing_leaves_the_old_tree(tmp_path: Path) -> None:
    target = tmp_path / "out"
    write(target, OLD)
    with pytest.raises(Crash), staged_tree(target) as staging:
        staging.write("a.yaml", "half")
        raise Crash("render failed")
    assert contents(target) == OLD and siblings(target) == []


@pytest.mark.parametrize(("step", "expected"), [("staged", OLD), ("exchanged", NEW)])
def test_a_killed_process_leaves_the_old_or_the_new_tree_whole(tmp_path: Path, step: str,
                                                               expected: dict[str, str]) -> None:
    """os._exit at the step: no cleanup runs, as after SIGKILL or a power cut (once the data is on disk)."""
    target = tmp_path / "out"
    write(target, OLD)
    script = textwrap.dedent(f"""
        import os, pathlib
        import iac._files
        from iac._files import staged_tree
        iac._files._step = lambda name: os._exit(9) if name == {step!r} else None
        with staged_tree(pathlib.Path({str(target)!r})) as staging:
            for relative, text in {NEW!r}.items():
                staging.write(relative, text)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 9, result.stderr
    assert contents(target) == expected
    leftover = [name for name in siblings(target)]
    assert all(name.startswith(".out.") for name in leftover)  # a hidden staging sibling at most


def test_the_target_exists_whole_at_every_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No moment without a target: the old swap moved the old tree aside before renaming the new one in."""
    target = tmp_path / "out"
    write(target, OLD)
    seen: list[dict[str, str]] = []
    rename = pathlib.Path.rename

    def watching(self: Path, destination: Any) -> Path:
        moved = rename(self, destination)
        seen.append(contents(target) if target.is_dir() else {})
        return moved

    monkeypatch.setattr(pathlib.Path, "rename", watching)
    write(target, NEW)
    assert contents(target) == NEW
    assert all(state in (OLD, NEW) for state in seen), seen


def test_without_an_exchange_the_swap_still_replaces_the_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iac._files, "_exchange", lambda a, b: False)  # a kernel or file system without it
    target = tmp_path / "out"
    write(target, OLD)
    write(target, NEW)
    assert contents(target) == NEW and siblings(target) == []


def test_every_file_and_directory_is_on_disk_before_the_swap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    fsync = os.fsync

    def recording(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    staged: list[str] = []

    def at_step(name: str) -> None:
        if name == "staged":
            staged.extend(synced)

    monkeypatch.setattr(os, "fsync", recording)
    monkeypatch.setattr(iac._files, "_step", at_step)
    target = tmp_path / "out"
    write(target, OLD)
    staging_root = Path(staged[-1])  # directories are synced bottom-up: the staging root comes last
    expected = {str(staging_root / relative) for relative in OLD} | {str(staging_root), str(staging_root / "sub")}
    assert set(staged) == expected
    assert synced[-1] == str(tmp_path)  # the parent, after the new tree took its name


def test_a_large_tree_is_flushed_with_one_syncfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed: list[Path] = []
    synced: list[str] = []
    monkeypatch.setattr(iac._files, "_syncfs", lambda path: flushed.append(path) or True)
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(os.readlink(f"/proc/self/fd/{fd}")))
    target = tmp_path / "out"
    with staged_tree(target) as staging:
        for i in range(iac._files._FSYNC_EACH_UP_TO + 1):
            staging.write(f"f{i}.yaml", "x")
        root = staging.root
    assert flushed == [root] and synced == [str(tmp_path)]  # then only the parent, after the swap


def test_swap_into_place_keeps_its_contract_for_other_writers(tmp_path: Path) -> None:
    target, staging = tmp_path / "out", tmp_path / ".out.staging"
    staging.mkdir()
    (staging / "x.csv").write_text("1\n")
    swap_into_place(staging, target)
    assert contents(target) == {"x.csv": "1\n"} and not staging.exists()


# -- permissions ------------------------------------------------------------------------------------------


def modes(target: Path) -> dict[str, int]:
    return {str(p.relative_to(target)): stat.S_IMODE(p.stat().st_mode) for p in [target, *target.rglob("*")]}


def test_a_gitops_tree_with_plaintext_secrets_is_private(tmp_path: Path, run_iac: RunIac) -> None:
    tree = tmp_path / "tree"
    result = run_iac("render", str(REPO_ROOT / "stacks" / "example.py"), "--gitops", str(tree),
                     "--allow-plaintext-secrets", env=EXAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    found = modes(tree)
    secrets = {name for name in found if Path(name).name.startswith("secret-")}
    assert secrets, "the example stack renders Secrets"
    assert {found[name] for name in secrets} == {0o600}
    assert {mode for name, mode in found.items() if (tree / name).is_dir()} == {0o700}
    assert {mode for name, mode in found.items() if name not in secrets and (tree / name).is_file()} == {0o644}


def test_a_gitops_tree_of_references_stays_readable_for_git(tmp_path: Path) -> None:
    stack = Stack("refs")
    stack.add(Okta("okta", domain="acme.okta.com", api_token=secret.external("vault", "okta")))
    write_gitops_tree(stack, tmp_path / "tree")
    found = modes(tmp_path / "tree")
    assert {mode for name, mode in found.items() if (tmp_path / "tree" / name).is_dir()} == {0o755}
    assert {mode for name, mode in found.items() if (tmp_path / "tree" / name).is_file()} == {0o644}


def test_rendered_secret_files_are_private_whatever_the_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in EXAMPLE_ENV.items():
        monkeypatch.setenv(key, value)
    previous = os.umask(0)
    try:
        write_tree(render_manifests(load_stack(REPO_ROOT / "stacks" / "example.py")), tmp_path / "out")
    finally:
        os.umask(previous)
    found = modes(tmp_path / "out")
    assert {mode for name, mode in found.items() if Path(name).name.startswith("secret-")} == {0o600}
    assert {mode for name, mode in found.items() if (tmp_path / "out" / name).is_dir()} == {0o700}
    assert {mode for name, mode in found.items() if not Path(name).name.startswith("secret-")
            and (tmp_path / "out" / name).is_file()} == {0o644}
