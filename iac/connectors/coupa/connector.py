"""The Coupa connector root: settings → OAuth token provider and paced HTTP clients → syncers and provisioner."""

from __future__ import annotations

from collections.abc import Sequence

from iac.connectors.coupa.auth import ClientCredentials
from iac.connectors.coupa.client import COUPA_LIMITS, CoupaClient, coupa_bucket, coupa_error_parser
from iac.connectors.coupa.config import ACCOUNTING_SCOPE, api_base_url, token_scopes
from iac.connectors.coupa.provisioner import CoupaProvisioner
from iac.connectors.coupa.resources import (
    AccountGroupSyncer,
    ContentGroupSyncer,
    GroupSyncer,
    LicenseSyncer,
    RoleSyncer,
    UserSyncer,
)
from iac.runtime import HttpClient, HttpClientFactory, ResourceSyncer, RuntimeSettings, TokenProvider, Wiring
from iac.spec import Coupa

__all__ = ["CoupaConnector", "build"]


class CoupaConnector:
    name = "coupa"

    def __init__(self, config: Coupa, http: HttpClient, tokens: TokenProvider, token_http: HttpClient) -> None:
        self.config = config
        self.http = http
        self.tokens = tokens
        self.token_http = token_http
        self.client = CoupaClient(http)

    def scopes(self) -> frozenset[str]:
        """The scopes Coupa granted the current token (fetches one on first use)."""
        return self.tokens.current().scopes

    def syncers(self) -> Sequence[ResourceSyncer]:
        c = self.client
        return [UserSyncer(c, self.scopes), GroupSyncer(c), RoleSyncer(c), LicenseSyncer(), ContentGroupSyncer(c),
                AccountGroupSyncer(c, self.scopes)]

    def validate(self) -> None:
        self.client.check()

    def provisioner(self) -> CoupaProvisioner:
        return CoupaProvisioner(self.client)

    @property
    def prune_principal_types(self) -> frozenset[str]:
        # users deleted between the user listing and the access walk must not linger as principals
        return frozenset({"user"})

    def close(self) -> None:
        self.http.close()
        self.token_http.close()


def build(settings: RuntimeSettings, wiring: Wiring) -> CoupaConnector:
    config = settings.config_as(Coupa)
    base = api_base_url(settings)
    # One factory, so one pacer for both clients: Coupa limits the token endpoint and the API separately.
    clients = HttpClientFactory(settings, wiring, product="coupa", bucket_of=coupa_bucket,
                                error_parser=coupa_error_parser, limits=COUPA_LIMITS)
    token_http = clients.client(base, connections=2)
    fetch = ClientCredentials(token_http, config.client_id, settings.secret(config.client_secret),
                              token_scopes(settings.provisioning), optional=(ACCOUNTING_SCOPE,))
    tokens = TokenProvider(fetch, clock=clients.clock)
    http = clients.client(base, headers={"Accept": "application/json"}, auth=tokens)
    return CoupaConnector(config, http, tokens, token_http)

