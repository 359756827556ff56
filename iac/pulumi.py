"""``iac.pulumi``: the Pulumi backend under its short name (``from iac.pulumi import deploy``).

Importing it imports the Pulumi SDK; install ``baton-iac[pulumi]``."""

from __future__ import annotations

from iac.backends.pulumi import *  # noqa: F403
from iac.backends.pulumi import __all__ as __all__
