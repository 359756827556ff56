"""GitOps: a stack as a Kustomize tree in Git, synced by Argo CD or Flux (``iac render STACK --gitops DIR``).

    tree = write_gitops_tree(load_stack("stacks/prod.py"), "deploy/prod")

No plaintext secrets: secret.external becomes an ExternalSecret, secret.kubernetes a reference; a value the
stack resolves itself (secret.env/file/literal) is refused unless ``allow_plaintext_secrets``."""

from __future__ import annotations

from iac.backends.gitops._tree import (
    KUSTOMIZATION,
    MARKER,
    GitopsTree,
    build_gitops_tree,
    json_patch,
    plaintext_bindings,
    write_gitops_tree,
)

__all__ = [
    "KUSTOMIZATION",
    "MARKER",
    "GitopsTree",
    "build_gitops_tree",
    "json_patch",
    "plaintext_bindings",
    "write_gitops_tree",
]
