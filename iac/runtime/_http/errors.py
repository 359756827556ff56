"""Turning a vendor's error answer into the runtime's error tree (:mod:`iac.runtime.errors`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from iac.runtime.errors import (
    ApiError,
    AuthError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)

__all__ = ["STATUS_ERRORS", "ErrorParser", "api_error", "default_error_parser", "json_object_body"]

ErrorParser = Callable[[httpx.Response], tuple[str | None, str | None]]
"""``response -> (vendor error code, summary)``."""

STATUS_ERRORS: dict[int, type[ApiError]] = {
    401: AuthError, 403: PermissionDeniedError, 404: NotFoundError, 409: ConflictError,
}
"""Statuses with an error class of their own; other 4xx are :class:`BadRequestError`."""


def _str(value: Any) -> str | None:
    return None if value is None else str(value)[:300]


def json_object_body(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's body when it is a JSON object (what every vendor's error parser starts from), else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def default_error_parser(response: httpx.Response) -> tuple[str | None, str | None]:
    """Okta's ``errorCode``/``errorSummary``, ``{"errors":[{code,message}]}``, or ``error``/``message``."""
    body = json_object_body(response)
    if body is None:
        return None, None
    if "errorCode" in body or "errorSummary" in body:
        return _str(body.get("errorCode")), _str(body.get("errorSummary"))
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return _str(errors[0].get("code")), _str(errors[0].get("message"))
    return (_str(body.get("error") or body.get("code")),
            _str(body.get("message") or body.get("error_description")))


def api_error(response: httpx.Response, parser: ErrorParser, *, method: str, path: str,
              cls: type[ApiError] | None = None, retry_after: float | None = None,
              reset_at: float | None = None) -> ApiError:
    """The error for ``response``: ``cls``, or the class its status maps to. Never carries headers or bodies sent."""
    code, summary = parser(response)
    status = response.status_code
    message = f"HTTP {status}" + (f": {summary}" if summary else "")
    cls = cls or STATUS_ERRORS.get(status, BadRequestError)
    if cls is RateLimitedError:
        return RateLimitedError(message, retry_after=retry_after, reset_at=reset_at, method=method, path=path,
                                status=status, code=code, summary=summary)
    return cls(message, method=method, path=path, status=status, code=code, summary=summary)
