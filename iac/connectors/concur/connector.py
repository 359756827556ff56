"""The SAP Concur connector root: settings → session (refresh-token grant, geolocation) → syncers and
provisioner."""

from __future__ import annotations

from collections.abc import Sequence

from iac.connectors.concur.auth import ConcurSession
from iac.connectors.concur.client import ConcurClient, concur_bucket, concur_error_parser
from iac.connectors.concur.config import token_base_url
from iac.connectors.concur.provisioner import ConcurProvisioner
from iac.connectors.concur.resources import RoleSyncer, UserSyncer
from iac.runtime import Authenticator, HttpClient, HttpClientFactory, ResourceSyncer, RuntimeSettings, Wiring
from iac.spec import Concur

__all__ = ["ConcurConnector", "build"]


class ConcurConnector:
    name = "concur"

    def __init__(self, config: Concur, session: ConcurSession) -> None:
        self.config = config
        self.session = session
        self.client = ConcurClient(session.api)

    def syncers(self) -> Sequence[ResourceSyncer]:
        return [UserSyncer(self.client), RoleSyncer(self.client)]

    def validate(self) -> None:
        self.client.check()

    def provisioner(self) -> ConcurProvisioner:
        return ConcurProvisioner(self.client, clock=self.session.tokens.clock)

    @property
    def prune_principal_types(self) -> frozenset[str]:
        # users deleted between the user walk and the role walks must not linger as principals
        return frozenset({"user"})

    def close(self) -> None:
        self.session.close()


def build(settings: RuntimeSettings, wiring: Wiring) -> ConcurConnector:
    config = settings.config_as(Concur)
    # Concur publishes no rate limits: no client-side budget; 429 Retry-After is honoured per bucket.
    # Every geolocation's clients come from one factory and so share one pacer.
    clients = HttpClientFactory(settings, wiring, product="concur", bucket_of=concur_bucket,
                                error_parser=concur_error_parser)

    def http_for(origin: str, auth: Authenticator | None) -> HttpClient:
        return clients.client(origin, headers={"Accept": "application/json"}, auth=auth,
                              connections=None if auth else 2)

    session = ConcurSession(base_url=token_base_url(settings), client_id=config.client_id,
                            client_secret=settings.secret(config.client_secret),
                            refresh_token=settings.secret(config.refresh_token),
                            trust_any_geolocation=settings.base_url is not None, http_factory=http_for,
                            clock=clients.clock)
    return ConcurConnector(config, session)

