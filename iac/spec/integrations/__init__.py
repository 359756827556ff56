"""The integration registry. Adding an integration: one module here plus its runtime and simulator."""

from __future__ import annotations

from iac.errors import SpecError
from iac.spec._connector import Connector
from iac.spec.integrations.celigo import Celigo
from iac.spec.integrations.concur import Concur
from iac.spec.integrations.coupa import Coupa
from iac.spec.integrations.custom import Custom
from iac.spec.integrations.okta import Okta

__all__ = ["INTEGRATIONS", "Celigo", "Concur", "Coupa", "Custom", "Okta", "get_integration"]

INTEGRATIONS: dict[str, type[Connector]] = {
    cls.integration.name: cls for cls in (Okta, Coupa, Concur, Celigo, Custom)
}


def get_integration(name: str) -> type[Connector]:
    try:
        return INTEGRATIONS[name]
    except KeyError:
        raise SpecError(f"unknown integration {name!r}; known: {', '.join(INTEGRATIONS)}") from None
