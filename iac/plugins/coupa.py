"""Coupa: the spec, the bundled connector, the simulator and its fault-matrix case."""

from __future__ import annotations

import json
from typing import Any

from iac.plugins import FaultCases, IntegrationPlugin, ProvisioningCase, SimOption, Simulator

__all__ = ["PLUGIN"]

TOKEN_LIFETIME_HELP = "Seconds an access token lives; expire them all at once with POST /__sim/tokens/expire."


def _summary(sim: Any) -> str:
    counts = sim.dataset.counts()
    return f"{counts['users']} users, {counts['user_groups']} user groups, {counts['roles']} roles"


def _sandbox(connector: Any, users: int) -> dict[str, Any]:
    return {"users": users, "client_id": getattr(connector, "client_id", None)}


def _provisioning(sim: Any) -> ProvisioningCase:
    ds = sim.dataset
    user = next(u for u in ds.users if len(u.user_groups) < len(ds.user_groups))
    index = next(i for i in range(len(ds.user_groups)) if i not in user.user_groups)
    path = f"/api/users/{user.id}"
    return ProvisioningCase(f"group:{ds.user_groups[index].id}:member", str(user.id),
                            lambda: list(ds.user(user.id).user_groups).count(index),
                            lambda write: (write.method, write.path) == ("PUT", path))


PLUGIN = IntegrationPlugin(
    name="coupa",
    spec="iac.spec.integrations.coupa:Coupa",
    connector="iac.connectors.coupa.connector:build",
    review="iac.connectors.coupa.resources:REVIEW",
    simulator=Simulator(
        factory="iac.sim.coupa:CoupaSim",
        help="""Serve a simulated Coupa instance until Ctrl-C (OAuth client credentials at POST /oauth2/token).

    Prints the base URL on stdout, then {"client_id", "client_secret"} with --print-credentials.
    """,
        summary=_summary,
        credentials=lambda sim: {"client_secret": sim.client_secret},
        print_credentials=lambda sim: json.dumps({"client_id": sim.client_id, "client_secret": sim.client_secret}),
        options=(
            SimOption("users", int, 500, "Users to generate.", min=1, data=True),
            SimOption("user_groups", int, 20, "User groups.", min=0, data=True),
            SimOption("content_groups", int, 8, "Content (business) groups.", min=0, data=True),
            SimOption("account_groups", int, 6, "Account groups.", min=0, data=True),
            SimOption("token_lifetime", float, 86_400.0, TOKEN_LIFETIME_HELP, min=1.0),
            SimOption("retry_after", bool, False, "Send Retry-After with 429s (Coupa documents none)."),
        ),
        sandbox=_sandbox,
        port=8098,
        tls_hostname="acme.coupahost.com",
        faults=FaultCases(expiring_tokens=True, provisioning=_provisioning),
    ),
    upstream_image="public.ecr.aws/conductorone/baton-coupa",
    upstream_binary="baton-coupa",
)
