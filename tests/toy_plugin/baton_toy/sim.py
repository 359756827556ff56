"""A stateful Toy API: users, teams and team members, paged by cursor, behind a bearer token."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from iac.sim import (
    BucketState,
    Endpoint,
    FaultSettings,
    SimError,
    SimRequest,
    SimResponse,
    SimulatorBase,
    TokenBucketLimiter,
)

PAGE = 10


@dataclass
class ToyDataset:
    users: list[str]
    teams: dict[str, set[str]]

    def first_non_member(self) -> tuple[str, str]:
        team = next(iter(self.teams))
        return team, next(u for u in self.users if u not in self.teams[team])


class ToySim(SimulatorBase):
    def __init__(self, *, seed: int = 0, users: int = 30, teams: int = 4, rate_scale: float = 1.0,
                 faults: FaultSettings | None = None) -> None:
        super().__init__(seed=seed, faults=faults, rate_limiter=lambda clock: TokenBucketLimiter(
            {"api": 100}, {"api": 50.0}, clock=clock, scale=rate_scale))
        rng = random.Random(seed)
        names = [f"u{i:04d}" for i in range(users)]
        self.dataset = ToyDataset(names, {f"t{i:02d}": {u for u in names if rng.random() < 0.3}
                                          for i in range(teams)})
        self.token = hashlib.sha256(f"toy-{seed}".encode()).hexdigest()[:24]

    def endpoints(self) -> Sequence[Endpoint]:
        return [
            Endpoint("GET", "/api/users", lambda r: self._page(r, self.dataset.users), "api", is_page=True),
            Endpoint("GET", "/api/teams", lambda r: self._page(r, list(self.dataset.teams)), "api", is_page=True),
            Endpoint("GET", "/api/teams/{team}/members",
                     lambda r: self._page(r, sorted(self._team(r))), "api", is_page=True),
            Endpoint("PUT", "/api/teams/{team}/members/{user}", self._add, "api", records_writes=True),
            Endpoint("DELETE", "/api/teams/{team}/members/{user}", self._remove, "api", records_writes=True),
        ]

    def _team(self, request: SimRequest) -> set[str]:
        team = self.dataset.teams.get(request.path_params["team"])
        if team is None:
            raise SimError(404, "not_found", "no such team")
        return team

    def _page(self, request: SimRequest, ids: list[str]) -> SimResponse:
        start = int(request.query.get("cursor") or 0)
        following = start + PAGE if start + PAGE < len(ids) else None
        return SimResponse(200, {"items": [{"id": i, "name": i.upper()} for i in ids[start:start + PAGE]],
                                 "next": None if following is None else str(following)})

    def _user(self, request: SimRequest) -> str:
        user = request.path_params["user"]
        if user not in self.dataset.users:
            raise SimError(404, "not_found", "no such user")
        return user

    def _add(self, request: SimRequest) -> SimResponse:
        self._team(request).add(self._user(request))
        return SimResponse(204)

    def _remove(self, request: SimRequest) -> SimResponse:
        self._team(request).discard(self._user(request))
        return SimResponse(204)

    def is_authorized(self, request: SimRequest) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def unauthorized_error(self) -> SimError:
        return SimError(401, "unauthorized", "bad token")

    def rate_limited_error(self, bucket: BucketState) -> SimError:
        return SimError(429, "rate_limited", "slow down", headers=[("Retry-After", "1")])

    def server_error(self) -> SimError:
        return SimError(503, "unavailable", "try later")

    def unknown_route_error(self, method: str, path: str) -> SimError:
        return SimError(404, "not_found", f"{method} {path}")

    def error_payload(self, error: SimError, request_id: str) -> Any:
        return {"error": error.code, "message": error.summary, "request_id": request_id}

    def state_summary(self) -> dict[str, Any]:
        return {"users": len(self.dataset.users), "teams": len(self.dataset.teams)}
