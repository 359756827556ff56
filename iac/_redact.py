"""The process-wide list of secret values and the one function that masks them in any text.

Every credential the process handles is registered here once (a resolved ``secret.env``/``file``/``literal``,
a runtime token, a simulator token, a Terraform write-only value); every error line, log line and traceback
the process prints goes through :func:`redact`. ``Authorization``/``SSWS``/``Bearer`` values are masked by
pattern as a second line of defence. A leaf module: the CLI's error printer imports it at no cost.
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["RedactingFormatter", "redact", "register_secret"]

_secrets: set[str] = set()
_lock = threading.Lock()
_PATTERNS = [
    re.compile(r"(?i)\b(SSWS|Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}\s]+"),
]


def register_secret(value: str | None) -> None:
    """Never print ``value``: :func:`redact` replaces it (values shorter than 4 characters are too common)."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)} [REDACTED]", text)
    return _PATTERNS[1].sub(lambda m: f"{m.group(1)}[REDACTED]", text)


class RedactingFormatter(logging.Formatter):
    """A logging formatter whose every line, traceback included, goes through :func:`redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
