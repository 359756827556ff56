"""``iac sim <integration>``: serve a simulated vendor API on loopback for demos, benchmarks and manual testing.

One command, built for every registered integration that has a simulator (:mod:`iac.plugins`): the options
common to all (port, host, seed, rate scale, credentials, log level, one per fault knob) plus the simulator's
own (:class:`iac.plugins.SimOption`)."""

from __future__ import annotations

import inspect
import ipaddress
import os
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

import typer

from iac.cli._app import app, err, fail
from iac.plugins import IntegrationPlugin, SimOption, Simulator, plugins
from iac.sim import FaultSettings, TlsFiles

sim_app = typer.Typer(
    name="sim",
    help="Serve stateful, seeded simulators of the vendor APIs the connectors sync from (offline).",
    no_args_is_help=True,
)
app.add_typer(sim_app, name="sim")

_FAULTS = "Faults (seeded: the same seed and requests give the same faults)"
_DATA = "Generated org (deterministic from --seed)"
_FAULT_KNOBS = tuple(knob.name for knob in fields(FaultSettings))
_TLS = "HTTPS (the upstream baton connectors talk HTTPS to the vendor's hostname only)"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _own_option(option: SimOption) -> inspect.Parameter:
    if option.secret:  # a file path on the command line, never the value
        return _option(f"{option.name}_file", Annotated[Path | None, typer.Option(
            help=f"{option.help} Read from this file (one trailing newline stripped) or from "
                 f"${option.environment_variable}; never given as an argument.",
            exists=True, dir_okay=False, readable=True)], None)
    return _option(option.name, Annotated[option.type, typer.Option(
        help=option.help, min=option.min, max=option.max, rich_help_panel=_DATA if option.data else None)],
        option.default)


def _read_secrets(simulator: Simulator, options: dict[str, Any]) -> None:
    """Replace each secret option's ``--<name>-file`` by its value (file, else environment, else the default),
    registered for redaction."""
    from iac.runtime import register_secret

    for option in simulator.options:
        if not option.secret:
            continue
        path: Path | None = options.pop(f"{option.name}_file")
        value = path.read_text().removesuffix("\n") if path else os.environ.get(option.environment_variable)
        if value is not None:
            register_secret(value)
        options[option.name] = value if value is not None else option.default


def _parameters(simulator: Simulator) -> list[inspect.Parameter]:
    """The command's options: the common ones around the simulator's own, then one per fault knob."""
    own = [_own_option(option) for option in simulator.options]
    return [
        _option("port", Annotated[int, typer.Option(help="TCP port; 0 picks a free one.", min=0, max=65535)],
                simulator.port),
        _option("host", Annotated[str, typer.Option(help="Address to bind. Loopback by default; anything else is "
                                                         "reachable from the network and is warned about.")],
                "127.0.0.1"),
        *own,
        _option("seed", Annotated[int, typer.Option(help=simulator.seed_help, rich_help_panel=_DATA)], 0),
        _option("rate_scale", Annotated[float, typer.Option(help=simulator.rate_scale_help, min=0.0001)], 1.0),
        _option("print_credentials", Annotated[bool, typer.Option(simulator.print_flag, help=simulator.print_help)],
                False),
        _option("log_level", Annotated[str, typer.Option(help="uvicorn log level.")], "warning"),
        _option("tls", Annotated[bool, typer.Option(
            "--tls", help="Serve HTTPS with a generated certificate for --hostname; its path is printed (point "
                          "SSL_CERT_FILE at it, and map the hostname to --host in the client's hosts file).",
            rich_help_panel=_TLS)], False),
        _option("hostname", Annotated[str, typer.Option(help="The vendor hostname the certificate names.",
                                                         rich_help_panel=_TLS)],
                simulator.tls_hostname or "localhost"),
        *(_option(knob.name, Annotated[float, typer.Option(
            help=knob.metadata["help"], min=0.0, max=1.0 if knob.name.endswith("_rate") else None,
            rich_help_panel=_FAULTS)], knob.default) for knob in fields(FaultSettings)),
    ]


def _serve(name: str, simulator: Simulator, options: dict[str, Any]) -> None:
    """Generate the org, announce it, serve until Ctrl-C (over HTTPS with ``--tls``, the certificate in a
    temporary directory removed on exit); a bind failure is exit code 2."""
    import signal
    import tempfile

    from iac.sim import make_certificate

    tls_on, hostname = options.pop("tls"), options.pop("hostname")
    if not tls_on:
        _serve_with(name, simulator, options, None)
        return

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # uvicorn re-raises the SIGTERM it handled; end like Ctrl-C so the key is removed

    signal.signal(signal.SIGTERM, stop)
    with tempfile.TemporaryDirectory(prefix="iac-sim-tls-") as scratch:
        tls = make_certificate(hostname, Path(scratch))
        err.print(f"tls: certificate for {hostname} at {tls.certificate} (removed on exit)")
        _serve_with(name, simulator, options, tls)


def _serve_with(name: str, simulator: Simulator, options: dict[str, Any], tls: TlsFiles | None) -> None:
    from iac.sim import run

    host, port, seed = options.pop("host"), options.pop("port"), options["seed"]
    log_level, print_credentials = options.pop("log_level"), options.pop("print_credentials")
    faults = FaultSettings(**{knob: options.pop(knob) for knob in _FAULT_KNOBS})
    started = time.perf_counter()
    sim = simulator.create(faults=faults, **options)
    err.print(f"{name} sim: {simulator.summary(sim)}, generated in {time.perf_counter() - started:.2f}s "
              f"(seed {seed})")
    if not _is_loopback(host):
        err.print(f"warning: binding {host}, which is not loopback: anyone who can reach it can use the sim")

    def ready(base_url: str) -> None:
        print(base_url, flush=True)
        if print_credentials:
            print(simulator.print_credentials(sim), flush=True)
        err.print(f"admin: {base_url}/__sim/stats, /__sim/faults, /__sim/state, /__sim/writes, "
                  "/__sim/writes/effective, /__sim/tokens/expire — Ctrl-C to stop")

    try:
        run(sim.app, host=host, port=port, log_level=log_level, on_ready=ready, tls=tls)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; stopping is the normal end
        err.print(f"{name} sim: stopped")
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def sim_command(plugin: IntegrationPlugin) -> Callable[..., None]:
    """``iac sim <plugin.name>``: a function whose signature Typer reads as the command's options."""
    simulator = plugin.simulator
    assert simulator is not None

    def command(**options: Any) -> None:
        _read_secrets(simulator, options)
        _serve(plugin.name, simulator, options)

    signature = inspect.Signature(_parameters(simulator), return_annotation=None)
    command.__signature__ = signature  # type: ignore[attr-defined]  # what Typer reads
    command.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {"return": None}
    command.__doc__ = simulator.help
    command.__name__ = plugin.name
    return command


for _plugin in plugins().values():
    if _plugin.simulator is not None:
        sim_app.command(_plugin.name)(sim_command(_plugin))
