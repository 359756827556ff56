"""A stand-in for the ConductorOne Terraform provider (conductorone/conductorone), for offline tests of the
configuration `iac synth` writes for ``ConductorOne.managed(...)`` stacks.

The real provider talks to the ConductorOne API, which no test can reach, and cannot be installed offline. This
stand-in (on the ``tf`` framework, plugin protocol 6) declares the resources the synth writes with the attribute
names of the real provider v1.5 (tests/test_conductorone.py checks the synth against that list) and behaves like it
where the hashicorp/kubernetes side depends on it: ``id`` is computed, a connector credential's ``client_id`` and
``client_secret`` are generated on create (``client_secret`` sensitive) and stay the same on every read. It keeps
its objects in the JSON file ``$C1_STANDIN_STATE`` so the test can compare them with the live Secret.

Run as a plugin: ``python tests/_conductorone_standin.py`` (Terraform starts it from a filesystem mirror)."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tf import schema, types  # type: ignore[import-untyped]
from tf.iface import Config, CreateContext, DeleteContext, ReadContext, State, UpdateContext  # type: ignore[import-untyped]
from tf.provider import Provider, Resource  # type: ignore[import-untyped]
from tf.runner import run_provider  # type: ignore[import-untyped]
from tf.utils import Diagnostics  # type: ignore[import-untyped]

VERSION = "1.5.0"
SOURCE = "registry.terraform.io/conductorone/conductorone"
STATE_ENV = "C1_STANDIN_STATE"
EXECUTABLE = f"terraform-provider-conductorone_v{VERSION}"

_ATTRIBUTES: dict[str, list[Any]] = {
    "conductorone_app": [
        schema.Attribute("display_name", types.String(), required=True),
        schema.Attribute("description", types.String(), optional=True),
        schema.Attribute("annotations", types.Map(types.String()), optional=True),
    ],
    "conductorone_integration_baton": [
        schema.Attribute("app_id", types.String(), required=True, requires_replace=True),
        schema.Attribute("user_ids", types.List(types.String()), optional=True),
    ],
    "conductorone_integration_coupa": [
        schema.Attribute("app_id", types.String(), required=True, requires_replace=True),
        schema.Attribute("user_ids", types.List(types.String()), optional=True),
        schema.Attribute("coupa_domain", types.String(), optional=True),
        schema.Attribute("oauth2_client_cred_grant_client_id", types.String(), optional=True),
        schema.Attribute("oauth2_client_cred_grant_client_secret", types.String(), optional=True, sensitive=True),
    ],
    "conductorone_connector_credential": [
        schema.Attribute("app_id", types.String(), required=True, requires_replace=True),
        schema.Attribute("connector_id", types.String(), required=True, requires_replace=True),
        schema.Attribute("client_id", types.String(), computed=True),
        schema.Attribute("client_secret", types.String(), computed=True, sensitive=True),
    ],
}


@contextmanager
def _objects() -> Iterator[dict[str, Any]]:
    """The stand-in's records, locked: Terraform creates resources in parallel."""
    path = Path(os.environ[STATE_ENV])
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        objects: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        yield objects
        path.write_text(json.dumps(objects, indent=1, sort_keys=True))


def _resource_class(type_name: str) -> type[Any]:
    attributes = [schema.Attribute("id", types.String(), computed=True), *_ATTRIBUTES[type_name]]
    generated = [a.name for a in attributes if a.computed]

    class StandIn(Resource):  # type: ignore[misc]
        @classmethod
        def get_name(cls) -> str:
            return type_name.removeprefix("conductorone_")

        @classmethod
        def get_schema(cls) -> Any:
            return schema.Schema(version=1, attributes=attributes)

        def __init__(self, provider: Any) -> None:
            self.provider = provider

        def create(self, ctx: CreateContext, planned: State) -> State:
            state = dict(planned)
            state["id"] = f"{type_name.removeprefix('conductorone_')}-{secrets.token_hex(6)}"
            if type_name == "conductorone_connector_credential":
                state["client_id"] = f"standin-client-{secrets.token_hex(4)}@example.conductor.one/pcc"
                state["client_secret"] = f"standin-secret-{secrets.token_hex(16)}"
            with _objects() as objects:
                objects[state["id"]] = {"type": type_name, **state}
            return state

        def read(self, ctx: ReadContext, current: State) -> State | None:
            with _objects() as objects:
                known = objects.get(current["id"])
            if known is None:
                return None
            return {k: known.get(k) for k in current}

        def update(self, ctx: UpdateContext, current: State, planned: State) -> State:
            state = {**planned, **{k: current[k] for k in generated}}
            with _objects() as objects:
                objects[state["id"]] = {"type": type_name, **state}
            return state

        def delete(self, ctx: DeleteContext, current: State) -> None:
            with _objects() as objects:
                objects.pop(current["id"], None)

    StandIn.__name__ = type_name
    return StandIn


class ConductorOneStandIn(Provider):  # type: ignore[misc]
    def full_name(self) -> str:
        return SOURCE

    def get_model_prefix(self) -> str:
        return "conductorone_"

    def get_provider_schema(self, diags: Diagnostics) -> Any:
        return schema.Schema(attributes=[])

    def validate_config(self, diags: Diagnostics, config: Config) -> None:
        return None

    def configure_provider(self, diags: Diagnostics, config: Config) -> None:
        return None

    def get_data_sources(self) -> list[type[Any]]:
        return []

    def get_resources(self) -> list[type[Any]]:
        return [_resource_class(name) for name in _ATTRIBUTES]


def write_mirror(mirror: Path, python: str) -> Path:
    """An unpacked filesystem-mirror entry whose executable starts this module with ``python``."""
    directory = mirror / SOURCE / VERSION / "linux_amd64"
    directory.mkdir(parents=True, exist_ok=True)
    executable = directory / EXECUTABLE
    executable.write_text(f"#!/bin/sh\nexec {python} {Path(__file__).resolve()} \"$@\"\n")
    executable.chmod(0o755)
    return executable


if __name__ == "__main__":
    run_provider(ConductorOneStandIn())
