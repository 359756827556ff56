"""Which secret reference feeds which container env of a connector: the one view of secrets that the
Pulumi, cdktf and GitOps backends share. Derived from the settings metadata; no integration field is named."""

from __future__ import annotations

from dataclasses import dataclass

from iac.spec import Connector, Stack, env_value_items
from iac.spec.secret import SecretRef

__all__ = ["SecretBinding", "secret_bindings"]


@dataclass(frozen=True)
class SecretBinding:
    """One secret setting: the env name it is delivered as (the key in the rendered Secret) and its reference."""

    connector: str
    env: str
    field: str
    """The setting as a user wrote it: ``api_token``, ``conductorone.client_secret``, or the env name for
    user-defined env (``Custom(secret_env=...)``)."""
    ref: SecretRef


def secret_bindings(stack: Stack, connector: Connector) -> list[SecretBinding]:
    """Every secret reference of ``connector`` (its ConductorOne credentials included), in render order."""
    own = {spec.env: spec.name for spec in type(connector).connector_settings()}
    shared = {spec.env: spec.name for spec in type(connector).settings() if spec.env not in own}
    bindings = []
    for env, value in env_value_items(connector, stack.conductorone):
        if isinstance(value, SecretRef):
            field = own.get(env) or (f"conductorone.{shared[env]}" if env in shared else env)
            bindings.append(SecretBinding(connector=connector.name, env=env, field=field, ref=value))
    return bindings
