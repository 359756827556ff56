"""Secret references: how a stack says where a credential comes from without containing it.

    secret.env("OKTA_API_TOKEN")            read from the environment of whoever renders/deploys
    secret.file("/run/secrets/okta")        read from a file (trailing newline stripped)
    secret.kubernetes("okta-creds", "tok")  an existing Secret in the cluster; nothing is rendered for it
    secret.external("vault", "okta/token")  an External Secrets Operator reference; rendered as ExternalSecret
    secret.literal("...")                   the value itself: allowed for tests and demos, warns

A reference never prints its value: ``repr`` and ``describe()`` name only where it comes from.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from iac._redact import register_secret
from iac.errors import SecretResolutionError, SpecError

__all__ = [
    "ConductorOneCredential",
    "EnvSecret",
    "ExternalSecretRef",
    "FileSecret",
    "KubernetesSecretRef",
    "LiteralSecret",
    "PlaintextSecretWarning",
    "ResolvableSecret",
    "SecretRef",
    "env",
    "external",
    "file",
    "kubernetes",
    "literal",
]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_K8S_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class PlaintextSecretWarning(UserWarning):
    """A secret value is written in the stack itself."""


class SecretRef(BaseModel):
    """Base of all secret references. Subclasses say where the value lives."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    source: ClassVar[str]

    def describe(self) -> str:
        """Where the value comes from, safe to print."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.describe()


class ResolvableSecret(SecretRef):
    """A reference whose value the renderer reads (env, file, literal)."""

    def resolve(self, environ: Mapping[str, str]) -> SecretStr:
        raise NotImplementedError


class EnvSecret(ResolvableSecret):
    source: ClassVar[str] = "env"
    var: str

    @field_validator("var")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"secret.env() needs an environment variable name, got {value!r}")
        return value

    def model_post_init(self, context: Any, /) -> None:
        # Known as soon as the stack names it: an error raised later in the stack file is printed redacted.
        register_secret(os.environ.get(self.var))

    def describe(self) -> str:
        return f"secret.env({self.var!r})"

    def resolve(self, environ: Mapping[str, str]) -> SecretStr:
        value = environ.get(self.var)
        if value is None:
            raise SecretResolutionError(f"environment variable {self.var} is not set")
        if value == "":
            raise SecretResolutionError(f"environment variable {self.var} is empty")
        register_secret(value)  # whatever prints later (an API server's error, a traceback) masks it
        return SecretStr(value)


class FileSecret(ResolvableSecret):
    source: ClassVar[str] = "file"
    path: str

    def describe(self) -> str:
        return f"secret.file({self.path!r})"

    def resolve(self, environ: Mapping[str, str]) -> SecretStr:
        path = Path(os.path.expanduser(self.path))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SecretResolutionError(f"secret file {self.path} does not exist") from None
        except IsADirectoryError:
            raise SecretResolutionError(f"secret file {self.path} is a directory") from None
        except PermissionError:
            raise SecretResolutionError(f"secret file {self.path} is not readable") from None
        except UnicodeDecodeError:
            raise SecretResolutionError(f"secret file {self.path} is not UTF-8 text") from None
        value = text.rstrip("\r\n")
        if not value:
            raise SecretResolutionError(f"secret file {self.path} is empty")
        register_secret(value)
        return SecretStr(value)


class LiteralSecret(ResolvableSecret):
    source: ClassVar[str] = "literal"
    value: SecretStr

    def describe(self) -> str:
        return "secret.literal(****)"

    def resolve(self, environ: Mapping[str, str]) -> SecretStr:
        register_secret(self.value.get_secret_value())
        return self.value


class KubernetesSecretRef(SecretRef):
    source: ClassVar[str] = "kubernetes"
    name: str
    key: str

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not _K8S_NAME.match(value) or len(value) > 253:
            raise ValueError(f"secret.kubernetes() needs a Secret name (RFC 1123 subdomain), got {value!r}")
        return value

    @field_validator("key")
    @classmethod
    def _valid_key(cls, value: str) -> str:
        if not _K8S_KEY.match(value):
            raise ValueError(f"secret.kubernetes() key must match [-._a-zA-Z0-9]+, got {value!r}")
        return value

    def describe(self) -> str:
        return f"secret.kubernetes({self.name!r}, {self.key!r})"


class ExternalSecretRef(SecretRef):
    source: ClassVar[str] = "external"
    store: str
    key: str
    property: str | None = None
    store_kind: Literal["ClusterSecretStore", "SecretStore"] = "ClusterSecretStore"

    @field_validator("store")
    @classmethod
    def _valid_store(cls, value: str) -> str:
        if not _K8S_NAME.match(value):
            raise ValueError(f"secret.external() store must be a SecretStore name, got {value!r}")
        return value

    @field_validator("key")
    @classmethod
    def _non_empty_key(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("secret.external() key must not be empty")
        return value

    def describe(self) -> str:
        prop = f", property={self.property!r}" if self.property else ""
        return f"secret.external({self.store!r}, {self.key!r}{prop})"


class ConductorOneCredential(SecretRef):
    """A connector's ConductorOne client ID or secret that Terraform creates (``conductorone_connector_credential``)
    when the stack opts in with ``Stack(conductorone=ConductorOne.managed(...))``.

    Never written by users: the stack derives it for each self-hosted connector. Only `iac synth` can deliver it
    (as a reference to the credential resource); every other workflow reports it as unresolvable."""

    source: ClassVar[str] = "conductorone"
    connector: str
    attribute: Literal["client_id", "client_secret"]

    def describe(self) -> str:
        return f"ConductorOne.managed(): the {self.attribute} Terraform creates for connector '{self.connector}'"

    def unavailable(self) -> SecretResolutionError:
        """The error of every workflow that needs the value itself."""
        return SecretResolutionError(
            "is created by Terraform (conductorone_connector_credential) because the stack uses "
            "ConductorOne.managed(...): deploy it with `iac synth` and terraform apply, or give the connector "
            "its own conductorone=ConductorOne(client_id=..., client_secret=...)")


_Ref = TypeVar("_Ref", bound=SecretRef)

def _build(cls: type[_Ref], **fields: object) -> _Ref:
    try:
        return cls(**fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        message = str((first.get("ctx") or {}).get("error", first["msg"]))
        raise SpecError(message) from None


def env(var: str) -> EnvSecret:
    """The value of environment variable ``var`` where the stack is rendered or deployed."""
    return _build(EnvSecret, var=var)


def file(path: str) -> FileSecret:
    """The content of ``path`` (one trailing newline stripped)."""
    return _build(FileSecret, path=path)


def kubernetes(name: str, key: str) -> KubernetesSecretRef:
    """Key ``key`` of the existing Secret ``name`` in the stack's namespace. Nothing is rendered for it."""
    return _build(KubernetesSecretRef, name=name, key=key)


def external(store: str, key: str, property: str | None = None, *,
             store_kind: Literal["ClusterSecretStore", "SecretStore"] = "ClusterSecretStore") -> ExternalSecretRef:
    """A value held by an External Secrets Operator store (rendered as an ``ExternalSecret``)."""
    return _build(ExternalSecretRef, store=store, key=key, property=property, store_kind=store_kind)


def literal(value: str) -> LiteralSecret:
    """The value itself. Meant for tests and demos: it ends up wherever the stack file goes."""
    warnings.warn(
        "secret.literal() puts a credential in the stack file; prefer secret.env(), secret.file(), "
        "secret.kubernetes() or secret.external()",
        PlaintextSecretWarning,
        stacklevel=2,
    )
    return LiteralSecret(value=SecretStr(value))
