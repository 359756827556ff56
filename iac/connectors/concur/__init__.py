"""The bundled SAP Concur connector (after ConductorOne's baton-concur, whose source is not public)."""

from __future__ import annotations

from iac.connectors.concur.auth import ConcurSession
from iac.connectors.concur.client import ConcurClient, concur_bucket, concur_error_parser
from iac.connectors.concur.config import checked_geolocation, token_base_url
from iac.connectors.concur.connector import ConcurConnector, build
from iac.connectors.concur.provisioner import ConcurProvisioner
from iac.connectors.concur.roles import CONCUR_PRODUCTS, SPEND_ROLES, RoleInfo, role_info

__all__ = [
    "CONCUR_PRODUCTS",
    "SPEND_ROLES",
    "ConcurClient",
    "ConcurConnector",
    "ConcurProvisioner",
    "ConcurSession",
    "RoleInfo",
    "build",
    "checked_geolocation",
    "concur_bucket",
    "concur_error_parser",
    "role_info",
    "token_base_url",
]
