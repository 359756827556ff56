"""Any baton-style connector image: user-given plain and secret environment."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from iac.spec import baton_env
from iac.spec._connector import Connector, Integration, SecretField, conductorone_settings
from iac.spec.secret import SecretRef

__all__ = ["RESERVED_ENV", "Custom"]

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

# Set by the renderer or by common settings (env name → the setting to use instead, None: the renderer sets it);
# a Custom connector must not set them itself.
RESERVED_ENV: dict[str, str | None] = (
    {s.env: s.name for s in Connector.connector_settings()}
    | {s.env: "conductorone" for s in conductorone_settings()}
    | dict.fromkeys(baton_env.RENDERER_SET)
    | {baton_env.HEALTH_CHECK_PORT: "health_port", baton_env.STORAGE_ENGINE: "storage_engine"}
)


class Custom(Connector):
    """Any baton connector image, configured with explicit environment variables."""

    integration: ClassVar[Integration] = Integration(
        name="custom",
        title="Custom baton connector",
        summary="any baton-style connector image with your own plain and secret environment",
        syncs=(),
        provisioning=("whatever the image supports when BATON_PROVISIONING is true",),
        upstream_setup=("See the connector's own documentation for credentials and permissions.",),
        bundled_runtime=False,
    )

    image: str
    env: dict[str, str] = Field(default_factory=dict)
    secret_env: dict[str, SecretField] = Field(default_factory=dict)
    health_port: Annotated[int | None, Field(ge=1, le=65535)] = 8081
    """Port of the image's /live and /ready endpoints; None disables the probes."""

    @field_validator("env", mode="before")
    @classmethod
    def _plain_env(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                _check_env_name(key, "env")
                if isinstance(item, SecretRef):
                    raise ValueError(f"env[{key!r}] holds a secret reference; put it in secret_env")
                if not isinstance(item, str):
                    raise ValueError(f"env[{key!r}] must be a string (write booleans as 'true'/'false')")
        return value

    @field_validator("secret_env", mode="before")
    @classmethod
    def _secret_env(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key, item in value.items():
                _check_env_name(key, "secret_env")
                if isinstance(item, str):
                    raise ValueError(
                        f"secret_env[{key!r}] is a plain string; use secret.env(), secret.file(), "
                        "secret.kubernetes() or secret.external()"
                    )
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> Custom:
        both = sorted(set(self.env) & set(self.secret_env))
        if both:
            raise ValueError(f"{both[0]} is in both env and secret_env")
        return self

    def extra_env_items(self) -> Iterator[tuple[str, Any]]:
        yield from sorted(self.env.items())
        yield from sorted(self.secret_env.items())


def _check_env_name(key: Any, where: str) -> None:
    if not isinstance(key, str) or not _ENV_NAME.match(key):
        raise ValueError(f"{where} name {key!r} must be an upper-case environment variable name")
    if key in RESERVED_ENV:
        setting = RESERVED_ENV[key]
        hint = f"; use the {setting}= setting" if setting else "; the renderer sets it"
        raise ValueError(f"{where} must not set {key}{hint}")
