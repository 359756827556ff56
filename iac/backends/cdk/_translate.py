"""A Kubernetes object dict → the configuration of a hashicorp/kubernetes provider resource, in jsii's wire form.

Generic: the bindings themselves say how each field is spelled and typed. A field name is matched, ignoring
case, against the jsii names of the struct's fields (``matchLabels``, ``except``), falling back to the singular
for the provider's repeated blocks (``containers`` → ``container``, ``volumeMounts`` → ``volumeMount``,
``ports`` → ``port``); a nested mapping becomes the struct the type hint names, a list of mappings a list of
them, and numbers go where the provider wants strings (``replicas``, ``runAsUser``) as strings. A field the
provider has no place for, a missing required field and a value of a type the provider does not take are
errors (:class:`TranslationError`, naming the field), never dropped.

The result is what jsii would send its runtime for the struct: a dict keyed by jsii (camelCase) names, holding
the fields that are set and nothing else. The bindings' Python struct classes are only read for their schema
(names, type hints, required fields), never instantiated: each instance runs a typeguard check per argument,
and jsii then serializes every field of every struct, unset ones as ``null``; that was most of the Python side
of a synth (``bench/synth.py``). The jsii runtime checks the configuration against the provider's types again
when the resource is created (:meth:`.Cdk.create`)."""

from __future__ import annotations

import collections.abc
import inspect
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from iac.errors import RenderError

__all__ = ["TranslationError", "config_class", "to_config"]

# Terraform meta-arguments in every resource's Config struct: never a Kubernetes field.
_META = frozenset({"connection", "count", "depends_on", "for_each", "lifecycle", "provider", "provisioners", "id"})


class TranslationError(RenderError):
    """A rendered object has a field the provider bindings cannot express."""


def config_class(resource_class: type[Any]) -> type[Any]:
    """The ``<Resource>Config`` struct that describes a resource's keyword arguments."""
    config: type[Any] = getattr(sys.modules[resource_class.__module__], f"{resource_class.__name__}Config")
    return config


def to_config(struct: type[Any], fields: Mapping[str, Any], path: str, **arguments: Any) -> dict[str, Any]:
    """``struct`` (a jsii struct class) in jsii's wire form, for the Kubernetes ``fields`` of the object at
    ``path``; ``arguments`` are further fields under their Python names (``depends_on=[...]``,
    ``data_wo={...}``), taken as they are (None: not set)."""
    schema = _schema(struct)
    config = _struct(schema, fields, path, check=False)
    for name, value in arguments.items():
        if value is None:
            continue
        if name not in schema.jsii_names:
            raise TranslationError(f"{path}: the provider's {schema.name} has no argument {name}")
        config[schema.jsii_names[name]] = value
    _check_required(schema, config, path)
    return config


@dataclass(frozen=True)
class _Field:
    jsii: str
    hint: Any
    struct: type[Any] | None
    """The struct of a single block (``metadata``)."""
    list_struct: type[Any] | None
    """The struct of a repeated block (``container``)."""
    mapped: tuple[Any, ...] | None
    """The types a map (``labels``) takes as values."""
    listed: tuple[Any, ...] | None
    """The types a list takes as items."""
    accepted: tuple[Any, ...]
    """The types the field takes."""


@dataclass(frozen=True)
class _Schema:
    name: str
    fields: dict[str, _Field]
    """Lower-cased jsii name → field (the meta-arguments left out)."""
    jsii_names: dict[str, str]
    """Python name → jsii name, for every field."""
    required: tuple[str, ...]
    """jsii names of the required fields."""
    lookups: dict[str, _Field | None] = field(default_factory=dict)
    """Kubernetes field name → field, as names are met."""


_SCHEMAS: dict[type[Any], _Schema] = {}


def _schema(struct: type[Any]) -> _Schema:
    known = _SCHEMAS.get(struct)
    if known is None:
        mapping: dict[str, str] = getattr(struct, "__jsii_name_mapping__", {})
        hints = typing.get_type_hints(struct.__init__)
        parameters = inspect.signature(struct.__init__).parameters.values()
        known = _SCHEMAS[struct] = _Schema(
            name=struct.__name__,
            fields={jsii.lower(): _field(jsii, hints[python]) for python, jsii in mapping.items()
                    if python not in _META},
            jsii_names=dict(mapping),
            required=tuple(mapping[p.name] for p in parameters
                           if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is inspect.Parameter.empty))
    return known


def _field(jsii: str, hint: Any) -> _Field:
    members = _members(hint)
    listed = next((_members(typing.get_args(m)[0]) for m in members if _is_sequence(m)), None)
    return _Field(jsii=jsii, hint=hint, struct=next((m for m in members if _is_struct(m)), None),
                  list_struct=next((m for m in listed or () if _is_struct(m)), None),
                  mapped=next((_members(typing.get_args(m)[1]) for m in members if _is_mapping(m)), None),
                  listed=listed, accepted=members)


def _lookup(schema: _Schema, key: str) -> _Field | None:
    if key in schema.lookups:
        return schema.lookups[key]
    lowered = key.lower()
    candidates = [lowered]
    if lowered.endswith("ies"):
        candidates.append(lowered[:-3] + "y")
    if lowered.endswith("es"):
        candidates.append(lowered[:-2])
    if lowered.endswith("s"):
        candidates.append(lowered[:-1])
    found = schema.lookups[key] = next((schema.fields[c] for c in candidates if c in schema.fields), None)
    return found


def _struct(schema: _Schema, fields: Mapping[str, Any], path: str, *, check: bool = True) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for key, value in fields.items():
        found = _lookup(schema, key)
        if found is None:
            raise TranslationError(f"{path}.{key}: the provider's {schema.name} has no field for it")
        if value is not None:
            config[found.jsii] = _convert(value, found, f"{path}.{key}")
    if check:
        _check_required(schema, config, path)
    return config


def _check_required(schema: _Schema, config: Mapping[str, Any], path: str) -> None:
    missing = [name for name in schema.required if name not in config]
    if missing:
        raise TranslationError(f"{path}: the provider's {schema.name} requires {', '.join(missing)}")


def _convert(value: Any, found: _Field, path: str) -> Any:
    if isinstance(value, Mapping):
        if found.struct is not None:
            return _struct(_schema(found.struct), value, path)
        if found.list_struct is not None:  # a block the provider repeats, holding one object
            return [_struct(_schema(found.list_struct), value, path)]
        if found.mapped is not None:
            if typing.Any in found.mapped:
                return dict(value)
            return {k: _scalar(v, found.mapped, f"{path}.{k}") for k, v in value.items()}
        raise TranslationError(f"{path}: the provider expects {found.hint}, not an object")
    if isinstance(value, list):
        if found.list_struct is not None:
            schema = _schema(found.list_struct)
            if not all(isinstance(item, Mapping) for item in value):
                raise TranslationError(f"{path}: the provider expects a list of {schema.name} objects")
            return [_struct(schema, item, f"{path}[{i}]") for i, item in enumerate(value)]
        if found.listed is not None:
            return [_scalar(item, found.listed, f"{path}[{i}]") for i, item in enumerate(value)]
        raise TranslationError(f"{path}: the provider expects {found.hint}, not a list")
    return _scalar(value, found.accepted, path)


def _scalar(value: Any, accepted: tuple[Any, ...], path: str) -> Any:
    """A string, number or boolean the provider takes; numbers become strings where the provider only takes
    strings (int-or-string and quantity fields)."""
    if typing.Any in accepted:
        return value
    if isinstance(value, bool):
        wanted: tuple[Any, ...] = (bool,)
    elif isinstance(value, int | float):
        if str in accepted and int not in accepted and float not in accepted:
            return str(value)
        wanted = (int, float)
    else:
        wanted = (type(value),)
    if any(t in accepted for t in wanted):
        return value
    names = " or ".join(getattr(a, "__name__", str(a)) for a in accepted if a is not type(None))
    raise TranslationError(f"{path}: the provider expects {names}, not {value!r}")


def _members(hint: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        flat: list[Any] = []
        for arg in typing.get_args(hint):
            flat += _members(arg)
        return tuple(flat)
    return (hint,)


def _is_struct(candidate: Any) -> bool:
    return isinstance(candidate, type) and hasattr(candidate, "__jsii_struct_bases__")


def _is_sequence(candidate: Any) -> bool:
    return typing.get_origin(candidate) in (collections.abc.Sequence, list)


def _is_mapping(candidate: Any) -> bool:
    return typing.get_origin(candidate) in (collections.abc.Mapping, dict)
