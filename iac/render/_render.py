"""Stack → Kubernetes objects, and objects → YAML text or a directory of files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from iac._files import staged_tree
from iac.errors import RenderError
from iac.render._context import ConnectorContext, build_context
from iac.render._templates import environment
from iac.spec import Connector, Stack

__all__ = [
    "Manifest",
    "manifests_to_yaml",
    "object_path",
    "render_connector",
    "render_manifests",
    "render_stack",
    "to_yaml",
    "write_tree",
]

Object = dict[str, Any]
_MARKER = ".iac-render.json"

_fast_loads: Callable[..., Any] | None
try:  # a Rust YAML parser: 7x faster than libyaml-backed PyYAML on our manifests (bench/render.py)
    from yaml_rs import loads as _fast_loads
except ImportError:  # pragma: no cover - exercised by tests that force the fallback
    _fast_loads = None

try:  # libyaml is ~10x faster than pure Python; PyYAML wheels ship it
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
    _Dumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    _Loader, _Dumper = yaml.SafeLoader, yaml.SafeDumper


@dataclass(frozen=True)
class Manifest:
    """One rendered object: the template's text (with its comments) and the parsed object."""

    text: str
    obj: Object


def render_stack(stack: Stack, *, environ: Mapping[str, str] | None = None,
                 redact_secrets: bool = False, placeholder_credentials: bool = False) -> list[Object]:
    """Every object of the stack, in apply order: the Namespace (when the stack creates it), then per
    self-hosted connector Secret, ExternalSecrets, ServiceAccount, NetworkPolicy, the PersistentVolumeClaim
    (``storage=``, or a schedule) and the Deployment, or a CronJob for a connector with a ``schedule``. Cloud-hosted
    connectors (``hosting="cloud"``) run in ConductorOne and have no objects.

    ``secret.env`` references resolve from ``environ`` (default: the process environment). See
    :func:`~iac.render.build_context` for ``redact_secrets`` and ``placeholder_credentials``."""
    return [m.obj for m in render_manifests(stack, environ=environ, redact_secrets=redact_secrets,
                                            placeholder_credentials=placeholder_credentials)]


def render_manifests(stack: Stack, *, environ: Mapping[str, str] | None = None,
                     redact_secrets: bool = False, placeholder_credentials: bool = False) -> list[Manifest]:
    """Like :func:`render_stack`, keeping each object's YAML text as the template wrote it."""
    env = os.environ if environ is None else environ
    manifests: list[Manifest] = []
    if stack.create_namespace:
        manifests.append(_manifest("namespace.yaml.j2", stack=stack))
    for connector in stack.self_hosted:
        manifests += _connector_manifests(build_context(stack, connector, env, redact_secrets=redact_secrets,
                                                        placeholder_credentials=placeholder_credentials))
    return manifests


def render_connector(stack: Stack, connector: Connector, *, environ: Mapping[str, str],
                     redact_secrets: bool = False) -> list[Object]:
    """The objects of one connector; none for a cloud-hosted connector (ConductorOne runs it)."""
    if connector.hosting == "cloud":
        return []
    context = build_context(stack, connector, environ, redact_secrets=redact_secrets)
    return [m.obj for m in _connector_manifests(context)]


def _connector_manifests(c: ConnectorContext) -> list[Manifest]:
    manifests = []
    if c.secret_name:
        manifests.append(_manifest("secret.yaml.j2", c=c))
    for es in c.external_secrets:
        manifests.append(_manifest("externalsecret.yaml.j2", c=c, es=es))
    manifests += [_manifest("serviceaccount.yaml.j2", c=c), _manifest("networkpolicy.yaml.j2", c=c)]
    if c.storage:
        manifests.append(_manifest("persistentvolumeclaim.yaml.j2", c=c))
    manifests.append(_manifest("cronjob.yaml.j2" if c.schedule else "deployment.yaml.j2", c=c))
    return manifests


def _manifest(template: str, **context: Any) -> Manifest:
    text = environment().get_template(template).render(**context)
    try:
        obj = _parse_one(text)
    except (yaml.YAMLError, ValueError) as exc:  # a template bug: values are always JSON-quoted
        raise RenderError(f"template {template} produced invalid YAML: {exc}") from None
    return Manifest(text=text, obj=obj)


def _parse_one(text: str) -> Object:
    parsed = _fast_loads(text, parse_datetime=False) if _fast_loads is not None else yaml.load(text, Loader=_Loader)
    if not isinstance(parsed, dict):
        raise ValueError("expected one mapping per template")
    return parsed


def manifests_to_yaml(manifests: list[Manifest]) -> str:
    """The templates' text as one multi-document stream."""
    return "".join(f"---\n{m.text}" for m in manifests)


def to_yaml(objects: list[Object]) -> str:
    """A multi-document YAML stream; byte-identical for equal input."""
    return "".join(
        "---\n" + yaml.dump(obj, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                            allow_unicode=True, width=120)
        for obj in objects
    )


def object_path(obj: Object) -> str:
    """Where ``write_tree`` puts an object: ``<instance>/<kind>-<name>.yaml`` or ``<kind>-<name>.yaml``."""
    meta = obj["metadata"]
    instance = meta.get("labels", {}).get("app.kubernetes.io/instance")
    filename = f"{obj['kind'].lower()}-{meta['name']}.yaml"
    return f"{instance}/{filename}" if instance else filename


def write_tree(objects: list[Object] | list[Manifest], directory: str | Path) -> list[Path]:
    """Write one file per object into ``directory``, all or nothing.

    The tree is written to a temporary sibling and swapped in; a directory that holds files not
    written by an earlier render is refused rather than overwritten."""
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise RenderError(f"output path {target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()) and not (target / _MARKER).is_file():
        raise RenderError(f"output directory {target} is not empty and was not written by iac render; "
                          "choose a new or empty directory")
    items = [(item.obj, item.text) if isinstance(item, Manifest) else (item, to_yaml([item])[4:]) for item in objects]
    # Secrets carry their values: their files are 0600 and the tree 0700 (see iac._files).
    with staged_tree(target, private=any(obj["kind"] == "Secret" for obj, _ in items)) as staging:
        written: dict[str, None] = {}  # ordered, and a fast membership test
        for obj, text in items:
            relative = object_path(obj)
            if relative in written:
                raise RenderError(f"two objects map to the same file {relative}")
            staging.write(relative, text, secret=obj["kind"] == "Secret")
            written[relative] = None
        staging.write(_MARKER, json.dumps({"files": sorted(written)}, indent=2) + "\n")
    return [target / relative for relative in written]
