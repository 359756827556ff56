"""Coupa (ConductorOne "Coupa v2"): users, user groups, roles, license flags, content groups."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import field_validator

from iac.spec._connector import Connector, EntitlementDoc, Integration, ResourceTypeDoc, SecretField
from iac.spec._settings import Setting
from iac.spec._validation import check_host

__all__ = ["Coupa"]

COUPA_SUFFIXES = (".coupahost.com", ".coupacloud.com")


class Coupa(Connector):
    """A Coupa instance synced with an OAuth2 client-credentials client."""

    integration: ClassVar[Integration] = Integration(
        name="coupa",
        title="Coupa v2",
        summary="Coupa users, user groups, roles, license flags and content groups",
        syncs=(
            ResourceTypeDoc("user", "users; active maps to enabled"),
            ResourceTypeDoc("group", "user groups", (EntitlementDoc("member", ("user",), "member of the group"),),
                            provisioned=True),
            ResourceTypeDoc("role", "roles", (EntitlementDoc("assigned", ("user",), "holds the role"),),
                            provisioned=True),
            ResourceTypeDoc("license", "license flags (expense-user, purchasing-user, …)",
                            (EntitlementDoc("assigned", ("user",), "holds the license"),), provisioned=True),
            ResourceTypeDoc("content-group", "content groups (business groups)",
                            (EntitlementDoc("member", ("user",), "member of the content group"),)),
            ResourceTypeDoc("account-group", "account groups, when the core.accounting.read scope is granted",
                            (EntitlementDoc("member", ("user",), "member of the account group"),)),
        ),
        provisioning=(
            "group membership, roles and licenses, written as the complete desired list (never an empty "
            "intermediate state)",
            "enable and disable users",
        ),
        upstream_setup=(
            "Create an OAuth2/OpenID Connect client (Setup → Oauth2/OpenID Connect Clients) with grant type "
            "Client credentials.",
            "Grant it the read scopes; add the write scopes only if provisioning is on.",
            "Optional: core.accounting.read to sync account groups.",
        ),
        read_scopes=("core.business_entity.read", "core.common.read", "core.user_group.read", "core.user.read",
                     "email", "login", "openid", "profile"),
        write_scopes=("core.user_group.write", "core.user.write", "core.business_entity.write",
                      "core.common.write"),
        docs_url="https://compass.coupa.com/",
        c1_resource="conductorone_integration_coupa",
        c1_catalog_id="2rSHEoPoq5CS89JAUevDbYBS3uA",
        hosting=("self", "cloud"),
        known_defects_fixed=(
            "refreshes the OAuth token before expiry and once on 401 (the anchor never refreshes)",
            "revoke writes the remaining list in one request (the anchor empties the list first)",
        ),
    )

    domain: Annotated[str, Setting(env="BATON_COUPA_DOMAIN", help="Coupa instance host", c1="coupa_domain",
                                   c1_key="coupa-domain", example="acme.coupahost.com")]
    client_id: Annotated[str, Setting(env="BATON_COUPA_CLIENT_ID", help="OAuth2 client identifier",
                                      c1="oauth2_client_cred_grant_client_id")]
    client_secret: Annotated[SecretField, Setting(env="BATON_COUPA_CLIENT_SECRET", help="OAuth2 client secret",
                                                  c1="oauth2_client_cred_grant_client_secret")]

    @field_validator("domain", mode="before")
    @classmethod
    def _domain(cls, value: object) -> str:
        host = check_host(value, "domain")  # type: ignore[arg-type]
        if not host.endswith(COUPA_SUFFIXES) or host.count(".") != 2:
            raise ValueError(f"{host!r} must be '<tenant>.coupahost.com' or '<tenant>.coupacloud.com'")
        return host

    @field_validator("client_id")
    @classmethod
    def _client_id(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value
