"""A stack: the connectors one team deploys into one namespace, and the loader for stack files.

A stack file is a Python file that defines a module-level ``stack``::

    from iac import Stack, Okta, secret
    stack = Stack("prod", namespace="identity-connectors")
    stack.add(Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN")))
"""

from __future__ import annotations

import contextvars
import re
import runpy
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from iac.errors import SpecError, StackError
from iac.spec._connector import ConductorOne, Connector, ManagedConductorOne
from iac.spec._validation import check_dns_label, spec_error_from

__all__ = ["DEFAULT_KUBERNETES_VERSION", "Stack", "load_stack"]

DEFAULT_KUBERNETES_VERSION = "1.25"

# Stacks created while a stack file runs, so errors raised inside it can name the stack.
_stacks_being_loaded: contextvars.ContextVar[list[Stack] | None] = contextvars.ContextVar(
    "stacks_being_loaded", default=None
)


class Stack(BaseModel):
    """A named set of connectors deployed into one namespace."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str
    namespace: str = "baton"
    create_namespace: StrictBool = False
    conductorone: ConductorOne | ManagedConductorOne | None = None
    """Default ConductorOne credentials for connectors that set none of their own, or
    ``ConductorOne.managed(...)``: `iac synth` then declares the ConductorOne side too (apps, integrations and the
    credentials of self-hosted connectors)."""
    image: str | None = None
    """Default image for connectors run by the bundled runtime (default: this project's runtime image)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels put on every rendered object."""
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    """The oldest Kubernetes (``MAJOR.MINOR``) the stack deploys to. It picks API versions that changed:
    a scheduled connector's CronJob is ``batch/v1beta1`` before 1.21, ``batch/v1`` from 1.21."""
    connectors: list[Connector] = Field(default_factory=list)
    environments: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Named environments (GitOps overlays, ``--env``): per environment, overrides of this stack's settings
    (``namespace``, ``create_namespace``, ``conductorone``, ``image``, ``labels``; each replaces the value) and
    of connector settings under ``connectors={"<connector>": {"<setting>": value}}``. Rendering without an
    environment ignores them."""

    def __init__(self, name: str, /, **settings: Any) -> None:
        try:
            super().__init__(name=name, **settings)
        except ValidationError as exc:
            raise spec_error_from(exc, connector=None, fields=type(self).model_fields).located(
                stack=name if isinstance(name, str) else None) from None
        being_loaded = _stacks_being_loaded.get()
        if being_loaded is not None:
            being_loaded.append(self)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> str:
        return check_dns_label(value, "stack name", 40)

    @field_validator("namespace", mode="before")
    @classmethod
    def _namespace(cls, value: Any) -> str:
        return check_dns_label(value, "namespace")

    @field_validator("kubernetes_version")
    @classmethod
    def _kubernetes_version(cls, value: str) -> str:
        match = re.fullmatch(r"1\.([0-9]{1,3})", value)
        if match is None or int(match.group(1)) < MIN_KUBERNETES_MINOR:
            raise ValueError(f"kubernetes_version {value!r} must be a Kubernetes release like '1.25' "
                             f"(1.{MIN_KUBERNETES_MINOR} or newer)")
        return value

    def cronjob_api_version(self) -> str:
        """``batch/v1`` (GA in Kubernetes 1.21) or, for older clusters, ``batch/v1beta1``."""
        return "batch/v1" if int(self.kubernetes_version.split(".")[1]) >= 21 else "batch/v1beta1"

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            reserved = key in ("app", "baton", "baton-app")
            if reserved or key.startswith(("app.kubernetes.io/", "applyset.kubernetes.io/")):
                raise ValueError(f"label {key!r} is set by iac and cannot be overridden")
        return value

    @field_validator("environments")
    @classmethod
    def _environments(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for env_name, overrides in value.items():
            check_dns_label(env_name, "environment name")
            for key, override in overrides.items():
                if key == "connectors":
                    if not isinstance(override, dict) or not all(isinstance(v, dict) for v in override.values()):
                        raise ValueError(f"environment {env_name!r}: connectors must map connector names to "
                                         "dicts of settings")
                elif key not in _ENVIRONMENT_FIELDS:
                    raise ValueError(f"environment {env_name!r}: {key!r} cannot be overridden; use "
                                     f"{', '.join(_ENVIRONMENT_FIELDS)} or connectors={{...}}")
        return value

    def environment(self, name: str) -> Stack:
        """This stack as deployed to environment ``name``: its overrides applied and validated."""
        if name not in self.environments:
            known = ", ".join(self.environments) or "none declared"
            raise SpecError(f"no environment named {name!r} (environments: {known})", stack=self.name)
        overrides = dict(self.environments[name])
        per_connector: dict[str, dict[str, Any]] = overrides.pop("connectors", {})
        unknown = sorted(set(per_connector) - {c.name for c in self.connectors})
        if unknown:
            raise SpecError(f"environment {name!r} overrides unknown connector {unknown[0]!r}", stack=self.name)
        settings = {f: getattr(self, f) for f in _ENVIRONMENT_FIELDS}
        try:
            env_stack = Stack(self.name, **{**settings, **overrides})
            for connector in self.connectors:
                changes = per_connector.get(connector.name)
                if changes:
                    kept = {f: getattr(connector, f) for f in connector.model_fields_set if f != "name"}
                    connector = type(connector)(connector.name, **{**kept, **changes})
                env_stack.add(connector)
        except SpecError as exc:
            raise type(exc)(f"{exc.message} (in environment {name!r})", field=exc.field, connector=exc.connector,
                            stack=self.name) from None
        return env_stack

    def add(self, *connectors: Connector) -> Stack:
        """Add connectors; names must be unique within the stack. Returns the stack for chaining."""
        for connector in connectors:
            if not isinstance(connector, Connector):
                raise SpecError(
                    f"stack.add() takes connectors such as Okta(...), got {type(connector).__name__}",
                    stack=self.name,
                )
            if any(existing.name == connector.name for existing in self.connectors):
                raise SpecError(
                    "duplicate connector name; names must be unique within a stack",
                    stack=self.name, connector=connector.name,
                )
            self.connectors.append(connector)
        return self

    def connector(self, name: str) -> Connector:
        for connector in self.connectors:
            if connector.name == name:
                return connector
        raise SpecError(f"no connector named {name!r}", stack=self.name)

    @property
    def self_hosted(self) -> list[Connector]:
        """The connectors rendered into the cluster (``hosting="self"``)."""
        return [c for c in self.connectors if c.hosting == "self"]

    @property
    def cloud_hosted(self) -> list[Connector]:
        """The connectors ConductorOne runs (``hosting="cloud"``): no Kubernetes objects."""
        return [c for c in self.connectors if c.hosting == "cloud"]

    def __iter__(self) -> Iterator[Connector]:  # type: ignore[override]
        return iter(self.connectors)


_ENVIRONMENT_FIELDS = ("namespace", "create_namespace", "conductorone", "image", "labels", "kubernetes_version")
MIN_KUBERNETES_MINOR = 20  # the oldest release the project's tests apply to (v1.20.2)


def load_stack(path: str | Path) -> Stack:
    """Run a stack file and return its module-level ``stack``.

    Every failure becomes a one-line :class:`StackError`/:class:`SpecError` naming the file (and line)."""
    file = Path(path)
    shown = str(path)
    if not file.exists():
        raise StackError(f"stack file {shown} does not exist")
    if file.is_dir():
        raise StackError(f"stack file {shown} is a directory; pass the .py file that defines `stack`")
    if file.suffix != ".py":
        raise StackError(f"stack file {shown} must be a Python file (.py)")

    created: list[Stack] = []
    token = _stacks_being_loaded.set(created)
    # The stack file may import helpers that sit next to it.
    sys.path.insert(0, str(file.resolve().parent))
    try:
        namespace = runpy.run_path(str(file), run_name="__iac_stack__")
    except SpecError as exc:
        line = _line_in(file, exc)
        stack_name = created[-1].name if created else None
        located = exc.located(stack=stack_name)
        raise type(located)(f"{shown}{line}: {located}") from None
    except SyntaxError as exc:
        raise StackError(f"{shown}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (ImportError, NameError, TypeError, AttributeError, ValueError, KeyError, OSError) as exc:
        line = _line_in(file, exc)
        raise StackError(f"{shown}{line}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # a stack file is user code: report anything it raises as one line
        line = _line_in(file, exc)
        raise StackError(f"{shown}{line}: the stack file raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(str(file.resolve().parent))
        _stacks_being_loaded.reset(token)

    stack = namespace.get("stack")
    if stack is None:
        raise StackError(f"{shown} defines no module-level `stack` (expected `stack = Stack(...)`)")
    if not isinstance(stack, Stack):
        raise StackError(f"{shown}: `stack` is a {type(stack).__name__}, not an iac.Stack")
    return stack


def _line_in(file: Path, exc: BaseException) -> str:
    """':<line>' of the deepest frame that belongs to the stack file, or ''."""
    target = str(file.resolve())
    line = ""
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename and Path(frame.filename).resolve().as_posix() == Path(target).as_posix():
            line = f":{frame.lineno}"
    return line
