"""The bundled Coupa connector (ConductorOne's hosted "Coupa v2", with the public baton-coupa's defects fixed)."""

from __future__ import annotations

from iac.connectors.coupa.auth import ClientCredentials
from iac.connectors.coupa.client import (
    COUPA_LIMITS,
    LICENSE_FLAGS,
    PAGE_SIZE,
    CoupaClient,
    OffsetPage,
    coupa_bucket,
    coupa_error_parser,
)
from iac.connectors.coupa.config import ACCOUNTING_SCOPE, api_base_url, token_scopes
from iac.connectors.coupa.connector import CoupaConnector, build
from iac.connectors.coupa.provisioner import CoupaProvisioner
from iac.connectors.coupa.resources import license_name

__all__ = [
    "ACCOUNTING_SCOPE",
    "COUPA_LIMITS",
    "LICENSE_FLAGS",
    "PAGE_SIZE",
    "ClientCredentials",
    "CoupaClient",
    "CoupaConnector",
    "CoupaProvisioner",
    "OffsetPage",
    "api_base_url",
    "build",
    "coupa_bucket",
    "coupa_error_parser",
    "license_name",
    "token_scopes",
]
