"""The Toy connector: users, teams and team membership over the runtime's paced HTTP client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from baton_toy.spec import Toy
from iac.runtime import (
    Entitlement,
    Grant,
    HttpClient,
    Page,
    Privileged,
    ProvisionOutcome,
    ProvisionResult,
    Resource,
    ResourceRef,
    ResourceSyncer,
    ResourceType,
    ReviewFacts,
    RuntimeSettings,
    Trait,
    Wiring,
)
from iac.runtime.errors import BadRequestError

USER = ResourceType("user", "User", (Trait.USER,), "Toy users", has_entitlements=False, has_grants=False)
TEAM = ResourceType("team", "Team", (Trait.GROUP,), "Toy teams")
REVIEW = ReviewFacts(privileged=(Privileged("team", "member of team t00, the Toy admins",
                                            resource_ids=frozenset({"t00"}), critical=True),),
                     declared_by="toy")
"""What `iac review` reports as privileged for Toy (its users have no status, so nothing is inactive)."""


def _page(http: HttpClient, path: str, token: str | None) -> tuple[list[dict[str, Any]], str | None]:
    data, _ = http.get_json(path, params={"cursor": token} if token else None)
    return data["items"], data["next"]


class UserSyncer:
    resource_type = USER

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        items, following = _page(self.http, "/api/users", token)
        return Page([Resource("user", u["id"], u["name"], login=u["name"]) for u in items], following)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page()

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        return Page()


class TeamSyncer:
    resource_type = TEAM

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def list(self, parent: ResourceRef | None, token: str | None) -> Page[Resource]:
        items, following = _page(self.http, "/api/teams", token)
        return Page([Resource("team", t["id"], t["name"]) for t in items], following)

    def entitlements(self, resource: Resource, token: str | None) -> Page[Entitlement]:
        return Page([Entitlement(resource.ref, "member", f"{resource.display_name} Member", ("user",))])

    def grants(self, resource: Resource, token: str | None) -> Page[Grant]:
        items, following = _page(self.http, f"/api/teams/{resource.id}/members", token)
        return Page([Grant(resource.ref, "member", ResourceRef("user", m["id"])) for m in items], following)


class TeamProvisioner:
    """Reads first, so a repeated grant or revoke changes nothing (and a retried PUT is harmless anyway)."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def _members(self, team: str) -> set[str]:
        members: set[str] = set()
        token: str | None = None
        while True:
            items, token = _page(self.http, f"/api/teams/{team}/members", token)
            members.update(m["id"] for m in items)
            if not token:
                return members

    def grant(self, principal: ResourceRef, entitlement: Entitlement) -> ProvisionResult:
        if (entitlement.resource.type, entitlement.slug) != ("team", "member"):
            raise BadRequestError(f"cannot provision {entitlement.resource.type}:…:{entitlement.slug}; "
                                  "supported: team:<id>:member")
        team = entitlement.resource.id
        grant_id = f"{entitlement.id}:{principal.type}:{principal.id}"
        if principal.id in self._members(team):
            return ProvisionResult(ProvisionOutcome.ALREADY_GRANTED, grant_id)
        self.http.request("PUT", f"/api/teams/{team}/members/{principal.id}")
        return ProvisionResult(ProvisionOutcome.GRANTED, grant_id)

    def revoke(self, grant: Grant) -> ProvisionResult:
        if (grant.resource.type, grant.entitlement_slug) != ("team", "member"):
            raise BadRequestError(f"cannot provision {grant.resource.type}:…:{grant.entitlement_slug}; "
                                  "supported: team:<id>:member")
        if grant.principal.id not in self._members(grant.resource.id):
            return ProvisionResult(ProvisionOutcome.ALREADY_REVOKED, grant.id)
        self.http.request("DELETE", f"/api/teams/{grant.resource.id}/members/{grant.principal.id}")
        return ProvisionResult(ProvisionOutcome.REVOKED, grant.id)


class ToyConnector:
    name = "toy"
    prune_principal_types = frozenset({"user"})

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def syncers(self) -> Sequence[ResourceSyncer]:
        return [UserSyncer(self.http), TeamSyncer(self.http)]

    def validate(self) -> None:
        self.http.get_json("/api/users")

    def provisioner(self) -> TeamProvisioner:
        return TeamProvisioner(self.http)

    def close(self) -> None:
        self.http.close()


def build(settings: RuntimeSettings, wiring: Wiring) -> ToyConnector:
    config = settings.config_as(Toy)
    base_url = settings.base_url or f"https://{config.org}.toy.example"
    http = HttpClient(base_url, headers={"Authorization": f"Bearer {settings.secret(config.api_token)}"},
                      transport=wiring.transport, clock=wiring.clock, observer=wiring.observer,
                      timeout=settings.http_timeout_seconds, share=settings.rate_limit_share)
    return ToyConnector(http)
