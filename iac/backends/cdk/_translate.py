"""A Kubernetes object dict → the keyword arguments of the hashicorp/kubernetes provider bindings.

Generic: the bindings themselves say how each field is spelled and typed. A field name is looked up in the
struct's jsii name mapping (``matchLabels`` → ``match_labels``, ``except`` → ``except_``), falling back to
the singular for the provider's repeated blocks (``containers`` → ``container``, ``volumeMounts`` →
``volume_mount``, ``ports`` → ``port``); a nested mapping becomes the struct class the type hint names, a
list of mappings a list of them, and numbers go where the provider wants strings (``replicas``, ``run_as_user``)
as strings. A field the provider has no place for is an error, never dropped."""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Mapping
from typing import Any

from iac.errors import RenderError

__all__ = ["TranslationError", "config_class", "to_kwargs"]

# Terraform meta-arguments in every resource's Config struct: never a Kubernetes field.
_META = frozenset({"connection", "count", "depends_on", "for_each", "lifecycle", "provider", "provisioners", "id"})


class TranslationError(RenderError):
    """A rendered object has a field the provider bindings cannot express."""


def config_class(resource_class: type[Any]) -> type[Any]:
    """The ``<Resource>Config`` struct that describes a resource's keyword arguments."""
    module = __import__(resource_class.__module__, fromlist=["_"])
    config: type[Any] = getattr(module, f"{resource_class.__name__}Config")
    return config


def to_kwargs(struct: type[Any], fields: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Keyword arguments of ``struct`` (a jsii struct class) for the Kubernetes ``fields``."""
    names, hints = _schema(struct)
    kwargs: dict[str, Any] = {}
    for key, value in fields.items():
        name = _python_name(key, names)
        if name is None:
            raise TranslationError(f"{path}.{key}: the provider's {struct.__name__} has no field for it")
        kwargs[name] = _convert(value, hints[name], f"{path}.{key}")
    return kwargs


_SCHEMAS: dict[type[Any], tuple[dict[str, str], dict[str, Any]]] = {}


def _schema(struct: type[Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """(lower-cased jsii name → Python name, Python name → type hint) of a struct class, cached."""
    known = _SCHEMAS.get(struct)
    if known is None:
        mapping: dict[str, str] = getattr(struct, "__jsii_name_mapping__", {})
        names = {jsii.lower(): python for python, jsii in mapping.items() if python not in _META}
        known = _SCHEMAS[struct] = (names, typing.get_type_hints(struct.__init__))
    return known


def _python_name(key: str, names: Mapping[str, str]) -> str | None:
    lowered = key.lower()
    candidates = [lowered]
    if lowered.endswith("ies"):
        candidates.append(lowered[:-3] + "y")
    if lowered.endswith("es"):
        candidates.append(lowered[:-2])
    if lowered.endswith("s"):
        candidates.append(lowered[:-1])
    return next((names[c] for c in candidates if c in names), None)


def _convert(value: Any, hint: Any, path: str) -> Any:
    members = _members(hint)
    struct = next((m for m in members if _is_struct(m)), None)
    listed = next((_members(typing.get_args(m)[0]) for m in members if _is_sequence(m)), None)
    list_struct = next((m for m in listed or () if _is_struct(m)), None)
    if isinstance(value, Mapping):
        if struct is not None:
            return _build(struct, value, path)
        if list_struct is not None:  # a block the provider repeats, holding one object
            return [_build(list_struct, value, path)]
        if any(_is_mapping(m) for m in members):
            return {k: _scalar(v, str) for k, v in value.items()}
        raise TranslationError(f"{path}: the provider expects {hint}, not an object")
    if isinstance(value, list):
        if list_struct is not None:
            return [_build(list_struct, item, f"{path}[{i}]") for i, item in enumerate(value)]
        if listed is not None:
            return [_scalar(item, *listed) for item in value]
        raise TranslationError(f"{path}: the provider expects {hint}, not a list")
    return _scalar(value, *members)


def _build(struct: type[Any], fields: Mapping[str, Any], path: str) -> Any:
    try:
        return struct(**to_kwargs(struct, fields, path))
    except TypeError as exc:  # a field the provider requires is missing, or the bindings' type check failed
        raise TranslationError(f"{path}: {exc}") from None


def _scalar(value: Any, *accepted: Any) -> Any:
    """Numbers become strings where the provider only takes strings (int-or-string and quantity fields)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if str in accepted and not any(a in (int, float) for a in accepted):
        return str(value)
    return value


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
