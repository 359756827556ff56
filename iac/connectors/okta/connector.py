"""The Okta connector root: settings → HTTP client → syncers and provisioner."""

from __future__ import annotations

from collections.abc import Sequence

from iac.connectors.okta.client import OktaClient, okta_bucket
from iac.connectors.okta.config import api_base_url
from iac.connectors.okta.provisioner import OktaProvisioner
from iac.connectors.okta.resources import (
    AppSyncer,
    CustomRoleSyncer,
    GroupSyncer,
    ResourceSetBindingSyncer,
    ResourceSetSyncer,
    RoleSyncer,
    UserSyncer,
)
from iac.runtime import HttpClient, HttpClientFactory, Provisioner, ResourceSyncer, RuntimeSettings, Wiring
from iac.spec import Okta

__all__ = ["OktaConnector", "build"]


class OktaConnector:
    name = "okta"

    def __init__(self, config: Okta, http: HttpClient) -> None:
        self.config = config
        self.http = http
        self.client = OktaClient(http)

    def syncers(self) -> Sequence[ResourceSyncer]:
        s, c = self.config, self.client
        out: list[ResourceSyncer] = [
            UserSyncer(c, skip_secondary_emails=s.skip_secondary_emails, email_domains=list(s.filter_email_domains)),
            GroupSyncer(c, skip_app_groups=s.skip_app_groups),
            RoleSyncer(c),
            AppSyncer(c, sync_inactive_apps=s.sync_inactive_apps),
        ]
        if s.sync_custom_roles:
            out += [CustomRoleSyncer(c), ResourceSetSyncer(c), ResourceSetBindingSyncer(c)]
        return out

    def validate(self) -> None:
        self.client.check_token()

    def provisioner(self) -> Provisioner | None:
        return OktaProvisioner(self.client)

    @property
    def prune_principal_types(self) -> frozenset[str]:
        # filtered users (filter_email_domains) and skipped APP_GROUPs must not linger as principals
        return frozenset({"user", "group"})

    def close(self) -> None:
        self.http.close()


def build(settings: RuntimeSettings, wiring: Wiring) -> OktaConnector:
    config = settings.config_as(Okta)
    http = HttpClientFactory(settings, wiring, product="okta", bucket_of=okta_bucket).client(
        api_base_url(settings),
        headers={"Authorization": f"SSWS {settings.secret(config.api_token)}", "Accept": "application/json"})
    return OktaConnector(config, http)

