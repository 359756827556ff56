"""The bundled integrations' specs, one module each. Which integrations exist is the registry's business
(:mod:`iac.plugins`)."""

from __future__ import annotations

from iac.spec.integrations.celigo import Celigo
from iac.spec.integrations.concur import Concur
from iac.spec.integrations.coupa import Coupa
from iac.spec.integrations.custom import Custom
from iac.spec.integrations.okta import Okta

__all__ = ["Celigo", "Concur", "Coupa", "Custom", "Okta"]
