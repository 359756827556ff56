"""Celigo connector configuration: the ``Celigo`` integration spec, read back from the environment the
rendered manifests set (see :mod:`iac.runtime._settings`)."""

from __future__ import annotations

from iac.runtime import RuntimeSettings
from iac.spec import Celigo
from iac.spec.integrations.celigo import CELIGO_API_URLS

__all__ = ["api_base_url"]


def api_base_url(settings: RuntimeSettings) -> str:
    """``BATON_BASE_URL`` when set (simulator, proxy), else the region's API origin
    (``us`` → api.integrator.io, ``eu`` → api.eu.integrator.io); paths carry ``/v1``."""
    return settings.base_url or CELIGO_API_URLS[settings.config_as(Celigo).region]
