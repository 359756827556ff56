"""The Celigo connector root: settings → paced HTTP client → syncers and provisioner."""

from __future__ import annotations

from collections.abc import Sequence

from iac.connectors.celigo.client import CELIGO_LIMITS, CeligoClient, celigo_bucket
from iac.connectors.celigo.config import api_base_url
from iac.connectors.celigo.provisioner import CeligoProvisioner
from iac.connectors.celigo.resources import IntegrationSyncer, RoleSyncer, UserSyncer
from iac.runtime import HttpClient, HttpClientFactory, ResourceSyncer, RuntimeSettings, Wiring
from iac.spec import Celigo

__all__ = ["CeligoConnector", "build"]


class CeligoConnector:
    name = "celigo"

    def __init__(self, config: Celigo, http: HttpClient) -> None:
        self.config = config
        self.http = http
        self.client = CeligoClient(http)

    def syncers(self) -> Sequence[ResourceSyncer]:
        return [UserSyncer(self.client), IntegrationSyncer(self.client), RoleSyncer()]

    def validate(self) -> None:
        self.client.check()

    def provisioner(self) -> CeligoProvisioner:
        return CeligoProvisioner(self.client)

    @property
    def prune_principal_types(self) -> frozenset[str]:
        # users removed between the user listing and the access walk must not linger as principals
        return frozenset({"user"})

    def close(self) -> None:
        self.http.close()


def build(settings: RuntimeSettings, wiring: Wiring) -> CeligoConnector:
    config = settings.config_as(Celigo)
    clients = HttpClientFactory(settings, wiring, product="celigo", bucket_of=celigo_bucket, limits=CELIGO_LIMITS)
    http = clients.client(api_base_url(settings), headers={
        "Authorization": f"Bearer {settings.secret(config.access_token)}", "Accept": "application/json"})
    return CeligoConnector(config, http)

