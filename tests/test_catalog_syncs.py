"""One declaration of what a connector syncs: for every registered integration with a connector and a
simulator, the catalog equals what the connector declares and emits (see tests/_catalog_check.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _catalog_check import assert_catalog_matches_connector
from conftest import REPO_ROOT

from iac import load_stack
from iac.plugins import plugins

SYNCING = [name for name, plugin in plugins().items() if plugin.connector and plugin.simulator]


def test_every_bundled_connector_is_checked() -> None:
    assert SYNCING == ["okta", "coupa", "concur", "celigo"]


@pytest.mark.parametrize("integration", SYNCING)
def test_catalog_declares_what_the_connector_syncs(integration: str, tmp_path: Path) -> None:
    stack = load_stack(REPO_ROOT / "stacks" / "example.py")
    connector = next(c for c in stack.connectors if c.integration.name == integration)
    assert_catalog_matches_connector(stack, connector.name, tmp_path / "sync.sqlite")
