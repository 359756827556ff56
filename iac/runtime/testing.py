"""Test kit for connectors: a rate-limited fake vendor for ``httpx.MockTransport``, the environment of a
pod pointed at a simulator, and helpers.

``MockVendor`` routes requests to handlers, spends from fixed-window buckets read through a
:class:`~iac.runtime.Clock` (so it works in virtual time), answers 429 when a bucket is empty and
records every request for assertions.
"""

from __future__ import annotations

import email.utils
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from iac.runtime._clock import Clock
from iac.runtime._clock import VirtualClock as _VirtualClock
from iac.runtime._settings import RuntimeSettings
from iac.spec import Connector
from iac.spec.baton_env import env_name

__all__ = ["MockVendor", "Recorded", "RecordingTransport", "SkewedClock", "json_response", "pod_environment"]

T = TypeVar("T")
Handler = Callable[[httpx.Request, re.Match[str]], httpx.Response]


class RecordingTransport(httpx.BaseTransport):
    """A real HTTP transport (for a connector pointed at a simulator) that keeps every request, body read, for
    assertions. Subclasses bend the traffic: :meth:`before` sees (and may change) a request before it is sent,
    :meth:`after` may replace the response."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    @property
    def urls(self) -> list[httpx.URL]:
        return [request.url for request in self.requests]

    def before(self, request: httpx.Request) -> None:
        """Called before ``request`` is sent."""

    def after(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        """The response the client gets for ``request``."""
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.before(request)
        self.requests.append(request)
        return self.after(request, self.inner.handle_request(request))

    def close(self) -> None:
        self.inner.close()


def pod_environment(integration: type[Connector], *, simulator: str | None = None,
                    **settings: Any) -> dict[str, str]:
    """The ``BATON_*`` variables a pod of ``integration`` gets for ``settings``: integration settings under the
    names its spec gives them, runtime knobs (``file``, ``workers``, ...) as ``BATON_<NAME>``, and
    ``simulator`` as ``BATON_BASE_URL``. Only these variables: merge them into a clean environment."""
    names = {spec.name: spec.env for spec in integration.connector_settings()}
    names |= {name: env_name(name) for name in RuntimeSettings.model_fields}
    if simulator is not None:
        settings["base_url_override"] = simulator
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise ValueError(f"{integration.__name__} has no setting {', '.join(unknown)}")

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, list | tuple):
            return ",".join(map(str, value))
        return str(value)

    return {names[name]: text(value) for name, value in settings.items()}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(payload).encode(),
                          headers={"content-type": "application/json", **(headers or {})})


class SkewedClock:
    """Another host's view of a :class:`~iac.runtime.VirtualClock`: the same durations, its wall clock
    ``offset`` seconds off (a client whose clock runs ahead of the vendor's, or behind)."""

    def __init__(self, base: _VirtualClock, offset: float) -> None:
        self.base = base
        self.offset = offset

    def time(self) -> float:
        return self.base.time() + self.offset

    def monotonic(self) -> float:
        return self.base.monotonic()

    def sleep(self, seconds: float) -> None:
        self.base.sleep(seconds)

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return self.base.wait(event, seconds)


@dataclass(frozen=True, slots=True)
class Recorded:
    time: float
    method: str
    path: str
    bucket: str
    status: int


@dataclass
class _Window:
    started: float
    used: int = 0


@dataclass
class MockVendor:
    """``limits`` maps bucket → requests per ``window`` seconds; buckets not listed are unlimited.

    ``other_usage`` maps bucket → requests other integrations spend at the start of each window. Every
    answer carries ``Date`` from the vendor's clock (as real vendors' do) unless ``send_date`` is False.
    """

    clock: Clock
    limits: dict[str, int] = field(default_factory=dict)
    window: float = 60.0
    bucket_of: Callable[[str, str], str] = lambda method, path: path
    other_usage: dict[str, int] = field(default_factory=dict)
    send_date: bool = True
    routes: list[tuple[str, re.Pattern[str], Handler]] = field(default_factory=list)
    log: list[Recorded] = field(default_factory=list)
    _windows: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.routes.append((method, re.compile(f"^{pattern}$"), handler))
            return handler
        return register

    def transport(self) -> httpx.MockTransport:
        """A transport that calls :meth:`handle` at request time (tests may wrap ``handle`` later)."""
        return httpx.MockTransport(lambda request: self.handle(request))

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for entry in self.log:
            out[entry.status] = out.get(entry.status, 0) + 1
        return out

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        bucket = self.bucket_of(request.method, path)
        headers: dict[str, str] = {}
        with self._lock:
            now = self.clock.time()
            if self.send_date:
                headers["date"] = email.utils.formatdate(now, usegmt=True)
            limit = self.limits.get(bucket)
            if limit is not None:
                win = self._windows.get(bucket)
                if win is None or now >= win.started + self.window:
                    win = self._windows[bucket] = _Window(now, self.other_usage.get(bucket, 0))
                allowed = win.used < limit
                if allowed:
                    win.used += 1
                headers |= {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(limit - win.used),
                           "x-rate-limit-reset": f"{win.started + self.window:.3f}"}
                if not allowed:
                    self.log.append(Recorded(now, request.method, path, bucket, 429))
                    return json_response({"errorCode": "E0000047", "errorSummary": "rate limited"}, 429, headers)
        for method, pattern, handler in self.routes:
            match = pattern.match(path)
            if method == request.method and match:
                response = handler(request, match)
                break
        else:
            response = json_response({"errorCode": "E0000022", "errorSummary": "no route"}, 404)
        response.headers.update(headers)
        with self._lock:
            self.log.append(Recorded(now, request.method, path, bucket, response.status_code))
        return response
