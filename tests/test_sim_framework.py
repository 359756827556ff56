"""The shared simulator machinery, exercised through a toy vendor the way Coupa/Concur/Celigo will use it."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import httpx
import pytest

from iac.plugins import plugins
from iac.sim import BucketState, FaultSettings, ManualClock, SimulatorBase, TokenBucketLimiter, serve
from iac.sim._http import Endpoint, SimError, SimRequest, SimResponse
from iac.sim._paging import CursorCodec, InvalidCursor, PageSize
from iac.sim._ratelimit import FixedWindowLimiter
from iac.sim._seeded import IdCodec, stable_fraction


class ToySim(SimulatorBase):
    """Bearer auth, a Celigo-like error body and a leaky bucket with Retry-After."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(seed=3, clock=clock, rate_limiter=lambda c: TokenBucketLimiter(
            {"all": 3}, {"all": 0.5}, clock=c))

    def endpoints(self) -> Sequence[Endpoint]:
        return [Endpoint("GET", "/v1/things/{thingId}", self._thing, "all")]

    def _thing(self, request: SimRequest) -> SimResponse:
        if request.path_params["thingId"] != "1":
            raise SimError(404, "not_found", "no such thing")
        return SimResponse(200, {"_id": "1"})

    def is_authorized(self, request: SimRequest) -> bool:
        return request.headers.get("authorization") == "Bearer secret"

    def unauthorized_error(self) -> SimError:
        return SimError(401, "unauthorized", "bad token")

    def rate_limited_error(self, bucket: BucketState) -> SimError:
        return SimError(429, "rate_limited", "Too many requests.",
                        headers=[("Retry-After", str(math.ceil(bucket.retry_after)))])

    def server_error(self) -> SimError:
        return SimError(503, "unavailable", "try later")

    def unknown_route_error(self, method: str, path: str) -> SimError:
        return SimError(404, "not_found", f"{method} {path}")

    def error_payload(self, error: SimError, request_id: str) -> Any:
        return {"errors": [{"code": error.code, "message": error.summary}]}


def test_a_new_vendor_gets_auth_errors_buckets_and_counters_from_the_base() -> None:
    clock = ManualClock()
    sim = ToySim(clock)
    with serve(sim.app) as base, httpx.Client(base_url=base, headers={"Authorization": "Bearer secret"}) as c:
        assert [c.get("/v1/things/1").status_code for _ in range(3)] == [200, 200, 200]
        limited = c.get("/v1/things/1")
        assert limited.status_code == 429 and limited.headers["retry-after"] == "2"  # 1 token at 0.5/s
        assert limited.json() == {"errors": [{"code": "rate_limited", "message": "Too many requests."}]}
        clock.advance(2)
        assert c.get("/v1/things/1").status_code == 200
        clock.advance(4)  # two more tokens
        assert c.get("/v1/things/2").json()["errors"][0]["code"] == "not_found"
        assert httpx.get(f"{base}/v1/things/1").status_code == 401
        assert c.get("/v1/nothing").json() == {"errors": [{"code": "not_found", "message": "GET /v1/nothing"}]}
        sim.set_faults(error_rate=1.0)
        assert c.get("/v1/things/1").status_code == 503
    assert sim.stats.by_endpoint() == {"GET /v1/things/{thingId}": {"200": 4, "401": 1, "404": 1,
                                                                    "429": 1, "503": 1},
                                       "unmatched": {"404": 1}}


def test_serve_binds_loopback_on_a_free_port_and_stops() -> None:
    sim = ToySim(ManualClock())
    with serve(sim.app) as first, serve(sim.app) as second:
        assert first.startswith("http://127.0.0.1:") and first != second
        assert httpx.get(f"{first}/v1/things/1").status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first}/v1/things/1")


def test_id_codec_is_a_bijection_that_rejects_foreign_ids() -> None:
    codec = IdCodec(7, "00u", suffix="x4z")
    ids = [codec.encode(i) for i in range(20_000)]
    assert len(set(ids)) == 20_000 and all(len(i) == 20 for i in ids)
    assert [codec.decode(i) for i in ids[:500]] == list(range(500))
    assert IdCodec(8, "00u", suffix="x4z").encode(0) != ids[0]
    assert codec.decode("00g" + ids[0][3:]) is None and codec.decode(ids[0][:-1]) is None
    assert codec.decode("00u!!!!!!!!!!!!!!x4z") is None


def test_cursor_codec_round_trips_and_detects_tampering() -> None:
    codec = CursorCodec(b"k" * 16)
    token = codec.encode("/api/v1/users", 12345)
    assert codec.decode("/api/v1/users", token) == 12345
    for bad_scope, bad_token in [("/api/v1/groups", token), ("/api/v1/users", token[:-1] + "A"),
                                 ("/api/v1/users", "%%%"), ("/api/v1/users", "")]:
        with pytest.raises(InvalidCursor):
            codec.decode(bad_scope, bad_token)
    assert CursorCodec(b"j" * 16).encode("/api/v1/users", 12345) != token


def test_fixed_window_scaling_never_drops_below_one_request() -> None:
    clock = ManualClock(start=100.0)
    limiter = FixedWindowLimiter({"a": 600, "b": 10}, clock=clock, scale=0.01)
    assert limiter.families == {"a": 6, "b": 1}
    assert limiter.take("b").allowed and not limiter.take("b").allowed
    assert limiter.peek("b").retry_after == 60.0
    clock.advance(60)
    assert limiter.take("b").allowed


def test_fault_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError, match="probability"):
        FaultSettings(error_rate=1.5)
    with pytest.raises(ValueError, match="negative"):
        FaultSettings(latency_ms=-1)
    with pytest.raises(ValueError, match="unknown"):
        FaultSettings().updated({"eror_rate": 0.1})
    assert PageSize(default=20, maximum=200, minimum=20).resolve("5") == 20
    fractions = [stable_fraction(1, "x", i) for i in range(2000)]
    assert 0.45 < sum(fractions) / len(fractions) < 0.55 and fractions == [stable_fraction(1, "x", i)
                                                                          for i in range(2000)]


class _WritingToySim(ToySim):
    def endpoints(self) -> Sequence[Endpoint]:
        return [*super().endpoints(), Endpoint("PUT", "/v1/things/{thingId}", self._put, "all", records_writes=True)]

    def _put(self, request: SimRequest) -> SimResponse:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise SimError(400, "invalid", "a JSON object please")
        return SimResponse(204)


def test_write_log_keeps_every_body_with_its_outcome_and_token_expiry_is_opt_in() -> None:
    sim = _WritingToySim(ManualClock())
    with serve(sim.app) as base, httpx.Client(base_url=base, headers={"Authorization": "Bearer secret"}) as c:
        assert c.put("/v1/things/1", json={"a": []}).status_code == 204
        assert c.put("/v1/things/1", content=b"[oops").status_code == 400  # not JSON: logged as text
        assert httpx.put(f"{base}/v1/things/1", json={"b": 1}).status_code == 401  # logged although refused
        assert c.get("/v1/things/1").status_code == 200  # reads are not logged
        logged = c.get("/__sim/writes").json()
        assert [(w["body"], w["status"]) for w in logged] == [({"a": []}, 204), ("[oops", 400), ({"b": 1}, 401)]
        assert c.delete("/__sim/writes").status_code == 204 and sim.writes.entries() == []
        refused = c.post("/__sim/tokens/expire")  # the toy's token never expires
        assert refused.status_code == 404 and "no expiring tokens" in refused.json()["error"]


@pytest.mark.parametrize("vendor", [name for name, plugin in plugins().items() if plugin.simulator])
def test_cli_fault_options_are_the_fault_settings(vendor: str) -> None:
    """Every `iac sim <vendor>` takes one option per FaultSettings knob (lost_answer_rate included) and
    starts the simulator with them; out-of-range rates are refused before anything listens."""
    refused = subprocess.run([sys.executable, "-m", "iac", "sim", vendor, "--port", "0", "--error-rate", "1.5"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "--error-rate" in refused.stderr

    knobs = {f.name: 0.25 if f.name.endswith("_rate") else 7.0 for f in fields(FaultSettings)}
    argv = [f"--{name.replace('_', '-')}={value}" for name, value in knobs.items()]
    proc = subprocess.Popen([sys.executable, "-m", "iac", "sim", vendor, "--port", "0", "--users", "5", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert httpx.get(f"{base_url}/__sim/faults").json() == knobs
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
