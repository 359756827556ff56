"""Okta connector configuration: the ``Okta`` integration spec, read back from the environment the
rendered manifests set (see :mod:`iac.runtime._settings`)."""

from __future__ import annotations

from iac.runtime import RuntimeSettings
from iac.spec import Okta

__all__ = ["api_base_url"]


def api_base_url(settings: RuntimeSettings) -> str:
    """``BATON_BASE_URL`` when set (simulator, proxy, preview org), else ``https://<domain>``."""
    return settings.base_url or f"https://{settings.config_as(Okta).domain}"
