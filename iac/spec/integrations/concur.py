"""SAP Concur: users (Identity v4.1) and roles for Concur and Concur Spend."""

from __future__ import annotations

from typing import Annotated, ClassVar
from urllib.parse import urlsplit

from pydantic import field_validator

from iac.spec._connector import Connector, EntitlementDoc, Integration, ResourceTypeDoc, SecretField
from iac.spec._settings import Setting

__all__ = ["CONCUR_GEOLOCATIONS", "Concur"]

# Production geolocations, their www- variants (no client certificate) and the implementation hosts.
_DATACENTERS = ("us", "us2", "emea", "eu", "eu2", "usg")
CONCUR_GEOLOCATIONS: tuple[str, ...] = (
    tuple(f"https://{dc}.api.concursolutions.com" for dc in _DATACENTERS)
    + tuple(f"https://www-{dc}.api.concursolutions.com" for dc in _DATACENTERS)
    + ("https://us-impl.api.concursolutions.com", "https://emea-impl.api.concursolutions.com",
       "https://cn.api.concurcdc.cn")
)


class Concur(Connector):
    """A SAP Concur company synced with a company-level refresh token."""

    integration: ClassVar[Integration] = Integration(
        name="concur",
        title="SAP Concur",
        summary="SAP Concur users (Identity v4.1) and roles of Concur and Concur Spend",
        syncs=(
            ResourceTypeDoc("user", "users with is_active, email, employee_number, cost_center, start and "
                            "termination dates"),
            ResourceTypeDoc("role", "roles of the base Concur app and of Concur Spend",
                            (EntitlementDoc("assigned", ("user",), "holds the role"),), provisioned=True),
        ),
        provisioning=("assign and remove roles",),
        upstream_setup=(
            "Register an app with grants refresh_token and password (SAP Concur App Management).",
            "Create a company-level refresh token (SAP tutorial 'Create Tokens Required for Concur API "
            "Access'); it lasts six months and Concur may rotate it on refresh.",
            "Use the base URL of the geolocation the token was issued for.",
        ),
        read_scopes=("USER", "openid", "identity.user.core.read", "identity.user.coresensitive.read",
                     "identity.user.enterprise.read", "spend.user.general.read"),
        write_scopes=("user.write", "user.provision.write", "identity.user.coreenterprise.writeonly",
                      "identity.user.externalID.writeonly", "identity.user.emails.verified.writeonly",
                      "identity.user.sap.writeonly", "spend.user.general.writeonly"),
        docs_url="https://developer.concur.com/api-reference/authentication/getting-started.html",
        c1_resource="conductorone_integration_concur",
        c1_catalog_id="2raF3cx8IQO8B31V8LId3gQF8BZ",
        hosting=("self", "cloud"),
        known_defects_fixed=(
            "follows the token's geolocation and keeps using a rotated refresh token (logged, never printed)",
        ),
    )

    base_url: Annotated[str, Setting(
        env="BATON_CONCUR_BASE_URL", help="geolocation base URL of the Concur company",
        c1="concur_base_url", example="https://us2.api.concursolutions.com")]
    client_id: Annotated[str, Setting(env="BATON_CONCUR_CLIENT_ID", help="Concur app client ID",
                                      c1="concur_client_id")]
    client_secret: Annotated[SecretField, Setting(env="BATON_CONCUR_CLIENT_SECRET", help="Concur app client secret",
                                                  c1="concur_client_secret")]
    refresh_token: Annotated[SecretField, Setting(env="BATON_CONCUR_REFRESH_TOKEN",
                                                  help="company-level refresh token",
                                                  c1="concur_refresh_token")]

    @field_validator("base_url", mode="before")
    @classmethod
    def _base_url(cls, value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string URL")
        url = value.strip().rstrip("/").lower()
        if url and "://" not in url:
            url = "https://" + url
        parts = urlsplit(url)
        normalized = f"{parts.scheme}://{parts.netloc}"
        if parts.path or parts.query or normalized not in CONCUR_GEOLOCATIONS:
            raise ValueError(
                f"{value!r} is not a Concur geolocation; use one of "
                + ", ".join(u for u in CONCUR_GEOLOCATIONS if "www-" not in u)
            )
        return normalized

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value
