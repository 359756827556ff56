"""Runtime settings: the connector's configuration comes from its integration spec, not from a list of
its own.

The environment the rendered manifests set (``BATON_DOMAIN``, ``BATON_API_TOKEN``, …) is read back
through the very spec that wrote it (:mod:`iac.spec.integrations`): the same names, types, defaults,
validation and messages. What only the runtime needs (artifact path, health port, workers, …) lives in
:class:`RuntimeSettings` as ``BATON_<FIELD>``. Secrets are read from the environment only — never from
command-line flags, which other users of the machine can see in the process list.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator

from iac.errors import SpecError
from iac.runtime.errors import ConnectorConfigError
from iac.spec import ConductorOne, Connector, SettingSpec, conductorone_env, conductorone_settings
from iac.spec.baton_env import env_name
from iac.spec.secret import EnvSecret, SecretRef

__all__ = [
    "RuntimeSettings",
    "comma_list",
    "connector_config",
    "load_settings",
    "parse_duration",
]

C = TypeVar("C", bound=Connector)

_CLIENT_ID = re.compile(r"^[^@\s/]+@[^@\s/]+(\.[^@\s/]+)+/[^\s]+$")
_CLIENT_SECRET = re.compile(r"^[^:\s]+:[^:\s]+:v1:[A-Za-z0-9_-]+={0,2}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def parse_duration(value: str | float | int) -> float:
    """``90``, ``90s``, ``15m``, ``1h``, ``1d`` → seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value)
    if not match:
        raise ValueError("expected a duration such as 300, 90s, 15m or 1h")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def comma_list(value: Any) -> list[str]:
    """``"a.com, b.com"`` or a list → ``["a.com", "b.com"]`` (empty items dropped)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(part).strip() for part in value if str(part).strip()]
    raise ValueError("expected a comma-separated list")


class RuntimeSettings(BaseModel):
    """What the runtime needs beyond the integration's own settings, plus the validated integration
    config (:attr:`config`, an instance of the integration's spec class)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    log_format: Literal["json", "console"] = Field("console", description="log format")
    file: Path = Field(Path("sync.c1z"), description="sync artifact path (a c1z v1)")
    health_check: bool | None = Field(
        None, description="serve /health, /ready, /live and /metrics in service mode (default: on)")
    health_check_port: int = Field(8081, ge=1, le=65535, description="health and metrics port")
    health_check_bind_address: str = Field("127.0.0.1", description="health and metrics bind address")
    workers: int = Field(8, ge=1, le=64, description="concurrent requests during a sync")
    http_timeout_seconds: float = Field(60.0, gt=0, le=1800, description="timeout of one HTTP request")
    checkpoint_interval: float = Field(5.0, gt=0, description="seconds between sync checkpoints")
    interval: float = Field(3600.0, gt=0, description="service mode: time between syncs (300, 15m, 1h)")
    upload_url: SecretStr | None = Field(
        None, description="PUT each finished artifact to this URL (a credential: a pre-signed URL grants access)")
    upload_token: SecretStr | None = Field(None, description="bearer token for the artifact upload")

    _config: Connector | None = PrivateAttr(default=None)
    _environ: Mapping[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("upload_url", mode="after")
    @classmethod
    def _url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value()
        if not re.match(r"^https?://[^/\s]+", url):
            raise ValueError("must be an http:// or https:// URL")
        return SecretStr(url.rstrip("/"))

    # -- the integration config and the common settings it carries ------------------------------------

    @property
    def config(self) -> Connector:
        if self._config is None:
            raise RuntimeError("settings were not loaded through load_settings()")
        return self._config

    def config_as(self, integration: type[C]) -> C:
        config = self.config
        if not isinstance(config, integration):
            raise TypeError(f"settings hold a {type(config).__name__} config, not {integration.__name__}")
        return config

    @property
    def provisioning(self) -> bool:
        return self.config.provisioning

    @property
    def log_level(self) -> str:
        return self.config.log_level

    @property
    def host_id(self) -> str:
        return self.config.host_id or socket.gethostname()

    @property
    def base_url(self) -> str | None:
        """``BATON_BASE_URL``: send API calls here instead (simulator, proxy, preview org)."""
        return self.config.base_url_override

    @property
    def rate_limit_share(self) -> float:
        return self.config.rate_limit_share

    @property
    def client_id(self) -> str | None:
        c1 = self.config.conductorone
        return None if c1 is None else self._plain(c1.client_id)

    def secret(self, ref: SecretRef | str) -> str:
        """The value of a secret setting of :attr:`config` (read from the environment it was loaded from)."""
        return self._plain(ref)

    def secrets(self) -> list[str]:
        """Every secret value in use (for log redaction)."""
        values = [self._plain(v) for v in _secret_refs(self.config)]
        if self.upload_token is not None:
            values.append(self.upload_token.get_secret_value())
        if self.upload_url is not None:  # a pre-signed URL is a credential; so is its signature alone
            url = self.upload_url.get_secret_value()
            values += [url, url.partition("?")[2]]
        return [v for v in values if v]

    def _plain(self, value: SecretRef | str) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, EnvSecret):
            return value.resolve(self._environ).get_secret_value()
        raise TypeError(f"cannot read {value.describe()} at run time")


def _secret_refs(config: Connector) -> list[SecretRef]:
    refs = [getattr(config, s.name) for s in type(config).connector_settings() if s.secret]
    if config.conductorone is not None:
        refs += [v for v in (config.conductorone.client_id, config.conductorone.client_secret)
                 if isinstance(v, SecretRef)]
    return [r for r in refs if isinstance(r, SecretRef)]


def connector_config(integration: type[C], environ: Mapping[str, str], **overrides: Any) -> C:
    """Build the integration's spec instance from ``BATON_*`` variables (``overrides`` by setting name win).

    Secret settings become ``secret.env(<their BATON_ name>)`` references, resolved when used."""
    values: dict[str, Any] = {}
    for spec in integration.connector_settings():
        if spec.secret:
            if environ.get(spec.env, "").strip():
                values[spec.name] = EnvSecret(var=spec.env)
            continue
        raw = overrides.get(spec.name)
        if raw is None:
            raw = environ.get(spec.env)
            if raw is None or raw.strip() == "":
                continue
        values[spec.name] = _from_env(spec, raw) if isinstance(raw, str) else raw
    c1 = {s.name: EnvSecret(var=s.env) if s.secret else environ.get(s.env, "").strip()
          for s in conductorone_settings() if environ.get(s.env, "").strip()}
    if c1:
        client_id, client_secret = conductorone_env("client_id"), conductorone_env("client_secret")
        if set(c1) != {"client_id", "client_secret"}:
            missing = client_secret if "client_id" in c1 else client_id
            raise ConnectorConfigError(f"{missing} is required when the other ConductorOne credential is set")
        if not _CLIENT_ID.match(environ[client_id].strip()):
            raise ConnectorConfigError(f"{client_id}: expected the shape <name>@<tenant-host>/<suffix>")
        if not _CLIENT_SECRET.match(environ[client_secret].strip()):
            raise ConnectorConfigError(f"{client_secret}: expected the shape <a>:<b>:v1:<base64url key>")
        values["conductorone"] = ConductorOne(**c1)
    try:
        return integration(integration.integration.name, **values)
    except SpecError as exc:
        raise ConnectorConfigError(_env_message(integration, exc)) from None


def _from_env(spec: SettingSpec, raw: str) -> Any:
    text = raw.strip()
    if spec.kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConnectorConfigError(f"{spec.env}: expected true or false")
    if spec.kind == "list":
        return tuple(comma_list(text))
    if spec.kind == "number":
        try:
            return float(text)
        except ValueError:
            raise ConnectorConfigError(f"{spec.env}: expected a number") from None
    return text


def _env_message(integration: type[Connector], exc: SpecError) -> str:
    by_name = {s.name: s.env for s in integration.connector_settings()}
    env = by_name.get((exc.field or "").split(".")[0])
    return f"{env}: {exc.message}" if env else exc.message


def load_settings(integration: type[C], *, environ: Mapping[str, str] | None = None,
                  **overrides: Any) -> RuntimeSettings:
    """Settings for running ``integration``: runtime knobs and the integration config, both read from
    ``environ`` (default: the process environment); non-None ``overrides`` (CLI flags, by name) win."""
    env = dict(os.environ if environ is None else environ)
    given = {k: v for k, v in overrides.items() if v is not None}
    # Programmatic callers may pass secret settings by name; they join the (private) environment, since
    # secrets are only ever read from there. The CLI has no flags for them.
    for spec in integration.connector_settings():
        if spec.secret and spec.name in given:
            value = given.pop(spec.name)
            env[spec.env] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    knob_names = set(RuntimeSettings.model_fields)
    knobs = {name: env[env_name(name)] for name in knob_names if env.get(env_name(name), "").strip()}
    knobs.update({k: v for k, v in given.items() if k in knob_names})
    try:
        settings = RuntimeSettings(**knobs)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            loc = [str(part) for part in error["loc"] if isinstance(part, str)]
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{env_name(loc[0])}: {message}" if loc else message)
        raise ConnectorConfigError("; ".join(problems)) from None
    spec_overrides = {k: v for k, v in given.items() if k not in knob_names}
    settings._config = connector_config(integration, env, **spec_overrides)
    settings._environ = env
    return settings
