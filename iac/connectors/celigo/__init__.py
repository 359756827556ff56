"""The bundled Celigo connector (in the spirit of ConductorOne's baton-celigo, with its defects fixed)."""

from __future__ import annotations

from iac.connectors.celigo.client import CELIGO_LIMITS, PAGE_SIZE, CeligoClient, LinkPage, celigo_bucket, writable
from iac.connectors.celigo.config import api_base_url
from iac.connectors.celigo.connector import CeligoConnector, build
from iac.connectors.celigo.provisioner import CeligoProvisioner
from iac.connectors.celigo.resources import ACCOUNT_ROLES

__all__ = [
    "ACCOUNT_ROLES",
    "CELIGO_LIMITS",
    "PAGE_SIZE",
    "CeligoClient",
    "CeligoConnector",
    "CeligoProvisioner",
    "LinkPage",
    "api_base_url",
    "build",
    "celigo_bucket",
    "writable",
]
