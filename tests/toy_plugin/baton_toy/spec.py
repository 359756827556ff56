"""The Toy integration's settings and catalog entry."""

from __future__ import annotations

from typing import Annotated, ClassVar

from iac.spec import Connector, EntitlementDoc, Integration, ResourceTypeDoc, SecretField, Setting


class Toy(Connector):
    """A Toy organisation synced with an API token."""

    integration: ClassVar[Integration] = Integration(
        name="toy",
        title="Toy",
        summary="users and teams of the Toy vendor (the plugin test's integration)",
        syncs=(
            ResourceTypeDoc("user", "every user"),
            ResourceTypeDoc("team", "teams", (EntitlementDoc("member", ("user",), "member of the team"),),
                            provisioned=True),
        ),
        provisioning=("add and remove team members",),
        upstream_setup=("Create an API token under Settings → Tokens.",),
    )

    org: Annotated[str, Setting(env="BATON_TOY_ORG", help="Toy organisation slug", example="acme")]
    api_token: Annotated[SecretField, Setting(env="BATON_TOY_API_TOKEN", help="Toy API token")]
