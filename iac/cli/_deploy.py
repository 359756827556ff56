"""Deploy commands: preview, up, refresh, destroy (straight to a cluster), and rbac for a deployer identity.

Results go to stdout (text or JSON); progress bars go to stderr, and only on a terminal. Secret values
never reach either: the engine reports changed Secret keys by name only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from iac.backends.engine import (
    Action,
    DriftReport,
    Engine,
    FieldChange,
    ProgressEvent,
    Report,
    SubjectKind,
    connect,
    deployer_rbac,
)
from iac.cli._app import OutputFormat, app, err, out, output_option, user_errors
from iac.render import render_stack, to_yaml
from iac.spec import Stack, load_stack

StackFile = Annotated[Path, typer.Argument(help="Python file defining a module-level `stack`.",
                                           show_default=False)]
Kubeconfig = Annotated[Path | None, typer.Option(
    "--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster).",
    show_default=False)]
Context = Annotated[str | None, typer.Option("--context", help="Kubeconfig context (default: current).",
                                             show_default=False)]
Output = Annotated[OutputFormat, output_option(OutputFormat.text, OutputFormat.json)]
ForceConflicts = Annotated[bool, typer.Option(
    "--force-conflicts", help="Take ownership of fields another field manager applied.")]
DetailedExitcode = Annotated[bool, typer.Option(
    "--detailed-exitcode", help="Exit 0 when nothing would change, 2 when something would, 1 on error.")]

_MARK = {Action.CREATE: "+", Action.UPDATE: "~", Action.DELETE: "-", Action.UNCHANGED: "="}
_VALUE_WIDTH = 100


@app.command()
def preview(
    stack_file: StackFile,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    output: Output = OutputFormat.text,
    force_conflicts: ForceConflicts = False,
    detailed_exitcode: DetailedExitcode = False,
) -> None:
    """Show what `up` would create, update (field by field) and delete. Changes nothing."""
    with _errors(detailed_exitcode):
        stack, objects = _load(stack_file)
        with _engine(stack, kubeconfig, context) as engine, _progress(engine, output):
            report = engine.preview(objects, force_conflicts=force_conflicts)
    _print_report(report, output)
    if detailed_exitcode and report.has_changes:
        raise typer.Exit(2)


@app.command()
def up(
    stack_file: StackFile,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    output: Output = OutputFormat.text,
    force_conflicts: ForceConflicts = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for every Deployment to roll out.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds --wait waits.", min=0)] = 300.0,
) -> None:
    """Deploy the stack: server-side apply, prune what left it, repair drift. Idempotent."""
    with user_errors():
        stack, objects = _load(stack_file)
        with _engine(stack, kubeconfig, context) as engine:
            with _progress(engine, output):
                report = engine.up(objects, force_conflicts=force_conflicts)
            _print_report(report, output)
            if wait:
                with _progress(engine, output):
                    engine.wait_for_rollout(objects, timeout=timeout)
                if output is OutputFormat.text:
                    _say("rollout complete")


@app.command()
def refresh(
    stack_file: StackFile,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    output: Output = OutputFormat.text,
    detailed_exitcode: DetailedExitcode = False,
) -> None:
    """Report drift: fields of the stack changed out of band, members deleted out of band."""
    with _errors(detailed_exitcode):
        stack, objects = _load(stack_file)
        with _engine(stack, kubeconfig, context) as engine:
            drift = engine.refresh(objects)
    _print_drift(drift, output)
    if detailed_exitcode and drift.has_drift:
        raise typer.Exit(2)


@app.command()
def destroy(
    stack_file: StackFile,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    output: Output = OutputFormat.text,
) -> None:
    """Delete exactly the stack's objects (its ApplySet members), then the ApplySet parent."""
    with user_errors():
        stack = load_stack(stack_file)  # no rendering: membership comes from the cluster
        with _engine(stack, kubeconfig, context) as engine, _progress(engine, output):
            report = engine.destroy()
    if output is OutputFormat.json:
        out.print_json(json.dumps(report.to_dict()))
    elif not report.changes and not report.writes:
        _say(f"stack {stack.name} is not deployed in namespace {stack.namespace}; nothing to destroy")
    else:
        _print_report(report, output)


@app.command()
def rbac(
    stack_file: StackFile,
    service_account: Annotated[str | None, typer.Option(
        "--service-account", help="Bind this ServiceAccount of the stack namespace (default: "
        "iac-deployer-<stack>, created too).", show_default=False)] = None,
    user: Annotated[str | None, typer.Option("--user", help="Bind this user instead.",
                                             show_default=False)] = None,
    group: Annotated[str | None, typer.Option("--group", help="Bind this group instead.",
                                              show_default=False)] = None,
    output: Output = OutputFormat.text,
) -> None:
    """Print the minimal Role and RoleBinding (and ServiceAccount) a deployer needs for this stack."""
    with user_errors():
        chosen = [(kind, name) for kind, name in ((SubjectKind.service_account, service_account),
                                                  (SubjectKind.user, user), (SubjectKind.group, group)) if name]
        if len(chosen) > 1:
            raise typer.BadParameter("pass only one of --service-account, --user, --group")
        kind, name = chosen[0] if chosen else (SubjectKind.service_account, None)
        stack = load_stack(stack_file)
        # Only kinds and names matter here, so no credentials are needed.
        objects = render_stack(stack, redact_secrets=True)
        manifests = deployer_rbac(objects, stack=stack.name, namespace=stack.namespace, subject=name,
                                  subject_kind=kind, create_namespace=stack.create_namespace)
    if output is OutputFormat.json:
        out.print_json(json.dumps(manifests))
    else:
        print(to_yaml(manifests), end="")


# -- plumbing -------------------------------------------------------------------------------------------


@contextmanager
def _errors(detailed_exitcode: bool) -> Iterator[None]:
    """``user_errors``; with --detailed-exitcode errors exit 1 as in Terraform (2 means "changes")."""
    try:
        with user_errors():
            yield
    except typer.Exit as exc:
        if detailed_exitcode and exc.exit_code != 0:
            raise typer.Exit(1) from None
        raise


def _load(stack_file: Path) -> tuple[Stack, list[dict[str, Any]]]:
    stack = load_stack(stack_file)
    return stack, render_stack(stack)


@contextmanager
def _engine(stack: Stack, kubeconfig: Path | None, context: str | None) -> Iterator[Engine]:
    api = connect(kubeconfig, context)
    try:
        yield Engine(api, stack=stack.name, namespace=stack.namespace)
    finally:
        api.close()


@contextmanager
def _progress(engine: Engine, output: OutputFormat) -> Iterator[None]:
    """A transient bar per phase on stderr, for people at a terminal; nothing for pipes or JSON."""
    if output is not OutputFormat.text or not err.is_terminal:
        yield
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:

        def update(event: ProgressEvent) -> None:
            if event.phase not in tasks:
                tasks[event.phase] = bar.add_task(event.phase, total=event.total)
            bar.update(tasks[event.phase], completed=event.done, total=event.total)

        engine.on_progress = update
        try:
            yield
        finally:
            engine.on_progress = None


def _say(line: str) -> None:
    out.print(line, markup=False, highlight=False)


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= _VALUE_WIDTH else text[: _VALUE_WIDTH - 1] + "…"


def _field_line(change: FieldChange) -> str:
    if change.masked:
        return f"      {change.path}: (secret value {change.kind})"
    if change.kind == "added":
        return f"      {change.path}: {_value(change.after)}"
    if change.kind == "removed":
        return f"      {change.path}: {_value(change.before)} → (removed)"
    return f"      {change.path}: {_value(change.before)} → {_value(change.after)}"


def _print_report(report: Report, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        out.print_json(json.dumps(report.to_dict()))
        return
    verb = "Plan for" if report.planned else "Stack"
    lines = [f"{verb} {report.stack} in namespace {report.namespace}:"]
    for change in report.changes:
        if change.action is Action.UNCHANGED:
            continue
        note = f"  ({change.note})" if change.note else ""
        lines.append(f"  {_MARK[change.action]} {change.ref.kind}/{change.ref.name}{note}")
        lines += [_field_line(field_change) for field_change in change.fields]
    lines.append(report.summary() + ("" if report.planned else f" ({report.writes} writes)"))
    _say("\n".join(lines))  # one print: per-line console calls cost ~0.1 ms each with hundreds of objects


def _print_drift(drift: DriftReport, output: OutputFormat) -> None:
    if output is OutputFormat.json:
        out.print_json(json.dumps(drift.to_dict()))
        return
    for obj in drift.drifted:
        if obj.state == "missing":
            _say(f"  - {obj.ref.kind}/{obj.ref.name}: deleted out of band")
            continue
        _say(f"  ~ {obj.ref.kind}/{obj.ref.name}: changed out of band")
        for f in obj.fields:
            by = f"by {f.manager} ({f.operation})"
            if f.masked:
                _say(f"      {f.path}: secret value changed {by}")
            else:
                _say(f"      {f.path}: {_value(f.expected)} → {_value(f.actual)} {by}")
    hint = "; `iac up` repairs it" if drift.has_drift else ""
    _say(drift.summary() + hint)
    if not drift.deployed:
        print("hint: run `iac up` first", file=sys.stderr)
