"""Structured logging for the runtime: console or JSON lines on stderr, with secrets redacted.

Secret values are registered once (:func:`register_secret`) and replaced by ``[REDACTED]`` in every
formatted line, including tracebacks; ``Authorization``/``SSWS``/``Bearer`` header values are
masked by pattern as a second line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import IO, Any

from iac._redact import redact, register_secret

__all__ = ["JsonFormatter", "configure_logging", "redact", "register_secret"]

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        extra = " ".join(f"{k}={v}" for k, v in record.__dict__.items() if k not in _STANDARD)
        line = f"{when}Z {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        if extra:
            line += f" {extra}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, extras, ``exc``."""

    def __init__(self, host_id: str = "") -> None:
        super().__init__()
        self.host_id = host_id

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        if self.host_id:
            doc["host_id"] = self.host_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                doc[key] = value if isinstance(value, str | int | float | bool | type(None)) else str(value)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(doc, ensure_ascii=False, default=str))


def configure_logging(level: str = "info", fmt: str = "console", *, host_id: str = "",
                      stream: IO[str] | None = None, secrets: list[str] | None = None) -> logging.Handler:
    """Send ``iac`` logs (and warnings from libraries) to ``stream`` (stderr) in ``fmt``."""
    for secret in secrets or []:
        register_secret(secret)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(host_id) if fmt == "json" else _ConsoleFormatter())
    root = logging.getLogger("iac")
    for old in list(root.handlers):
        if getattr(old, "_iac_runtime", False):
            root.removeHandler(old)
    handler._iac_runtime = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
    for noisy in ("httpx", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
