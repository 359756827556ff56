"""Shared by the connector CLI tests: `iac connector ...` in a subprocess, configured like a pod."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from iac.runtime.testing import pod_environment
from iac.spec import Connector

__all__ = ["TokenTap", "iac", "pod_env"]


def pod_env(integration: type[Connector], *, simulator: str, artifact: Path, **settings: Any) -> dict[str, str]:
    """This environment without inherited ``BATON_*``, plus what a pod of ``integration`` gets for ``settings``
    (names from its spec), pointed at the simulator and writing ``artifact``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return clean | {"COLUMNS": "200"} | pod_environment(integration, simulator=simulator, file=artifact, **settings)


def iac(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iac", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


class TokenTap:
    """ASGI wrapper that keeps every access, refresh and id token the simulator's token endpoint hands out
    (to search the logs for them)."""

    def __init__(self, app: Any, token_path: str) -> None:
        self.app = app
        self.token_path = token_path
        self.secrets: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != self.token_path:
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
                if not message.get("more_body"):
                    answer = json.loads(bytes(body) or b"{}")
                    self.secrets += [answer[k] for k in ("access_token", "refresh_token", "id_token") if k in answer]
            await send(message)

        await self.app(scope, receive, capture)
