"""The bundled Okta connector (in the spirit of ConductorOne's baton-okta)."""

from __future__ import annotations

from iac.connectors.okta.client import PAGE_SIZES, Listing, OktaClient, okta_bucket
from iac.connectors.okta.config import api_base_url
from iac.connectors.okta.connector import OktaConnector, build
from iac.connectors.okta.provisioner import OktaProvisioner
from iac.connectors.okta.resources import STANDARD_ROLES, map_user_status

__all__ = [
    "PAGE_SIZES",
    "STANDARD_ROLES",
    "Listing",
    "OktaClient",
    "OktaConnector",
    "OktaProvisioner",
    "api_base_url",
    "build",
    "map_user_status",
    "okta_bucket",
]
