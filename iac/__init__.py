"""baton-iac: declare, render, deploy and run ConductorOne baton connectors on your own clusters.

    from iac import Stack, Okta, secret
    stack = Stack("prod", namespace="identity-connectors")
    stack.add(Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN")))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from iac._lazy import lazy_exports
from iac._version import __version__

if TYPE_CHECKING:
    from iac.spec import (
        Celigo,
        Concur,
        ConductorOne,
        Coupa,
        Custom,
        MetricsFrom,
        Okta,
        Resources,
        Stack,
        Storage,
        load_stack,
        secret,
    )

# Imported on first use (PEP 562): a process that needs one part (the store's process, a CLI command) does
# not pay for the others.
_EXPORTS = {
    "Celigo": "iac.spec",
    "Concur": "iac.spec",
    "ConductorOne": "iac.spec",
    "Coupa": "iac.spec",
    "Custom": "iac.spec",
    "MetricsFrom": "iac.spec",
    "Okta": "iac.spec",
    "Resources": "iac.spec",
    "Stack": "iac.spec",
    "Storage": "iac.spec",
    "load_stack": "iac.spec",
    "secret": "iac.spec",
}

__all__ = [
    "Celigo",
    "Concur",
    "ConductorOne",
    "Coupa",
    "Custom",
    "MetricsFrom",
    "Okta",
    "Resources",
    "Stack",
    "Storage",
    "__version__",
    "load_stack",
    "secret",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
