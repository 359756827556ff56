"""SAP Concur connector configuration: the ``Concur`` integration spec, read back from the environment the
rendered manifests set (see :mod:`iac.runtime._settings`), and which geolocations may receive credentials."""

from __future__ import annotations

from urllib.parse import urlsplit

from iac.runtime import RuntimeSettings
from iac.runtime.errors import FatalApiError
from iac.spec import Concur
from iac.spec.integrations.concur import CONCUR_GEOLOCATIONS

__all__ = ["checked_geolocation", "token_base_url"]


def token_base_url(settings: RuntimeSettings) -> str:
    """Where the first token is requested: ``BATON_BASE_URL`` when set (simulator, proxy), else the
    configured geolocation (``BATON_CONCUR_BASE_URL``)."""
    return settings.base_url or settings.config_as(Concur).base_url


def checked_geolocation(value: object, *, trust_any: bool) -> str:
    """The ``geolocation`` of a token response as an origin, if credentials may be sent there.

    A token response names the geolocation all later calls (and refreshes) must go to. The access token
    and the client secret follow it, so it is only followed to one of Concur's published geolocations —
    never to another host a tampered or misrouted response might name — unless ``BATON_BASE_URL`` is set
    (``trust_any``): then the operator pointed the connector at a simulator or proxy on purpose, and the
    geolocation that endpoint names wins.
    """
    if not isinstance(value, str) or not value.strip():
        raise FatalApiError("the Concur token response names no geolocation")
    parts = urlsplit(value.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise FatalApiError(f"the Concur token response names an invalid geolocation {value[:100]!r}")
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    if not trust_any and origin not in CONCUR_GEOLOCATIONS:
        raise FatalApiError(f"the Concur token response names geolocation {origin!r}, which is not a Concur "
                            "geolocation; refusing to send credentials there (set BATON_BASE_URL to use a proxy)")
    return origin
