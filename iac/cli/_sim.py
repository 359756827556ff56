"""``iac sim``: serve a simulated vendor API on loopback for demos, benchmarks and manual testing."""

from __future__ import annotations

import ipaddress
import time
from typing import Annotated, Any

import typer

from iac.cli._app import app, err

sim_app = typer.Typer(
    name="sim",
    help="Serve stateful, seeded simulators of the vendor APIs the connectors sync from (offline).",
    no_args_is_help=True,
)
app.add_typer(sim_app, name="sim")

_FAULTS = "Faults (seeded: the same seed and requests give the same faults)"
_DATA = "Generated org (deterministic from --seed)"


def _rate(text: str) -> Any:
    return typer.Option(help=f"Probability per request of {text}.", min=0.0, max=1.0, rich_help_panel=_FAULTS)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@sim_app.command("okta")
def okta(
    port: Annotated[int, typer.Option(help="TCP port; 0 picks a free one.", min=0, max=65535)] = 8099,
    host: Annotated[str, typer.Option(help="Address to bind. Loopback by default; anything else is "
                                           "reachable from the network and is warned about.")] = "127.0.0.1",
    users: Annotated[int, typer.Option(help="Users to generate (up to 100k is quick).", min=1,
                                       rich_help_panel=_DATA)] = 1000,
    groups: Annotated[int, typer.Option(help="Groups, including the built-in Everyone group.", min=1,
                                        rich_help_panel=_DATA)] = 50,
    apps: Annotated[int, typer.Option(help="Apps.", min=0, rich_help_panel=_DATA)] = 20,
    memberships: Annotated[int | None, typer.Option(
        help="Group memberships outside Everyone (default: ~8 per user, fewer in small orgs, at most 1M).",
        min=0, rich_help_panel=_DATA)] = None,
    seed: Annotated[int, typer.Option(help="Seed for data, ids, token and faults.",
                                      rich_help_panel=_DATA)] = 0,
    token: Annotated[str | None, typer.Option(
        help="API token to accept as 'Authorization: SSWS <token>' (default: derived from --seed).")] = None,
    print_token: Annotated[bool, typer.Option(
        "--print-token", help="Print the API token on stdout after the base URL.")] = False,
    rate_scale: Annotated[float, typer.Option(
        help="Multiply Okta's per-minute limits (e.g. 0.01 to hit 429s quickly).", min=0.0001)] = 1.0,
    latency_ms: Annotated[float, typer.Option(help="Added to every response.", min=0.0,
                                              rich_help_panel=_FAULTS)] = 0.0,
    error_rate: Annotated[float, _rate("a 500 E0000009")] = 0.0,
    rate_limit_rate: Annotated[float, _rate("a 429 E0000047 while the bucket still has room")] = 0.0,
    reset_rate: Annotated[float, _rate("cutting the connection mid-response")] = 0.0,
    stall_rate: Annotated[float, _rate("holding the response for --stall-seconds")] = 0.0,
    stall_seconds: Annotated[float, typer.Option(help="How long a stalled response is held.", min=0.0,
                                                 rich_help_panel=_FAULTS)] = 30.0,
    malformed_page_rate: Annotated[float, _rate("a list page whose JSON is cut short")] = 0.0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve a simulated Okta org until Ctrl-C.

    Prints the base URL on stdout, then the API token with --print-token.

    Change faults while it runs with POST /__sim/faults (JSON, same names as the options).

    Read request counts at GET /__sim/stats and ground-truth counts at GET /__sim/state.
    """
    from iac.sim import FaultSettings, OktaSim, run

    faults = FaultSettings(latency_ms=latency_ms, error_rate=error_rate, rate_limit_rate=rate_limit_rate,
                           reset_rate=reset_rate, stall_rate=stall_rate, stall_seconds=stall_seconds,
                           malformed_page_rate=malformed_page_rate)
    started = time.perf_counter()
    sim = OktaSim(seed=seed, users=users, groups=groups, apps=apps, memberships=memberships,
                  token=token, rate_scale=rate_scale, faults=faults)
    elapsed = time.perf_counter() - started
    counts = sim.dataset.counts()
    err.print(f"okta sim: {counts['users']} users, {counts['groups']} groups, {counts['apps']} apps, "
              f"{counts['memberships']} memberships, generated in {elapsed:.2f}s (seed {seed})")
    if not _is_loopback(host):
        err.print(f"warning: binding {host}, which is not loopback: anyone who can reach it can use the sim")

    def ready(base_url: str) -> None:
        print(base_url, flush=True)
        if print_token:
            print(sim.token, flush=True)
        err.print(f"admin: {base_url}/__sim/stats, /__sim/faults, /__sim/state — Ctrl-C to stop")

    try:
        run(sim.app, host=host, port=port, log_level=log_level, on_ready=ready)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled; stopping is the normal end
        err.print("okta sim: stopped")
    except OSError as exc:
        err.print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(2) from exc
