"""Okta (ConductorOne "Okta v2"): users, groups, admin roles and apps, with SSWS API-token auth."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import StrictBool, field_validator

from iac.spec._connector import Connector, EntitlementDoc, Integration, ResourceTypeDoc, SecretField
from iac.spec._settings import Setting
from iac.spec._validation import check_host

__all__ = ["STANDARD_ROLES", "Okta"]

STANDARD_ROLES: dict[str, str] = {
    "SUPER_ADMIN": "Super Administrator",
    "ORG_ADMIN": "Organizational Administrator",
    "APP_ADMIN": "Application Administrator",
    "USER_ADMIN": "Group Administrator",
    "HELP_DESK_ADMIN": "Help Desk Administrator",
    "READ_ONLY_ADMIN": "Read-only Administrator",
    "MOBILE_ADMIN": "Mobile Administrator",
    "REPORT_ADMIN": "Report Administrator",
    "API_ACCESS_MANAGEMENT_ADMIN": "API Access Management Administrator",
    "GROUP_MEMBERSHIP_ADMIN": "Group Membership Administrator",
    "ACCESS_CERTIFICATIONS_ADMIN": "Access Certifications Administrator",
    "ACCESS_REQUESTS_ADMIN": "Access Requests Administrator",
    "WORKFLOWS_ADMIN": "Workflows Administrator",
}
"""Okta's standard admin role types with the labels Okta shows (one list for the connector and the simulator):
the Management API's ``RoleType``, plus ``MOBILE_ADMIN``, which that enum no longer lists but role listings still
return (``StandardRole``'s discriminator maps it)."""


class Okta(Connector):
    """An Okta org synced with an API token."""

    integration: ClassVar[Integration] = Integration(
        name="okta",
        title="Okta v2",
        summary="Okta users, groups, standard and custom admin roles, and app assignments",
        syncs=(
            ResourceTypeDoc("user", "users of every status; STAGED and DEPROVISIONED map to disabled"),
            ResourceTypeDoc("group", "groups (OKTA_GROUP, APP_GROUP unless skipped, BUILT_IN)",
                            (EntitlementDoc("member", ("user",), "member of the group"),), provisioned=True),
            ResourceTypeDoc("role", "the standard admin roles",
                            (EntitlementDoc("assigned", ("user", "group"), "holds the admin role"),),
                            provisioned=True),
            ResourceTypeDoc("app", "applications (inactive ones unless sync_inactive_apps is off)",
                            (EntitlementDoc("access", ("user", "group"), "assigned to the app"),),
                            provisioned=True),
            ResourceTypeDoc("custom-role", "custom admin roles",
                            (EntitlementDoc("assigned", ("user", "group"), "holds the custom role"),),
                            opt_in="sync_custom_roles"),
            ResourceTypeDoc("resource-set", "resource sets and their role bindings",
                            (EntitlementDoc("bindings", ("custom-role",), "custom roles bound to the resource set"),),
                            opt_in="sync_custom_roles"),
            ResourceTypeDoc("resourceset-binding", "a custom role bound to a resource set (id <set>:<role>)",
                            (EntitlementDoc("member", ("user", "group"), "holds the custom role on the resource "
                                            "set"),),
                            opt_in="sync_custom_roles"),
        ),
        provisioning=(
            "add and remove group members",
            "assign and unassign apps to users and groups",
            "assign and remove standard admin roles",
        ),
        upstream_setup=(
            "Create an API token (Security → API → Tokens) while signed in as an admin; the token acts "
            "with that admin's permissions.",
            "For sync the admin needs Read-Only Administrator; reading admin-role assignments needs Super "
            "Administrator or a custom role with role-read permission (without an admin role Okta answers "
            "/api/v1/users with an empty list).",
            "For provisioning: Group Membership Administrator and App Administrator, or Super Administrator "
            "to assign admin roles.",
            "Use the org domain (acme.okta.com), not the admin console domain (acme-admin.okta.com).",
        ),
        docs_url="https://developer.okta.com/docs/guides/create-an-api-token/",
        c1_resource="conductorone_integration_okta_v2",
        c1_catalog_id="2kG3aTftCcAvWtHZt2Ywry0dPn7",
        hosting=("self", "cloud"),
        known_defects_fixed=(
            "paces requests by X-Rate-Limit headers and keeps a share of every bucket for other integrations",
        ),
    )

    domain: Annotated[str, Setting(env="BATON_DOMAIN", help="Okta org domain", c1="okta_v2_domain",
                                   example="acme.okta.com")]
    api_token: Annotated[SecretField, Setting(env="BATON_API_TOKEN", help="Okta API token (SSWS)",
                                              c1="okta_v2_api_token")]
    sync_custom_roles: Annotated[StrictBool, Setting(
        env="BATON_SYNC_CUSTOM_ROLES", help="also sync custom roles and resource-set bindings",
        c1="okta_sync_custom_roles")] = False
    skip_secondary_emails: Annotated[StrictBool, Setting(
        env="BATON_SKIP_SECONDARY_EMAILS", help="leave users' secondEmail out of the sync",
        c1="okta_skip_secondary_emails")] = False
    # No ConductorOne attribute (conductorone_integration_okta_v2 of provider 1.5 has none): settable only when
    # self-hosted; a cloud-hosted Okta connector that sets them is refused.
    sync_inactive_apps: Annotated[StrictBool, Setting(
        env="BATON_SYNC_INACTIVE_APPS", help="also sync apps that are not ACTIVE")] = True
    skip_app_groups: Annotated[StrictBool, Setting(
        env="BATON_SKIP_APP_GROUPS", help="skip groups of type APP_GROUP (pushed by apps)")] = False
    filter_email_domains: Annotated[tuple[str, ...], Setting(
        env="BATON_FILTER_EMAIL_DOMAINS", help="only sync users whose email, secondEmail or login is in "
        "these domains (comma-separated in the environment)", example="acme.com,acme.io")] = ()

    @field_validator("domain", mode="before")
    @classmethod
    def _domain(cls, value: object) -> str:
        host = check_host(value, "domain")  # type: ignore[arg-type]
        org = host.split(".")[0]
        if org.endswith("-admin") and host.endswith((".okta.com", ".oktapreview.com", ".okta-emea.com")):
            org_domain = org.removesuffix("-admin") + host[len(org):]
            raise ValueError(f"{host!r} is the admin console domain; use the org domain {org_domain!r}")
        return host

    @field_validator("filter_email_domains", mode="before")
    @classmethod
    def _email_domains(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            raise ValueError("must be a list of domains, e.g. ['acme.com'], not one string")
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of domains")
        domains = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"entry {item!r} must be a string")
            try:
                domains.append(check_host(item.removeprefix("@"), "entry", strip_scheme=False))
            except ValueError as exc:
                raise ValueError(f"entry {item!r}: {exc}") from None
        if len(set(domains)) != len(domains):
            raise ValueError("lists a domain twice")
        return tuple(domains)
