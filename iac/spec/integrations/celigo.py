"""Celigo integrator.io: users (account shares), integrations and account roles."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from iac.spec._connector import Connector, EntitlementDoc, Integration, ResourceTypeDoc, SecretField
from iac.spec._settings import Setting

__all__ = ["CELIGO_API_URLS", "Celigo"]

CELIGO_API_URLS = {"us": "https://api.integrator.io", "eu": "https://api.eu.integrator.io"}


class Celigo(Connector):
    """A Celigo integrator.io account synced with an API token."""

    integration: ClassVar[Integration] = Integration(
        name="celigo",
        title="Celigo",
        summary="Celigo users (account shares), integrations and account roles",
        syncs=(
            ResourceTypeDoc("user", "users the account is shared with (the owner is not listed)"),
            ResourceTypeDoc("integration", "integrations",
                            (EntitlementDoc("manage", ("user",), "may edit the integration"),
                             EntitlementDoc("monitor", ("user",), "may view the integration"))),
            ResourceTypeDoc("role", "account roles administrator, manage and monitor",
                            (EntitlementDoc("assigned", ("user",), "holds the account role"),), provisioned=True),
        ),
        provisioning=(
            "grant sets the user's account access level",
            "revoke removes that access from the account (not a silent demotion to monitor)",
        ),
        upstream_setup=(
            "Create an API token (Resources → API tokens) with full access for the account and environment "
            "(production or sandbox) to sync.",
            "Pick region 'eu' for accounts on eu.integrator.io.",
        ),
        docs_url="https://docs.celigo.com/hc/en-us/articles/7707985934363",
        c1_resource="conductorone_integration_celigo",
        c1_catalog_id="2dYaeXEaVg98tOmx0fXZCZ4jvza",
        hosting=("self", "cloud"),
        known_defects_fixed=(
            "pages by parsing Link rel=next (the anchor reuses the raw header and loses later pages)",
            "errors surface instead of being logged and swallowed; 429 Retry-After is honoured",
        ),
    )

    access_token: Annotated[SecretField, Setting(env="BATON_CELIGO_ACCESS_TOKEN", help="integrator.io API token",
                                                 c1="celigo_access_token")]
    region: Annotated[Literal["us", "eu"], Setting(env="BATON_REGION", help="integrator.io region",
                                                   c1="celigo_region")] = "us"
