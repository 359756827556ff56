"""Live cluster objects → attribute values: what Read reports so that ``terraform plan`` shows drift.

Pure functions over plain object dicts. The rule for an existing resource: an attribute keeps its value from
the prior state while the live object still holds exactly what that value renders to; otherwise it takes the
value read from the cluster. This keeps "unset" (null) and "set to the default" apart without guessing, and
an out-of-band ``kubectl set env`` or ``kubectl set image`` shows up on the attribute it changed. For import
there is no prior state: values equal to the spec's default are reported as null (unset).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from iac.backends.terraform._schema import ConnectorSchema, InputAttribute
from iac.spec import Resources, Storage, baton_env
from iac.spec.integrations.custom import RESERVED_ENV

__all__ = [
    "CONTAINER",
    "WORKLOAD_KINDS",
    "container_of",
    "env_of",
    "from_live",
    "parse_env_value",
    "plain_env_attributes",
]

CONTAINER = "connector"
Object = dict[str, Any]


WORKLOAD_KINDS = ("Deployment", "CronJob")


def container_of(deployment: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The connector container of a Deployment or CronJob (``{}`` when absent)."""
    spec = (deployment or {}).get("spec") or {}
    if (deployment or {}).get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    spec = (spec.get("template") or {}).get("spec") or {}
    for container in spec.get("containers") or []:
        if container.get("name") == CONTAINER:
            return dict(container)
    return {}


def env_of(deployment: Mapping[str, Any] | None) -> dict[str, str | None]:
    """Plain ``env`` of the connector container; variables that take their value from elsewhere map to None."""
    found: dict[str, str | None] = {}
    for item in container_of(deployment).get("env") or []:
        name = item.get("name")
        if isinstance(name, str):
            found[name] = item.get("value") if "valueFrom" not in item else None
    return found


def parse_env_value(attribute: InputAttribute, raw: str | None) -> Any:
    """An environment value as the attribute's Terraform value (None when absent or unparsable)."""
    if raw is None:
        return [] if attribute.kind == "list_string" else None  # an empty list is rendered as no variable
    if attribute.kind == "bool":
        return {"true": True, "false": False}.get(raw.strip().lower())
    if attribute.kind == "number":
        try:
            number = float(raw)
        except ValueError:
            return None
        return int(number) if number.is_integer() else number
    if attribute.kind == "list_string":
        return [part for part in raw.split(",") if part]
    return raw


def plain_env_attributes(schema: ConnectorSchema) -> dict[str, InputAttribute]:
    """Environment variable → the non-secret attribute that sets it."""
    return {a.env: a for a in schema.inputs if a.env is not None and not a.secret}


def _rendered_extra_env() -> frozenset[str]:
    """Variables the renderer adds on its own (never user-defined ``env``)."""
    return frozenset(RESERVED_ENV)


def from_live(schema: ConnectorSchema, *, live: Mapping[str, Any], rendered: Mapping[str, Any] | None,
              prior: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attribute values read from the live Deployment ``live``.

    With ``prior`` (and ``rendered``, the Deployment that state renders to): an attribute keeps its prior value
    unless its environment variable (or image, or custom ``env``) differs between ``rendered`` and ``live``.
    Without (import): every value comes from ``live``; values equal to the spec's default become null."""
    values: dict[str, Any] = {}
    live_env = env_of(live)
    rendered_env = env_of(rendered) if rendered is not None else None
    for env_name, attribute in plain_env_attributes(schema).items():
        if prior is not None and rendered_env is not None and live_env.get(env_name) == rendered_env.get(env_name):
            values[attribute.name] = prior.get(attribute.name)
            continue
        value = parse_env_value(attribute, live_env.get(env_name))
        if prior is None:
            value = _unset_if_default(schema, attribute, value, live)
        values[attribute.name] = value

    live_image = container_of(live).get("image")
    if prior is not None and rendered is not None and container_of(rendered).get("image") == live_image:
        values["image"] = prior.get("image")
    elif prior is None and not _attribute_required(schema, "image") and live_env.get(baton_env.CONNECTOR):
        values["image"] = None  # the bundled runtime image (BATON_CONNECTOR is set only without an own image)
    else:
        values["image"] = live_image

    live_resources = container_of(live).get("resources") or {}
    rendered_resources = container_of(rendered).get("resources") or {} if rendered is not None else None
    for part in ("requests", "limits"):
        name = f"resources_{part}"
        if not any(a.name == name for a in schema.inputs):
            continue
        live_part = {str(k): str(v) for k, v in (live_resources.get(part) or {}).items()}
        if prior is not None and rendered_resources is not None and \
                {str(k): str(v) for k, v in (rendered_resources.get(part) or {}).items()} == live_part:
            values[name] = prior.get(name)
        elif prior is None and live_part == getattr(Resources(), part):
            values[name] = None  # the renderer's default resources
        else:
            values[name] = live_part or None

    if any(a.name == "schedule" for a in schema.inputs):
        live_schedule = schedule_of(live)
        if prior is not None and rendered is not None and schedule_of(rendered) == live_schedule:
            values["schedule"] = prior.get("schedule")
        else:
            values["schedule"] = live_schedule

    if any(a.name == "env" for a in schema.inputs):
        known = set(plain_env_attributes(schema)) | _rendered_extra_env()
        live_custom = {k: v for k, v in live_env.items() if k not in known and v is not None}
        rendered_custom = ({k: v for k, v in (rendered_env or {}).items() if k not in known and v is not None}
                           if rendered_env is not None else None)
        if prior is not None and rendered_custom == live_custom:
            values["env"] = prior.get("env")
        else:
            values["env"] = live_custom or None
    return values


def schedule_of(workload: Mapping[str, Any] | None) -> str | None:
    """A CronJob's schedule; None for a Deployment."""
    spec = (workload or {}).get("spec") or {}
    return spec.get("schedule") if "jobTemplate" in spec else None


def storage_of(claim: Mapping[str, Any] | None, *, scheduled: bool) -> dict[str, Any]:
    """``storage_size`` and ``storage_storage_class`` from the live claim of /data (import). A scheduled
    connector's claim of the default size and class is the renderer's own: the arguments stay unset then."""
    if claim is None:
        return {"storage_size": None, "storage_storage_class": None}
    spec = claim.get("spec") or {}
    size = str(((spec.get("resources") or {}).get("requests") or {}).get("storage") or "") or None
    storage_class = spec.get("storageClassName")
    if scheduled and size == Storage().size and storage_class is None:
        return {"storage_size": None, "storage_storage_class": None}
    return {"storage_size": size, "storage_storage_class": storage_class}


def _attribute_required(schema: ConnectorSchema, name: str) -> bool:
    try:
        return schema.input(name).required
    except KeyError:
        return False


def _unset_if_default(schema: ConnectorSchema, attribute: InputAttribute, value: Any,
                      live: Mapping[str, Any]) -> Any:
    """On import: null for a value the renderer derives when the argument is unset (``host_id``)."""
    if attribute.field == "host_id" and value == (live.get("metadata") or {}).get("name"):
        return None
    return value
