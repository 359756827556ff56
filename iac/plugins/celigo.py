"""Celigo: the spec, the bundled connector, the simulator and its fault-matrix case."""

from __future__ import annotations

import json
from typing import Any

from iac.plugins import FaultCases, IntegrationPlugin, ProvisioningCase, SimOption, Simulator

__all__ = ["PLUGIN"]


def _summary(sim: Any) -> str:
    counts = sim.dataset.counts()
    return f"{counts['ashares']} users, {counts['integrations']} integrations"


def _provisioning(sim: Any) -> ProvisioningCase:
    ds = sim.dataset
    share = next(s for s, level in ds.access_levels().items() if level == "monitor")
    path = f"/v1/ashares/{share}"
    return ProvisioningCase("role:manage:assigned", f"user:{share}",
                            lambda: int(ds.access_levels()[share] == "manage"),
                            lambda write: (write.method, write.path) == ("PUT", path))


PLUGIN = IntegrationPlugin(
    name="celigo",
    spec="iac.spec.integrations.celigo:Celigo",
    connector="iac.connectors.celigo.connector:build",
    review="iac.connectors.celigo.resources:REVIEW",
    simulator=Simulator(
        factory="iac.sim.celigo:CeligoSim",
        help="""Serve a simulated Celigo account until Ctrl-C (Authorization: Bearer <token>).

    Prints the base URL on stdout, then {"token"} with --print-credentials.
    """,
        summary=_summary,
        credentials=lambda sim: {"access_token": sim.token},
        print_credentials=lambda sim: json.dumps({"token": sim.token}),
        options=(
            SimOption("users", int, 200, "Users (ashares) to generate; the owner comes on top.", min=0, data=True),
            SimOption("integrations", int, 8, "Integrations.", min=0, data=True),
            SimOption("page_size", int, 100, "Default page size of list endpoints (limit overrides it).",
                      min=1, max=1000),
        ),
        port=8096,
        tls_hostname="api.integrator.io",
        faults=FaultCases(provisioning=_provisioning),
    ),
    upstream_image="ghcr.io/conductorone/baton-celigo",
    upstream_binary="baton-celigo",
)
