"""Okta: the spec, the bundled connector, the simulator and its fault-matrix case."""

from __future__ import annotations

from typing import Any

from iac.plugins import FaultCases, IntegrationPlugin, ProvisioningCase, SimOption, Simulator

__all__ = ["PLUGIN"]


def _summary(sim: Any) -> str:
    counts = sim.dataset.counts()
    return (f"{counts['users']} users, {counts['groups']} groups, {counts['apps']} apps, "
            f"{counts['memberships']} memberships")


def _sandbox(connector: Any, users: int) -> dict[str, Any]:
    return {"users": users, "groups": max(5, users // 20), "apps": max(3, users // 50)}


def _provisioning(sim: Any) -> ProvisioningCase:
    # Group membership: Okta answers a repeated PUT with 204 and the state de-duplicates it, so only the
    # write log tells a client that sent it twice (a second role assignment would be refused with a 409).
    ds = sim.dataset
    group = next(g for g in ds.groups() if g.type == "OKTA_GROUP")
    user = next(u.id for u in ds.users() if u.id not in ds.group_member_ids(group.id))
    path = f"/api/v1/groups/{group.id}/users/{user}"
    return ProvisioningCase(f"group:{group.id}:member", user, lambda: ds.group_member_ids(group.id).count(user),
                            lambda write: (write.method, write.path) == ("PUT", path))


PLUGIN = IntegrationPlugin(
    name="okta",
    spec="iac.spec.integrations.okta:Okta",
    connector="iac.connectors.okta.connector:build",
    review="iac.connectors.okta.resources:REVIEW",
    simulator=Simulator(
        factory="iac.sim.okta:OktaSim",
        help="""Serve a simulated Okta org until Ctrl-C.

    Prints the base URL on stdout, then the API token with --print-token.

    Change faults while it runs with POST /__sim/faults (JSON, same names as the options).

    Read request counts at GET /__sim/stats and ground-truth counts at GET /__sim/state.
    """,
        summary=_summary,
        credentials=lambda sim: {"api_token": sim.token},
        print_credentials=lambda sim: str(sim.token),
        print_flag="--print-token",
        print_help="Print the API token on stdout after the base URL.",
        seed_help="Seed for data, ids, token and faults.",
        rate_scale_help="Multiply Okta's per-minute limits (e.g. 0.01 to hit 429s quickly).",
        options=(
            SimOption("users", int, 1000, "Users to generate (up to 100k is quick).", min=1, data=True),
            SimOption("groups", int, 50, "Groups, including the built-in Everyone group.", min=1, data=True),
            SimOption("apps", int, 20, "Apps.", min=0, data=True),
            SimOption("memberships", int | None, None, "Group memberships outside Everyone (default: ~8 per "
                      "user, fewer in small orgs, at most 1M).", min=0, data=True),
            SimOption("token", str | None, None,
                      "API token to accept as 'Authorization: SSWS <token>' (default: derived from --seed).",
                      secret=True),
        ),
        sandbox=_sandbox,
        port=8099,
        tls_hostname="acme.okta.com",
        faults=FaultCases(provisioning=_provisioning),
    ),
    upstream_image="public.ecr.aws/conductorone/baton-okta",
    upstream_binary="baton-okta",
)
