"""Benchmark: the c1z artifact's write path, in process, for a Concur-shaped org (users with ten profile
attributes, four role grants each; the rows of bench/sync_concur.py without the HTTP).

    .venv/bin/python bench/c1z_store.py                      # 10k and 100k users
    .venv/bin/python bench/c1z_store.py --sizes 100000 --json out.json

Printed per size: CPU seconds and rows per CPU-second of the store while the sync writes (encoding and
SQLite; building the models is the connector's and left out), the end of the sync (which the sync's wall
time waits for) split into pruning, counting and publishing (compression), the database and artifact
sizes, and the per-row cost of encoding a grant and a user through the generated protobuf classes vs
``iac.c1z.wire`` (why the hot rows bypass the classes).
CPU time, not wall time: the figures hold on a busy machine. Target: the writes of a 100k-user Concur sync
(500k rows) in under 5 CPU-seconds, so that the sync stays bound by Concur's rate limit (10 s floor).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from iac.c1z import wire
from iac.runtime import (
    Entitlement,
    Grant,
    Resource,
    ResourceRef,
    ResourceType,
    Trait,
    UserStatus,
    WorkingStore,
    work_path_for,
)
from iac.runtime import _c1z_codec as codec

ROLES = 100
GRANTS_PER_USER = 4
PAGE = 100  # users per Spend page


def _user(n: int) -> Resource:
    email = f"user{n}@example.com"
    return Resource("user", f"{n:08d}-78b8-4352-96ff-3f0b34f082be", f"User {n}", status=UserStatus.ENABLED,
                    login=email, emails=(email,),
                    profile={"cost_center": f"CC-{2000 + n % 7 * 100}", "employee_number": str(200000 + n),
                             "start_date": "2021-11-05T06:29:35Z", "termination_date": None, "is_active": True,
                             "email": email, "given_name": "Given", "family_name": f"Family{n % 97}",
                             "user_name": email, "display_name": f"User {n}"})


def _per_row_us(fn: Any, rows: int = 5000) -> float:
    started = time.process_time()
    for _ in range(rows):
        fn()
    return round((time.process_time() - started) / rows * 1e6, 2)


def encoders() -> dict[str, float]:
    user = _user(1)
    grant = Grant(ResourceRef("role", "spend:R1"), "assigned", ResourceRef("user", user.id))
    ref = wire.entitlement_ref(grant.entitlement_id, "role", "spend:R1")
    return {
        "grant_generated_classes_us": _per_row_us(lambda: codec.grant_to_pb(grant).SerializeToString(
            deterministic=True)),
        "grant_wire_us": _per_row_us(lambda: wire.encode_grant(grant.id, ref, "user", user.id)),
        "user_generated_classes_us": _per_row_us(lambda: codec.resource_to_pb(user, (Trait.USER,)).SerializeToString(
            deterministic=True)),
        "user_wire_us": _per_row_us(lambda: wire.encode_resource(
            "user", user.id, user.display_name, trait="user", profile=user.profile, status=1, login=user.login or "",
            emails=user.emails)),
    }


def bench_size(users: int, workdir: Path) -> dict[str, Any]:
    artifact = workdir / f"concur-{users}.c1z"
    roles = [ResourceRef("role", f"spend:R{i}") for i in range(ROLES)]
    timings: dict[str, float] = {}

    def timed(name: str, started: float) -> float:
        now = time.process_time()
        timings[name] = round(now - started, 2)
        return now

    started = time.process_time()
    store = WorkingStore(artifact, connector="concur")
    sync_id = store.begin_sync({})
    store.put_resource_types(sync_id, [ResourceType("user", "User", (Trait.USER,), has_entitlements=False),
                                       ResourceType("role", "Role", (Trait.ROLE,))])
    store.put_resources(sync_id, [Resource("role", r.id, r.id) for r in roles])
    store.put_entitlements(sync_id, [Entitlement(r, "assigned", r.id, ("user",)) for r in roles])
    rows = 2 * ROLES
    building = 0.0  # the connector's share (models), left out of the store's figure
    for page in range(users // PAGE):
        built = time.process_time()
        batch = [_user(page * PAGE + i) for i in range(PAGE)]
        grants = [Grant(roles[(i * 7 + j) % ROLES], "assigned", u.ref)
                  for i, u in enumerate(batch) for j in range(GRANTS_PER_USER)]
        building += time.process_time() - built
        rows += store.put_resources(sync_id, batch)
        rows += store.put_grants(sync_id, grants)
        if page % 100 == 99:
            store.checkpoint(sync_id, {"page": page})
    store.checkpoint(sync_id, {"page": "last"})
    mark = timed("write_cpu_s", started + building)
    store.prune_dangling(sync_id, ["user"])
    mark = timed("prune_cpu_s", mark)
    stats = store.stats(sync_id)
    mark = timed("count_cpu_s", mark)
    database_bytes = work_path_for(artifact).stat().st_size
    store.finish(sync_id, stats=stats)
    timed("publish_cpu_s", mark)
    return {"users": users, "rows": rows, **timings,
            "rows_per_cpu_second": round(rows / timings["write_cpu_s"]),
            "end_of_sync_cpu_s": round(timings["prune_cpu_s"] + timings["count_cpu_s"]
                                       + timings["publish_cpu_s"], 2),
            "database_mb": round(database_bytes / 2**20, 1), "artifact_mb": round(artifact.stat().st_size / 2**20, 1),
            "artifact_bytes_per_grant": round(artifact.stat().st_size / (users * GRANTS_PER_USER), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated user counts")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report: dict[str, Any] = {"benchmark": "c1z_store", "encoders": encoders(), "runs": []}
    print(f"encoders: {json.dumps(report['encoders'])}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-c1z-") as tmp:
        for users in (int(s) for s in args.sizes.split(",") if s.strip()):
            run = bench_size(users, Path(tmp))
            print(f"[{users} users] {json.dumps(run)}", file=sys.stderr, flush=True)
            report["runs"].append(run)
    big = [r for r in report["runs"] if r["users"] >= 100_000]
    report["verdict"] = {"writes_of_100k_under_5_cpu_seconds": all(r["write_cpu_s"] < 5 for r in big) if big else None}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
