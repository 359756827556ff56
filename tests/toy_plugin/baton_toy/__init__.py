"""A third-party integration in one package, as tests/test_plugin.py installs it: the spec (``spec.py``), a
tiny connector (``connector.py``), a tiny simulator (``sim.py``) and the registration below, which the
package's metadata names in the ``baton_iac.integrations`` entry point group::

    [project.entry-points."baton_iac.integrations"]
    toy = "baton_toy:PLUGIN"

It uses only the project's public API (``iac.plugins``, ``iac.spec``, ``iac.runtime``, ``iac.sim``)."""

from __future__ import annotations

import json
from typing import Any

from iac.plugins import FaultCases, IntegrationPlugin, ProvisioningCase, SimOption, Simulator

__all__ = ["PLUGIN"]


def _provisioning(sim: Any) -> ProvisioningCase:
    team, user = sim.dataset.first_non_member()
    path = f"/api/teams/{team}/members/{user}"
    return ProvisioningCase(f"team:{team}:member", f"user:{user}", lambda: int(user in sim.dataset.teams[team]),
                            lambda write: (write.method, write.path) == ("PUT", path))


PLUGIN = IntegrationPlugin(
    name="toy",
    spec="baton_toy.spec:Toy",
    connector="baton_toy.connector:build",
    review="baton_toy.connector:REVIEW",
    simulator=Simulator(
        factory="baton_toy.sim:ToySim",
        help="Serve a simulated Toy organisation until Ctrl-C (Authorization: Bearer <token>).",
        summary=lambda sim: f"{len(sim.dataset.users)} users, {len(sim.dataset.teams)} teams",
        credentials=lambda sim: {"api_token": sim.token},
        print_credentials=lambda sim: json.dumps({"token": sim.token}),
        options=(SimOption("users", int, 30, "Users to generate.", min=1, data=True),
                 SimOption("teams", int, 4, "Teams.", min=1, data=True)),
        port=8095,
        tls_hostname="api.toy.example",
        faults=FaultCases(provisioning=_provisioning),
    ),
)
