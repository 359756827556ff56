"""Errors of the connector runtime, grafted onto the project tree in :mod:`iac.errors`.

    IacError
    ├── SpecError
    │   └── ConnectorConfigError      a BATON_* setting or CLI flag is missing or malformed
    ├── ApiError                      a vendor API call failed (method, path, status, vendor error code)
    │   ├── RetriableApiError         worth retrying later: the runtime already retried and gave up
    │   │   ├── RateLimitedError      429 (retry_after, reset_at)
    │   │   ├── ServerError           5xx
    │   │   ├── ConnectionFailedError connect/read errors and timeouts (status 0)
    │   │   └── WriteOutcomeUnknownError a write may or may not have been carried out: re-read, then decide
    │   └── FatalApiError             retrying cannot help
    │       ├── AuthError             401: the token is wrong or expired
    │       ├── PermissionDeniedError 403: the token lacks a role or scope
    │       ├── NotFoundError         404
    │       ├── ConflictError         409
    │       ├── BadRequestError       other 4xx
    │       ├── PagingError           the vendor's pages loop (a token came back) or never end
    │       └── EmptyListingError     a listing that cannot be empty was (e.g. a token that sees no users)
    ├── ProvisioningDisabledError     grant/revoke without BATON_PROVISIONING=true
    ├── ArtifactError                 the sync artifact is missing, not ours, or unreadable
    └── SyncInterruptedError          a stop was requested; the sync was checkpointed and can resume

Messages carry method, path and the vendor's error code/summary; they never carry headers, bodies
sent, or query strings with credentials (the runtime never puts credentials in URLs).
"""

from __future__ import annotations

from iac.errors import IacError, SpecError

__all__ = [
    "ApiError",
    "ArtifactError",
    "AuthError",
    "BadRequestError",
    "ConflictError",
    "ConnectionFailedError",
    "ConnectorConfigError",
    "EmptyListingError",
    "FatalApiError",
    "NotFoundError",
    "PagingError",
    "PermissionDeniedError",
    "ProvisioningDisabledError",
    "RateLimitedError",
    "RetriableApiError",
    "ServerError",
    "SyncInterruptedError",
    "WriteOutcomeUnknownError",
]


class ConnectorConfigError(SpecError):
    """A runtime setting is invalid; ``field`` is the environment variable name."""


class ApiError(IacError):
    """A vendor API call failed. ``status`` is 0 for transport failures."""

    def __init__(self, message: str, *, method: str = "", path: str = "", status: int = 0,
                 code: str | None = None, summary: str | None = None) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.code = code
        self.summary = summary
        where = f"{method} {path}".strip()
        detail = f" [{code}]" if code else ""
        super().__init__(f"{where}: {message}{detail}" if where else f"{message}{detail}")


class RetriableApiError(ApiError):
    """Transient failure; the runtime's retry budget was exhausted."""


class RateLimitedError(RetriableApiError):
    """HTTP 429 after all retries. ``retry_after`` in seconds, ``reset_at`` as epoch seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, reset_at: float | None = None,
                 method: str = "", path: str = "", status: int = 429, code: str | None = None,
                 summary: str | None = None) -> None:
        self.retry_after = retry_after
        self.reset_at = reset_at
        super().__init__(message, method=method, path=path, status=status, code=code, summary=summary)


class ServerError(RetriableApiError):
    """HTTP 5xx after all retries."""


class ConnectionFailedError(RetriableApiError):
    """The connection failed or timed out after all retries."""


class WriteOutcomeUnknownError(RetriableApiError):
    """A write's answer was lost (connection cut, 5xx, a body cut short): the vendor may have carried it
    out. It is never re-sent blindly; the caller reads the current state and decides (see
    :func:`iac.runtime.provision_once`)."""


class FatalApiError(ApiError):
    """A failure that retrying cannot fix."""


class AuthError(FatalApiError):
    """HTTP 401."""


class PermissionDeniedError(FatalApiError):
    """HTTP 403."""


class NotFoundError(FatalApiError):
    """HTTP 404."""


class ConflictError(FatalApiError):
    """HTTP 409."""


class BadRequestError(FatalApiError):
    """Any other 4xx."""


class PagingError(FatalApiError):
    """A listing's next-page token came back (a cycle) or its pages did not end within the bound."""


class EmptyListingError(FatalApiError):
    """A listing answered nothing where something must exist: the credentials see less than they should."""


class ProvisioningDisabledError(IacError):
    """Grant or revoke was asked for while provisioning is off."""


class ArtifactError(IacError):
    """The sync artifact cannot be used."""


class SyncInterruptedError(IacError):
    """A stop was requested mid-sync; progress is checkpointed and the next run resumes it."""

    exit_code = 3
