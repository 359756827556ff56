"""Custom: any baton-style image; no bundled runtime, no simulator."""

from __future__ import annotations

from iac.plugins import IntegrationPlugin

__all__ = ["PLUGIN"]

PLUGIN = IntegrationPlugin(name="custom", spec="iac.spec.integrations.custom:Custom")
