"""``iac connector``: run the bundled connectors (sync, service, grant, revoke) and inspect artifacts.

One sub-app per entry of the connector registry (``iac.connectors``); each connector's settings become
CLI flags (``--sync-custom-roles``) that override the ``BATON_*`` environment the manifests set.
"""

from __future__ import annotations

import csv
import enum
import inspect
import json
import sys
import threading
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from iac.cli._app import OutputFormat, app, err, out, output_option, user_errors
from iac.connectors import ConnectorEntry, registered
from iac.runtime import (
    VIEWS,
    Artifact,
    Entitlement,
    Grant,
    Metrics,
    Provisioner,
    ResourceRef,
    RuntimeSettings,
    SyncEngine,
    UserStatusProvisioner,
    Wiring,
    cell,
    configure_logging,
    inspect_view,
    load_settings,
    parse_entitlement_id,
    parse_grant_id,
    provision_once,
    run_service,
    stop_on_signals,
    upload_artifact,
    write_once,
)
from iac.runtime.errors import BadRequestError, ProvisioningDisabledError
from iac.spec.baton_env import env_name

__all__ = ["connector_app"]

connector_app = typer.Typer(
    name="connector",
    help="Run the bundled connectors (sync, service, grant, revoke) and inspect sync artifacts.",
    no_args_is_help=True,
)
app.add_typer(connector_app, name="connector")

_SETTINGS_PANEL = "Settings (flags override the BATON_* environment)"


# -- settings → flags ---------------------------------------------------------------------------------
# Flags come from the integration spec's settings (the same ones the manifests set as BATON_*) and from
# the runtime's own knobs. Secret settings have no flag: command lines are visible in the process list.

_KIND_TYPES: dict[str, type] = {"bool": bool, "number": float, "string": str, "enum": str, "list": str}


def _flag_type(annotation: Any) -> tuple[type, bool]:
    """(the CLI type, is_bool) for a runtime-knob annotation."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    base = args[0] if typing.get_origin(annotation) in (typing.Union, types.UnionType) and args else annotation
    if typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    if base is bool:
        return bool, True
    if base in (int, float):
        return base, False
    return str, False


def _option(name: str, flag: str, cli_type: type, is_bool: bool, help_text: str) -> inspect.Parameter:
    decls = [f"--{flag}/--no-{flag}"] if is_bool else (["--file", "-f"] if name == "file" else [f"--{flag}"])
    option = typer.Option(None, *decls, help=help_text, show_default=False, rich_help_panel=_SETTINGS_PANEL)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=cli_type | None)


def _settings_parameters(entry: ConnectorEntry) -> list[inspect.Parameter]:
    params = []
    for spec in entry.integration.connector_settings():
        if spec.secret:
            continue
        choices = f" ({'|'.join(spec.choices)})" if spec.choices else ""
        params.append(_option(spec.name, spec.cli_flag.removeprefix("--"), _KIND_TYPES[spec.kind],
                              spec.kind == "bool", f"{spec.help}{choices} (env {spec.env})"))
    for name, field in RuntimeSettings.model_fields.items():
        if field.annotation is not None and "SecretStr" in str(field.annotation):
            continue
        cli_type, is_bool = (str, False) if name == "interval" else _flag_type(field.annotation)
        params.append(_option(name, name.replace("_", "-"), cli_type, is_bool,
                              f"{field.description or name} (env {env_name(name)})"))
    return params


def _command(target: typer.Typer, name: str, entry: ConnectorEntry, extra: list[inspect.Parameter],
             body: Callable[[RuntimeSettings, dict[str, Any]], None], doc: str) -> None:
    """Register ``body`` as ``name`` with the connector's settings as flags plus ``extra`` parameters."""
    settings_params = _settings_parameters(entry)
    setting_names = {p.name for p in settings_params}
    params = extra + settings_params

    def command(**kwargs: Any) -> None:
        overrides = {k: v for k, v in kwargs.items() if k in setting_names}
        own = {k: v for k, v in kwargs.items() if k not in setting_names}
        with user_errors():
            settings = load_settings(entry.integration, **overrides)
            configure_logging(settings.log_level, settings.log_format, host_id=settings.host_id,
                              secrets=settings.secrets())
            body(settings, own)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params} | {"return": None}
    command.__name__ = f"{entry.name}_{name}"
    command.__doc__ = doc
    target.command(name)(command)


def _connector_commands(entry: ConnectorEntry) -> typer.Typer:
    sub = typer.Typer(name=entry.name, help=entry.summary, no_args_is_help=True)

    def sync(settings: RuntimeSettings, own: dict[str, Any]) -> None:
        connector = entry.build(settings, Wiring())
        stop = threading.Event()
        try:
            with stop_on_signals(stop):
                result = SyncEngine(connector, settings.file, workers=settings.workers, stop=stop,
                                    checkpoint_interval=settings.checkpoint_interval,
                                    host_id=settings.host_id).run()
        finally:
            connector.close()
        if settings.upload_url:
            token = settings.upload_token.get_secret_value() if settings.upload_token else None
            upload_artifact(settings.file, settings.upload_url.get_secret_value(), sync_id=result.sync_id,
                            token=token)
        summary = {"sync_id": result.sync_id, "file": str(settings.file), "resumed": result.resumed,
                   "duration_seconds": round(result.duration, 3),
                   "resources": result.stats["resources"]["total"],
                   "entitlements": result.stats["entitlements"]["total"],
                   "grants": result.stats["grants"]["total"]}
        if own.get("output") == OutputFormat.json:
            out.print(json.dumps(summary), markup=False, highlight=False)
        else:
            out.print(" ".join(f"{k}={v}" for k, v in summary.items()), markup=False, highlight=False)

    def service(settings: RuntimeSettings, own: dict[str, Any]) -> None:
        metrics = Metrics(entry.name)
        connector = entry.build(settings, Wiring(observer=metrics))
        stop = threading.Event()
        try:
            with stop_on_signals(stop):
                code = run_service(connector, settings, metrics, stop=stop, max_syncs=own.get("max_syncs"))
        finally:
            connector.close()
        raise typer.Exit(code)

    def gate(settings: RuntimeSettings) -> None:
        if not settings.provisioning:
            raise ProvisioningDisabledError(
                "provisioning is off: set BATON_PROVISIONING=true (or pass --provisioning) to grant or revoke")

    @contextmanager
    def provisioner(settings: RuntimeSettings) -> Iterator[Provisioner]:
        gate(settings)
        connector = entry.build(settings, Wiring())
        try:
            found = connector.provisioner()
            if not isinstance(found, Provisioner):
                raise BadRequestError(f"the {entry.name} connector cannot provision")
            yield found
        finally:
            connector.close()

    def grant(settings: RuntimeSettings, own: dict[str, Any]) -> None:
        gate(settings)
        try:
            resource, slug = parse_entitlement_id(own["entitlement"])
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        with provisioner(settings) as prov:
            result = provision_once(lambda: prov.grant(ResourceRef.parse(own["principal"]),
                                                       Entitlement(resource, slug, slug)))
        _print_result(result.outcome.value, result.grant_id, own.get("output"))

    def revoke(settings: RuntimeSettings, own: dict[str, Any]) -> None:
        gate(settings)
        try:
            resource, slug, principal = parse_grant_id(own["grant"])
        except ValueError as exc:
            raise BadRequestError(str(exc)) from None
        with provisioner(settings) as prov:
            result = provision_once(lambda: prov.revoke(Grant(resource, slug, principal)))
        _print_result(result.outcome.value, result.grant_id, own.get("output"))

    def set_status(settings: RuntimeSettings, own: dict[str, Any], enable: bool) -> None:
        gate(settings)
        user = ResourceRef.parse(own["user"])
        with provisioner(settings) as prov:
            if not isinstance(prov, UserStatusProvisioner):
                raise BadRequestError(f"the {entry.name} connector cannot enable or disable users")
            status_provisioner = prov
            changed, earlier = write_once(lambda: status_provisioner.enable_user(user) if enable
                                          else status_provisioner.disable_user(user))
            changed = changed or earlier  # after a lost answer, "already" is most likely our own write
        verb = "enabled" if enable else "disabled"
        _print_result(verb if changed else f"already-{verb}", f"{user.type}:{user.id}", own.get("output"))

    def enable_user(settings: RuntimeSettings, own: dict[str, Any]) -> None:
        set_status(settings, own, True)

    def disable_user(settings: RuntimeSettings, own: dict[str, Any]) -> None:
        set_status(settings, own, False)

    result_format = output_option(OutputFormat.table, OutputFormat.json, OutputFormat.csv,
                                  help="Result format (table means one line of text).")
    output = inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY,
                               annotation=Annotated[OutputFormat, result_format], default=OutputFormat.table)
    _command(sub, "sync", entry, [output], sync,
             f"Sync {entry.name} once into the artifact (--file / BATON_FILE), resuming an interrupted sync.")
    max_syncs = inspect.Parameter("max_syncs", inspect.Parameter.KEYWORD_ONLY, annotation=int | None,
                                  default=typer.Option(None, "--max-syncs", min=1, hidden=True,
                                                       help="Stop after this many syncs (tests)."))
    _command(sub, "service", entry, [max_syncs], service,
             "Sync every --interval and serve /health /ready /live /metrics; SIGTERM checkpoints and exits 0.")
    entitlement = inspect.Parameter("entitlement", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                                    default=typer.Option(..., "--entitlement", "-e",
                                                         help="Entitlement id: type:resource:slug."))
    principal = inspect.Parameter("principal", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                                  default=typer.Option(..., "--principal", "-p",
                                                       help="Principal: a user id, or type:id (group:00g1)."))
    _command(sub, "grant", entry, [entitlement, principal, output], grant,
             "Grant an entitlement (needs BATON_PROVISIONING=true). Granting twice reports already-granted.")
    grant_id = inspect.Parameter("grant", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                                 default=typer.Option(..., "--grant", "-g",
                                                      help="Grant id: entitlement-id:principal-type:principal-id."))
    _command(sub, "revoke", entry, [grant_id, output], revoke,
             "Revoke a grant (needs BATON_PROVISIONING=true). Revoking twice reports already-revoked.")
    user = inspect.Parameter("user", inspect.Parameter.KEYWORD_ONLY, annotation=str,
                             default=typer.Option(..., "--user", "-u", help="The user: an id, or user:<id>."))
    _command(sub, "enable-user", entry, [user, output], enable_user,
             "Enable a user account (needs BATON_PROVISIONING=true; connectors that support it, e.g. coupa).")
    _command(sub, "disable-user", entry, [user, output], disable_user,
             "Disable a user account (needs BATON_PROVISIONING=true; connectors that support it, e.g. coupa).")
    return sub


def _print_result(outcome: str, grant_id: str, fmt: OutputFormat | None) -> None:
    if fmt == OutputFormat.json:
        out.print(json.dumps({"outcome": outcome, "grant_id": grant_id}), markup=False, highlight=False)
    else:
        out.print(f"{outcome} {grant_id}", markup=False, highlight=False)


for _entry in registered().values():
    connector_app.add_typer(_connector_commands(_entry), name=_entry.name)


# -- inspect --------------------------------------------------------------------------------------------


class ViewName(str, enum.Enum):  # noqa: UP042 - typer reads (str, Enum)
    resources = "resources"
    entitlements = "entitlements"
    grants = "grants"
    principals = "principals"
    access = "access"
    diff = "diff"
    stats = "stats"


assert tuple(v.value for v in ViewName) == VIEWS


@connector_app.command("inspect")
def inspect_artifact(
    file: Annotated[Path, typer.Argument(help="A sync artifact (BATON_FILE of a sync).", show_default=False)],
    view: Annotated[ViewName, typer.Argument(help="What to show.", show_default=False)],
    principal: Annotated[str | None, typer.Argument(
        help="For `access`: a user id, or type:id (group:00g1).", show_default=False)] = None,
    output: Annotated[OutputFormat, output_option(OutputFormat.table, OutputFormat.json, OutputFormat.csv)
    ] = OutputFormat.table,
    resource_type: Annotated[str | None, typer.Option("--type", "-t",
                                                      help="Only this resource type.")] = None,
) -> None:
    """Show what a sync found, for access reviews: resources, entitlements, grants, principals, a
    principal's effective access (direct, and through groups and roles, transitively), the diff against the
    previous sync, or counts."""
    with user_errors(), Artifact(file) as artifact:
        result = inspect_view(artifact, view.value, principal=principal, resource_type=resource_type)
        _emit(result.columns, result.rows, output)


def _emit(columns: tuple[str, ...], rows: Iterable[dict[str, Any]], fmt: OutputFormat) -> None:
    if fmt == OutputFormat.json:
        sys.stdout.write("[")
        for i, row in enumerate(rows):
            sys.stdout.write(("," if i else "") + "\n" + json.dumps(row, ensure_ascii=False))
        sys.stdout.write("\n]\n")
    elif fmt == OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row, c) for c in columns])
    else:
        table = Table(*columns, box=None, pad_edge=False, highlight=False)
        count = 0
        for row in rows:
            table.add_row(*("" if (value := cell(row, c)) is None else str(value) for c in columns))
            count += 1
        out.print(table)
        err.print(f"{count} row(s)", markup=False, highlight=False)
