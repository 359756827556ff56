"""The engine's only connection to the API server: a thin layer over lightkube that speaks plain dicts,
counts writes, and turns every failure into a one-line :class:`ApplyError`."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2  # lightkube's HTTP stack: its transport errors surface as httpx2 exceptions
from lightkube import ApiError, Client, operators
from lightkube.config.kubeconfig import KubeConfig
from lightkube.core.exceptions import ConfigError
from lightkube.types import CascadeType, PatchType

from iac.backends.engine._kinds import resource_type
from iac.backends.engine._model import Manifest, ObjectRef
from iac.errors import ApplyError

__all__ = ["FIELD_MANAGER", "FieldConflict", "FieldConflictError", "ForbiddenError", "KubeApi", "connect"]

FIELD_MANAGER = "iac"


class ForbiddenError(ApplyError):
    """RBAC denied a request; the message names verb, resource and namespace."""


class FieldConflict:
    """One field another manager owns with a different value (from the API server's 409 causes)."""

    __slots__ = ("field", "manager")

    def __init__(self, field: str, manager: str) -> None:
        self.field = field
        self.manager = manager

    def __repr__(self) -> str:
        return f"FieldConflict({self.field!r}, {self.manager!r})"


class FieldConflictError(ApplyError):
    """Server-side apply refused to take fields owned by another manager."""

    def __init__(self, ref: ObjectRef, conflicts: list[FieldConflict]) -> None:
        self.ref = ref
        self.conflicts = conflicts
        listed = "; ".join(f"{c.field} is owned by {c.manager}" for c in conflicts) or "unknown fields"
        super().__init__(f"conflict applying {ref} in namespace {ref.namespace}: {listed} "
                         "(re-run with --force-conflicts to take ownership)")


_CONFLICT_MANAGER = re.compile(r'conflict with "([^"]+)"')
_FORBIDDEN_USER = re.compile(r'User "([^"]+)"')


class KindNotServedError(ApplyError):
    """The API server serves no such apiVersion/kind (an older or newer cluster)."""


def connect(kubeconfig: str | Path | None = None, context: str | None = None, *,
            timeout: float = 30.0) -> KubeApi:
    """A :class:`KubeApi` from a kubeconfig (default: ``$KUBECONFIG``, ``~/.kube/config``, in-cluster)."""
    try:
        config = KubeConfig.from_file(kubeconfig) if kubeconfig else KubeConfig.from_env()
        single = config.get(context_name=context)
        if single is None:
            raise ConfigError("no current context")
    except ConfigError as exc:
        raise ApplyError(f"kubeconfig: {exc}") from None
    except (OSError, ValueError, KeyError) as exc:
        raise ApplyError(f"kubeconfig {kubeconfig or '(default)'} is unusable: {exc}") from None
    client = Client(config=single, timeout=httpx2.Timeout(timeout), field_manager=FIELD_MANAGER,
                    trust_env=False)
    return KubeApi(client, server=single.cluster.server)


class KubeApi:
    """Plain-dict verbs over one lightkube client. Safe to share between threads."""

    def __init__(self, client: Client, *, server: str = "", field_manager: str = FIELD_MANAGER) -> None:
        self.client = client
        self.server = server
        self.field_manager = field_manager
        self._writes = 0
        self._lock = threading.Lock()

    @property
    def writes(self) -> int:
        """Mutating requests sent so far (dry runs and reads excluded)."""
        return self._writes

    def close(self) -> None:
        self.client.close()

    def get(self, ref: ObjectRef) -> Manifest | None:
        with self._errors("get", ref):
            try:
                obj = self.client.get(_res(ref), ref.name, namespace=ref.namespace)
            except ApiError as exc:
                if exc.status.code == 404:
                    return None
                raise
        return _plain(obj)

    def list_labelled(self, api_version: str, kind: str, namespace: str, label: str,
                      value: str | None = None) -> list[Manifest]:
        """Every ``kind`` object in ``namespace`` whose ``label`` is ``value`` (any value when None)."""
        ref = ObjectRef(kind, "", namespace, api_version)
        selector = operators.exists() if value is None else value
        with self._errors("list", ref):
            try:
                return [_plain(obj) for obj in self.client.list(_res(ref), namespace=namespace,
                                                                   labels={label: selector})]
            except ApiError as exc:
                if exc.status.code == 404:  # a list answers 404 only when the server has no such resource
                    raise KindNotServedError(f"the API server does not serve {kind} {api_version}") from None
                raise

    def apply(self, obj: Manifest, *, force: bool = False, dry_run: bool = False) -> Manifest:
        """Server-side apply as the engine's field manager."""
        ref = ObjectRef.of(obj)
        with self._errors("patch", ref):
            if not dry_run:
                self._count_write()
            result = self.client.patch(_res(ref), ref.name, obj, namespace=ref.namespace,
                                       patch_type=PatchType.APPLY, field_manager=self.field_manager,
                                       force=force, dry_run=dry_run)
        return _plain(result)

    def delete(self, ref: ObjectRef) -> bool:
        """Delete ``ref``; False when it was already gone."""
        with self._errors("delete", ref):
            self._count_write()
            try:
                # Background: dependents (a CronJob's Jobs and pods, a Deployment's ReplicaSets) go too. Some older
                # kinds default to orphaning them (batch/v1beta1 CronJob), leaving pods behind.
                self.client.delete(_res(ref), ref.name, namespace=ref.namespace, cascade=CascadeType.BACKGROUND)
            except ApiError as exc:
                if exc.status.code == 404:
                    return False
                raise
        return True

    def _count_write(self) -> None:
        with self._lock:
            self._writes += 1

    @contextmanager
    def _errors(self, verb: str, ref: ObjectRef) -> Iterator[None]:
        try:
            yield
        except ApiError as exc:
            raise _translate(exc, verb, ref) from None
        except httpx2.TransportError as exc:
            raise ApplyError(f"cannot reach the API server {self.server}: "
                             f"{type(exc).__name__}: {exc}") from None
        except ConfigError as exc:
            raise ApplyError(f"kubeconfig: {exc}") from None


def _res(ref: ObjectRef) -> Any:
    # lightkube's verbs are overloaded per resource scope; ours is only known at run time.
    return resource_type(ref)


def _plain(obj: Any) -> Manifest:
    data = obj.to_dict()
    assert isinstance(data, dict)
    return data


def _where(ref: ObjectRef) -> str:
    return f"in namespace {ref.namespace}" if ref.namespace else "(cluster-scoped)"


def _translate(exc: ApiError, verb: str, ref: ObjectRef) -> ApplyError:
    status = exc.status
    code = status.code or 0
    message = (status.message or str(exc)).replace("\n", " ")
    details = status.details
    if code == 409 and details and details.causes and any(c.reason == "FieldManagerConflict"
                                                          for c in details.causes):
        conflicts = []
        for cause in details.causes:
            match = _CONFLICT_MANAGER.search(cause.message or "")
            manager = match.group(1) if match else "another manager"
            conflicts.append(FieldConflict(cause.field or "?", manager))
        return FieldConflictError(ref, conflicts)
    resource = (details.kind if details and details.kind else None) or ref.kind
    if code == 403:
        user = _FORBIDDEN_USER.search(message)
        who = f'user "{user.group(1)}"' if user else "this identity"
        target = f" (for {ref})" if ref.name else ""
        return ForbiddenError(f"forbidden: {who} cannot {verb} {resource} {_where(ref)}{target}; "
                              "`iac rbac` prints the Role a deployer needs")
    if code == 401:
        return ApplyError(f"unauthorized: the API server rejected the credentials ({message})")
    if code == 404 and verb == "patch" and ref.namespace and "namespaces" in message:
        return ApplyError(f"namespace {ref.namespace} does not exist; create it or set create_namespace=True "
                          "on the stack")
    if code == 422:
        return ApplyError(f"{ref} {_where(ref)} is invalid: {message}")
    return ApplyError(f"{verb} {ref} {_where(ref)} failed ({code} {status.reason or ''}): {message}")
