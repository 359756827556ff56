"""Strict schema validation of rendered objects with the schemas bundled by ``kubernetes-validate``.

Validators are built once per (Kubernetes version, kind) and reused: loading a schema costs far
more than checking an object against it."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import TYPE_CHECKING, Any

from iac.errors import RenderError

if TYPE_CHECKING:
    import jsonschema

__all__ = ["MIN_VERSION", "newest_version", "schema_versions", "validate_objects"]

MIN_VERSION = "1.25"
# Kinds whose schema lives outside Kubernetes (CRDs); checked by their own tests.
_CRD_KINDS = {("external-secrets.io/v1", "ExternalSecret")}
# Older API versions the bundled schemas (1.25+) no longer carry, checked against their successor: a stack for
# Kubernetes < 1.21 renders CronJob as batch/v1beta1 with only fields both versions define.
_CHECKED_AS = {("batch/v1beta1", "CronJob"): "batch/v1"}


# jsonschema and the schema package cost ~60 ms to import: only `validate` and `render` need them.
def _kv_utils() -> Any:
    from kubernetes_validate import utils

    return utils


def newest_version() -> str:
    kv_utils = _kv_utils()
    return str(kv_utils.major_minor(kv_utils.latest_version()))


def schema_versions() -> tuple[str, ...]:
    """The Kubernetes versions every rendered object is validated against."""
    return (MIN_VERSION, newest_version())



@cache
def _validator(version: str, kind: str, api_version: str) -> jsonschema.protocols.Validator:
    import jsonschema
    from referencing import Registry, Resource

    kv_utils = _kv_utils()
    full = next(v for v in kv_utils.all_versions() if kv_utils.major_minor(v) == version)
    schema_dir = f"kubernetes-json-schema/v{full}-local-strict"
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = kv_utils.schema_contents(f"{schema_dir}/{kind.lower()}-{group_version}.json", version)
    definitions = kv_utils.schema_contents(f"{schema_dir}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate_objects(objects: list[dict[str, Any]], versions: tuple[str, ...] | None = None) -> int:
    """Validate every object in strict mode for each version; return how many checks ran.

    Raises RenderError naming the object, the field path and the version on the first failure."""
    import jsonschema

    checks = 0
    for version in versions or schema_versions():
        for obj in objects:
            key = (obj.get("apiVersion", ""), obj.get("kind", ""))
            if key in _CRD_KINDS:
                continue
            successor = _CHECKED_AS.get(key)
            if successor is not None:
                obj = {**obj, "apiVersion": successor}
                key = (successor, key[1])
            try:
                validator = _validator(version, key[1], key[0])
            except (FileNotFoundError, StopIteration, json.JSONDecodeError) as exc:
                raise RenderError(f"no Kubernetes {version} schema for {key[1]} {key[0]}: {exc}") from None
            error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
            if error is not None:
                path = ".".join(str(p) for p in error.absolute_path) or "(root)"
                name = obj.get("metadata", {}).get("name", "?")
                raise RenderError(
                    f"{key[1]} {name} fails the Kubernetes {version} schema at {path}: {error.message}"
                )
            checks += 1
    return checks

