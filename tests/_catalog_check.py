"""The catalog (``Integration.syncs``: resource types, entitlements, what is provisioned) checked against
what the connector itself declares and emits: its syncers' resource types with every opt-in setting on, the
entitlements a sync against its simulator writes, and its provisioner's routes. Used for every registered
integration (tests/test_catalog_syncs.py) and for the toy plugin (tests/test_plugin.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from iac.connectors import registered
from iac.demo import sandbox_environment, sandbox_for
from iac.runtime import Artifact, Entitlement, Provisioner, ResourceRef, SyncEngine, Wiring, load_settings
from iac.runtime.errors import BadRequestError
from iac.sim import serve
from iac.spec import Stack


def assert_catalog_matches_connector(stack: Stack, connector_name: str, artifact: Path) -> None:
    connector = stack.connector(connector_name)
    spec = type(connector)
    info = spec.integration
    entry = registered()[info.name]
    opt_ins = {rt.opt_in for rt in info.syncs if rt.opt_in}
    sandbox = sandbox_for(connector, seed=3, users=40)
    assert sandbox is not None, f"{info.name} registers no simulator"
    with serve(sandbox.simulator.app) as base_url:
        sandbox.base_url = base_url
        env = sandbox_environment(stack, connector_name, sandbox) | {"BATON_FILE": str(artifact)}
        env |= {s.env: "true" for s in spec.connector_settings() if s.name in opt_ins}
        settings = load_settings(spec, environ=env | {"BATON_PROVISIONING": "true"})
        runner = entry.build(settings, Wiring())
        try:
            declared_types = {syncer.resource_type.id for syncer in runner.syncers()}
            SyncEngine(runner, settings.file, workers=2).run()
            with Artifact(artifact) as opened:
                entitlements = [json.loads(data) for _id, data in opened.content()["entitlements"]]
            routes = _provisioned(runner.provisioner(), entitlements)
        finally:
            runner.close()
    catalog_types = {rt.id for rt in info.syncs}
    assert catalog_types == declared_types, (
        f"{info.name}: the catalog lists {sorted(catalog_types)}, the connector syncs {sorted(declared_types)}")

    emitted = {(e["resource_type"], e["slug"], tuple(e["grantable_to"])) for e in entitlements}
    catalog_entitlements = {(rt.id, e.slug, e.grantable_to) for rt in info.syncs for e in rt.entitlements}
    assert emitted == catalog_entitlements, (
        f"{info.name}: the catalog declares {sorted(catalog_entitlements)}, a sync emits {sorted(emitted)}")

    catalog_routes = {(rt.id, e.slug) for rt in info.syncs if rt.provisioned for e in rt.entitlements}
    assert routes == catalog_routes, (
        f"{info.name}: the catalog marks {sorted(catalog_routes)} provisioned, the provisioner routes {sorted(routes)}")


def _provisioned(provisioner: Provisioner | None, entitlements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The (resource type, slug) pairs the provisioner takes: a grant of anything else is refused up front
    ("cannot provision ..."), before any request; a grant it takes may fail later (the principal is made up)."""
    taken: set[tuple[str, str]] = set()
    if provisioner is None:
        return taken
    examples = {(e["resource_type"], e["slug"]): e for e in entitlements}
    for (kind, slug), example in sorted(examples.items()):
        entitlement = Entitlement(ResourceRef(kind, example["resource_id"]), slug, slug)
        try:
            provisioner.grant(ResourceRef("user", "no-such-user"), entitlement)
        except BadRequestError as exc:
            if str(exc).startswith("cannot provision"):
                continue
        except Exception:  # taken, then failed on the made-up principal: still a route
            pass
        taken.add((kind, slug))
    return taken
