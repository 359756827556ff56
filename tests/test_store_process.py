"""The sync's store in a process of its own (iac.runtime._store_process): same artifact as the in-process
store, writes in order, errors surfaced, nothing committed without a checkpoint, early pruning."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest

from iac.runtime import Artifact, Entitlement, Grant, Resource, ResourceRef, ResourceType, Trait, UserStatus
from iac.runtime._store import WorkingStore
from iac.runtime._store_process import StoreProcess
from iac.runtime.errors import ArtifactError

TYPES = [ResourceType("user", "User", (Trait.USER,)), ResourceType("role", "Role", (Trait.ROLE,))]


def _grant(role: str, user: str) -> Grant:
    return Grant(ResourceRef("role", role), "assigned", ResourceRef("user", user), data={"since": 2024})


def _fill(store: WorkingStore | StoreProcess) -> str:
    sync_id = store.begin_sync({"step": 0})
    store.put_resource_types(sync_id, TYPES)
    store.put_resources(sync_id, [Resource("user", f"u{i}", f"User {i}", profile={"n": i}, status=UserStatus.ENABLED,
                                           login=f"u{i}@example.com", emails=(f"u{i}@example.com",))
                                  for i in range(50)])
    store.put_resources(sync_id, [Resource("role", "admin", "Admin", profile={"kind": "x"})])
    store.put_entitlements(sync_id, [Entitlement(ResourceRef("role", "admin"), "assigned", "Admin", ("user",))])
    store.put_grants(sync_id, [_grant("admin", f"u{i}") for i in range(0, 50, 5)])
    return sync_id


def _publish(store: WorkingStore | StoreProcess, sync_id: str) -> int:
    pruned = store.prune_dangling(sync_id, ["user"])
    store.finish(sync_id, stats=store.stats(sync_id))
    store.close()
    return pruned


def test_the_store_process_writes_the_artifact_the_in_process_store_writes(tmp_path: Path) -> None:
    contents = []
    for name, make in (("inline", WorkingStore), ("process", StoreProcess)):
        store = make(tmp_path / name / "sync.c1z", connector="acme")
        sync_id = _fill(store)
        rows = store.resources_after(sync_id, "user", 0, 7)
        assert [r.id for _, r in rows] == [f"u{i}" for i in range(7)]
        assert rows[0][1].profile == {"n": 0} and rows[0][1].emails == ("u0@example.com",)
        assert store.get_resource(sync_id, "role", "admin") == Resource("role", "admin", "Admin",
                                                                         profile={"kind": "x"})
        assert _publish(store, sync_id) == 0
        with Artifact(tmp_path / name / "sync.c1z") as artifact:
            contents.append(artifact.content())
    assert contents[0] == contents[1]
    assert len(contents[1]["grants"]) == 10


def test_only_checkpointed_writes_survive_when_the_engine_side_goes_away(tmp_path: Path) -> None:
    artifact = tmp_path / "sync.c1z"
    store = StoreProcess(artifact, connector="acme")
    sync_id = _fill(store)
    store.checkpoint(sync_id, {"step": 1})
    store.put_grants(sync_id, [_grant("admin", "u1")])  # after the checkpoint: rolled back
    store.close()  # what a killed engine's closed pipe does
    again = WorkingStore(artifact, connector="acme")
    try:
        assert again.unfinished() == (sync_id, {"step": 1})
        assert again.stats(sync_id)["grants"]["total"] == 10
    finally:
        again.close()


def test_an_error_in_a_write_nobody_waited_for_is_raised_by_the_next_call_that_waits(tmp_path: Path) -> None:
    store = StoreProcess(tmp_path / "sync.c1z", connector="acme")
    try:
        sync_id = _fill(store)
        bad = Grant(ResourceRef("role", "admin"), "assigned", ResourceRef("user", "u2"), data={"raw": b"\x00"})
        store.put_grants(sync_id, [bad])  # returns at once
        store.put_grants(sync_id, [_grant("admin", "u3")])  # not made: it came after a failed write
        with pytest.raises(ValueError, match="cannot store a bytes"):
            store.stats(sync_id)
        assert store.stats(sync_id)["grants"]["total"] == 10  # the error is raised once; the store goes on
    finally:
        store.close()


def test_the_store_process_ignores_the_stop_signals_the_engine_handles(tmp_path: Path) -> None:
    store = StoreProcess(tmp_path / "sync.c1z", connector="acme")
    try:
        sync_id = _fill(store)
        os.kill(store._child.pid, signal.SIGTERM)
        os.kill(store._child.pid, signal.SIGINT)
        store.checkpoint(sync_id, {"step": 2})
        assert store.unfinished() == (sync_id, {"step": 2})  # still there, and it answered
    finally:
        store.close()


def test_a_store_process_that_dies_is_a_one_line_artifact_error(tmp_path: Path) -> None:
    store = StoreProcess(tmp_path / "sync.c1z", connector="acme")
    try:
        os.kill(store._child.pid, signal.SIGKILL)
        with pytest.raises(ArtifactError, match=r"store process ended unexpectedly \(exit code -9\)"):
            store.unfinished()
    finally:
        store.close()


def test_the_store_process_logs_through_the_engines_logging(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    artifact = tmp_path / "sync.c1z"
    (tmp_path / "sync.c1z.partial").write_bytes(b"not a database at all, just bytes " * 100)
    with caplog.at_level(logging.INFO):
        store = StoreProcess(artifact, connector="acme")
        store.close()
    assert any(r.name == "iac.runtime._store" and r.levelno == logging.WARNING and
               "discarding an unreadable partial sync file" in r.getMessage() for r in caplog.records)


def test_an_open_that_fails_leaves_no_process(tmp_path: Path) -> None:
    artifact = tmp_path / "sync.c1z"
    artifact.write_bytes(b"C1Z3\x00pebble")
    with pytest.raises(ArtifactError, match=r"sync\.c1z"):
        StoreProcess(artifact, connector="acme")


@pytest.mark.parametrize("make", [WorkingStore, StoreProcess])
def test_early_pruning_and_the_final_prune_remove_every_dangling_grant_once(
        tmp_path: Path, make: type[WorkingStore] | type[StoreProcess]) -> None:
    store = make(tmp_path / "sync.c1z", connector="acme")
    sync_id = _fill(store)
    store.put_grants(sync_id, [_grant("admin", "ghost-1"), _grant("admin", "ghost-2")])
    store.listings_complete(sync_id, ["user"])  # users are listed; the grants go on
    assert store.stats(sync_id)["grants"]["total"] == 10
    store.put_grants(sync_id, [_grant("admin", "ghost-3"), _grant("admin", "u7")])
    assert _publish(store, sync_id) == 3
    with Artifact(tmp_path / "sync.c1z") as artifact:
        grants = {g[0] for g in artifact.content()["grants"]}
    assert len(grants) == 11 and "role:admin:assigned:user:u7" in grants
    assert not any("ghost" in g for g in grants)


def test_an_os_error_in_the_store_process_is_raised_as_itself_not_as_a_dead_process(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(FileExistsError, match="a-file"):  # what the in-process store raises too
        StoreProcess(tmp_path / "a-file" / "sync.c1z", connector="acme")
