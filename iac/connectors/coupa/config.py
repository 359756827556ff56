"""Coupa connector configuration: the ``Coupa`` integration spec, read back from the environment the
rendered manifests set (see :mod:`iac.runtime._settings`), and the OAuth scopes it asks for."""

from __future__ import annotations

from iac.runtime import RuntimeSettings
from iac.spec import Coupa

__all__ = ["ACCOUNTING_SCOPE", "api_base_url", "token_scopes"]

ACCOUNTING_SCOPE = "core.accounting.read"
"""Optional: account groups are synced only when the client holds it."""


def api_base_url(settings: RuntimeSettings) -> str:
    """``BATON_BASE_URL`` when set (simulator, proxy), else ``https://<tenant>.coupahost.com``."""
    return settings.base_url or f"https://{settings.config_as(Coupa).domain}"


def token_scopes(provisioning: bool) -> tuple[str, ...]:
    """The read scopes, plus the write scopes only when provisioning is on (least privilege)."""
    info = Coupa.integration
    return info.read_scopes + (info.write_scopes if provisioning else ())
