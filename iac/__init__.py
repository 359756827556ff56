"""baton-iac: declare, render, deploy and run ConductorOne baton connectors on your own clusters.

    from iac import Stack, Okta, secret
    stack = Stack("prod", namespace="identity-connectors")
    stack.add(Okta("okta", domain="acme.okta.com", api_token=secret.env("OKTA_API_TOKEN")))
"""

from __future__ import annotations

from iac._version import __version__
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
