"""Deploy rendered objects straight to a cluster: preview, up, refresh, destroy.

Server-side apply with the field manager ``iac``; membership is an ApplySet (KEP-3659) whose parent is
the Secret ``applyset-<stack>`` in the stack namespace; pruning deletes only labelled members. This is
the only package that talks to the Kubernetes API server (through lightkube)::

    api = connect(kubeconfig, context)
    engine = Engine(api, stack=stack.name, namespace=stack.namespace)
    plan = engine.preview(render_stack(stack))
"""

from __future__ import annotations

from iac.backends.engine._applyset import (
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    INVENTORY_ANNOTATION,
    PART_OF_LABEL,
    TOOLING_ANNOTATION,
    ApplySet,
)
from iac.backends.engine._engine import Engine, ProgressEvent
from iac.backends.engine._kinds import resource_type
from iac.backends.engine._kube import (
    FIELD_MANAGER,
    FieldConflict,
    FieldConflictError,
    ForbiddenError,
    KubeApi,
    connect,
)
from iac.backends.engine._model import (
    Action,
    DriftedField,
    DriftedObject,
    DriftReport,
    FieldChange,
    Manifest,
    ObjectChange,
    ObjectRef,
    Report,
)
from iac.backends.engine._rbac import DEPLOYER_VERBS, SubjectKind, deployer_rbac

__all__ = [
    "DEPLOYER_VERBS",
    "FIELD_MANAGER",
    "GROUP_KINDS_ANNOTATION",
    "ID_LABEL",
    "INVENTORY_ANNOTATION",
    "PART_OF_LABEL",
    "TOOLING_ANNOTATION",
    "Action",
    "ApplySet",
    "DriftReport",
    "DriftedField",
    "DriftedObject",
    "Engine",
    "FieldChange",
    "FieldConflict",
    "FieldConflictError",
    "ForbiddenError",
    "KubeApi",
    "Manifest",
    "ObjectChange",
    "ObjectRef",
    "ProgressEvent",
    "Report",
    "SubjectKind",
    "connect",
    "deployer_rbac",
    "resource_type",
]
