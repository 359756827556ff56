"""Stack files for deploy tests and the benchmark: N Okta connectors, credentials from the environment."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["write_stack"]

_TEMPLATE = '''\
from iac import ConductorOne, Okta, Stack, secret

stack = Stack(
    {name!r},
    namespace={namespace!r},
    create_namespace={create_namespace!r},
    conductorone=ConductorOne(client_id=secret.env("C1_CLIENT_ID"), client_secret=secret.env("C1_CLIENT_SECRET")),
)
stack.add(*[
    Okta(connector, domain=f"{{connector}}.okta.com", api_token=secret.env("OKTA_API_TOKEN"),
         skip_secondary_emails=connector in {quiet!r})
    for connector in {connectors!r}
])
'''


def write_stack(path: Path, *, name: str, namespace: str, connectors: Iterable[str],
                create_namespace: bool = True, quiet: Iterable[str] = ()) -> Path:
    """Write a stack file; ``quiet`` connectors set ``skip_secondary_emails`` (one env var differs)."""
    path.write_text(_TEMPLATE.format(name=name, namespace=namespace, create_namespace=create_namespace,
                                     connectors=list(connectors), quiet=sorted(quiet)))
    return path
