"""SAP Concur: the spec, the bundled connector, the simulator and its fault-matrix case."""

from __future__ import annotations

import json
from typing import Any

from iac.plugins import FaultCases, IntegrationPlugin, ProvisioningCase, SimOption, Simulator
from iac.plugins.coupa import TOKEN_LIFETIME_HELP

__all__ = ["PLUGIN"]


def _summary(sim: Any) -> str:
    counts = sim.dataset.counts()
    return f"{counts['users']} users, {counts['role_assignments']} Spend role assignments"


def _sandbox(connector: Any, users: int) -> dict[str, Any]:
    return {"users": users, "client_id": getattr(connector, "client_id", None)}


def _provisioning(sim: Any) -> ProvisioningCase:
    ds = sim.dataset
    held = ds.role_assignments()
    user = next(u.id for u in ds.users if (u.id, "INV_APPROVER") not in held)

    def patches_user(write: Any) -> bool:
        operations = write.body.get("Operations", []) if isinstance(write.body, dict) else []
        return write.path == "/profile/v4/Bulk" and any(op.get("path") == f"/Users/{user}" for op in operations)

    # User Provisioning is asynchronous: settle() lets accepted requests take effect before counting.
    return ProvisioningCase("role:spend:INV_APPROVER:assigned", user,
                            lambda: int((user, "INV_APPROVER") in ds.role_assignments()), patches_user,
                            settle=sim.settle)


PLUGIN = IntegrationPlugin(
    name="concur",
    spec="iac.spec.integrations.concur:Concur",
    connector="iac.connectors.concur.connector:build",
    review="iac.connectors.concur.resources:REVIEW",
    simulator=Simulator(
        factory="iac.sim.concur:ConcurSim",
        help="""Serve a simulated SAP Concur company until Ctrl-C (refresh-token OAuth at POST /oauth2/v0/token).

    Prints the base URL on stdout, then {"client_id", "client_secret", "refresh_token"} with
    --print-credentials.
    """,
        summary=_summary,
        credentials=lambda sim: {"client_secret": sim.client_secret, "refresh_token": sim.refresh_token},
        print_credentials=lambda sim: json.dumps({"client_id": sim.client_id, "client_secret": sim.client_secret,
                                                  "refresh_token": sim.refresh_token}),
        options=(
            SimOption("users", int, 500, "Users to generate.", min=1, data=True),
            SimOption("token_lifetime", float, 3600.0, TOKEN_LIFETIME_HELP, min=1.0),
            SimOption("rotate_refresh_tokens", bool, True, "Hand out a new refresh token on every refresh (the "
                      "old one lives for --refresh-grace-seconds)."),
            SimOption("refresh_grace_seconds", float, 60.0, "How long a rotated-out refresh token still works.",
                      min=0.0),
            SimOption("provision_delay", float, 1.0, "Seconds before a /profile/v4/Bulk request takes effect.",
                      min=0.0),
        ),
        sandbox=_sandbox,
        port=8097,
        tls_hostname="us2.api.concursolutions.com",
        faults=FaultCases(expiring_tokens=True, provisioning=_provisioning),
    ),
    upstream_image="public.ecr.aws/conductorone/baton-concur",
)
