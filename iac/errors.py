"""The one error tree of the project.

    IacError                      anything the user can fix; the CLI prints it as one line, exit 2
    ├── StackError                the stack file cannot be loaded (missing, no `stack`, raises)
    ├── SpecError                 a connector or stack setting is invalid (names stack, connector, field)
    ├── SecretResolutionError     a secret reference cannot be resolved (env var unset, file unreadable)
    ├── RenderError               rendering or schema validation of the manifests failed
    ├── PluginError               an integration registration is unknown or broken (iac.plugins)
    └── ApplyError                talking to the cluster failed (conflict, forbidden, unreachable)

Messages never contain a secret value: the classes that build them only ever see
references (`secret.env("VAR")`) or field names.
"""

from __future__ import annotations

__all__ = [
    "ApplyError",
    "IacError",
    "PluginError",
    "RenderError",
    "SecretResolutionError",
    "SpecError",
    "StackError",
]


class IacError(Exception):
    """Base of every error the user can act on. ``str(err)`` is one line."""

    exit_code: int = 2


class StackError(IacError):
    """The stack file could not be loaded."""


class SpecError(IacError):
    """A setting is invalid. ``where`` names stack/connector, ``field`` the setting."""

    def __init__(self, message: str, *, field: str | None = None, connector: str | None = None,
                 stack: str | None = None) -> None:
        self.message = message
        self.field = field
        self.connector = connector
        self.stack = stack
        super().__init__(self._compose())

    def located(self, *, stack: str | None = None, connector: str | None = None) -> SpecError:
        """Return a copy that also names the stack (and connector) the error belongs to."""
        return type(self)(self.message, field=self.field, connector=self.connector or connector,
                          stack=self.stack or stack)

    def _compose(self) -> str:
        parts = []
        if self.stack:
            parts.append(f"stack '{self.stack}'")
        if self.connector:
            parts.append(f"connector '{self.connector}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        prefix = ", ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class SecretResolutionError(SpecError):
    """A secret reference could not be turned into a value."""


class RenderError(IacError):
    """Rendering or schema validation failed."""


class PluginError(IacError):
    """An integration is not registered, or its registration cannot be loaded."""


class ApplyError(IacError):
    """An operation against the cluster failed."""
