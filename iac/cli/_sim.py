"""``iac sim``: serve a simulated vendor API on loopback for demos, benchmarks and manual testing."""

from __future__ import annotations

import functools
import inspect
import ipaddress
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Annotated, Any

import typer

from iac.cli._app import app, err
from iac.sim import FaultSettings

sim_app = typer.Typer(
    name="sim",
    help="Serve stateful, seeded simulators of the vendor APIs the connectors sync from (offline).",
    no_args_is_help=True,
)
app.add_typer(sim_app, name="sim")

_FAULTS = "Faults (seeded: the same seed and requests give the same faults)"
_DATA = "Generated org (deterministic from --seed)"


def _with_fault_options(command: Callable[..., None]) -> Callable[..., None]:
    """Give ``command`` one option per :class:`FaultSettings` knob (``--error-rate``, ... the names
    ``POST /__sim/faults`` takes), handed to it as its ``faults`` argument."""
    knobs = fields(FaultSettings)
    options = [inspect.Parameter(knob.name, inspect.Parameter.KEYWORD_ONLY, default=knob.default, annotation=Annotated[
        float, typer.Option(help=knob.metadata["help"], min=0.0, max=1.0 if knob.name.endswith("_rate") else None,
                            rich_help_panel=_FAULTS)]) for knob in knobs]
    own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "faults"]

    @functools.wraps(command)
    def with_faults(**kwargs: Any) -> None:
        command(faults=FaultSettings(**{knob.name: kwargs.pop(knob.name) for knob in knobs}), **kwargs)

    signature = inspect.Signature([*own, *options], return_annotation=None)
    with_faults.__signature__ = signature  # type: ignore[attr-defined]  # what Typer reads
    with_faults.__annotations__ = {p.name: p.annotation for p in signature.parameters.values()} | {"return": None}
    return with_faults


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@sim_app.command("okta")
@_with_fault_options
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
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    faults: FaultSettings | None = None,
) -> None:
    """Serve a simulated Okta org until Ctrl-C.

    Prints the base URL on stdout, then the API token with --print-token.

    Change faults while it runs with POST /__sim/faults (JSON, same names as the options).

    Read request counts at GET /__sim/stats and ground-truth counts at GET /__sim/state.
    """
    from iac.sim import OktaSim, run

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


# ---- Coupa, Concur, Celigo: the same knobs as okta, plus each vendor's credentials --------------------

_CREDENTIALS_HELP = "Print the credentials as one JSON line on stdout after the base URL."
_TOKEN_LIFETIME_HELP = "Seconds an access token lives; expire them all at once with POST /__sim/tokens/expire."



def _serve(name: str, sim: Any, summary: str, credentials: dict[str, str], *, host: str, port: int,
           log_level: str, print_credentials: bool) -> None:
    """Announce, serve until Ctrl-C, and map a bind failure to exit code 2 (as `iac sim okta`)."""
    import json

    from iac.sim import run

    err.print(f"{name} sim: {summary}")
    if not _is_loopback(host):
        err.print(f"warning: binding {host}, which is not loopback: anyone who can reach it can use the sim")

    def ready(base_url: str) -> None:
        print(base_url, flush=True)
        if print_credentials:
            print(json.dumps(credentials), flush=True)
        err.print(f"admin: {base_url}/__sim/stats, /__sim/faults, /__sim/state, /__sim/writes, "
                  "/__sim/tokens/expire — Ctrl-C to stop")

    try:
        run(sim.app, host=host, port=port, log_level=log_level, on_ready=ready)
    except KeyboardInterrupt:
        err.print(f"{name} sim: stopped")
    except OSError as exc:
        err.print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}")
        raise typer.Exit(2) from exc


_Port = Annotated[int, typer.Option(help="TCP port; 0 picks a free one.", min=0, max=65535)]
_Host = Annotated[str, typer.Option(help="Address to bind. Loopback by default; anything else is reachable "
                                         "from the network and is warned about.")]
_Seed = Annotated[int, typer.Option(help="Seed for data, ids, credentials and faults.", rich_help_panel=_DATA)]
_RateScale = Annotated[float, typer.Option(help="Multiply the vendor's rate limits (e.g. 0.01 to hit 429s quickly).",
                                           min=0.0001)]
_LogLevel = Annotated[str, typer.Option(help="uvicorn log level.")]
_PrintCredentials = Annotated[bool, typer.Option("--print-credentials", help=_CREDENTIALS_HELP)]


@sim_app.command("coupa")
@_with_fault_options
def coupa(
    port: _Port = 8098,
    host: _Host = "127.0.0.1",
    users: Annotated[int, typer.Option(help="Users to generate.", min=1, rich_help_panel=_DATA)] = 500,
    user_groups: Annotated[int, typer.Option(help="User groups.", min=0, rich_help_panel=_DATA)] = 20,
    content_groups: Annotated[int, typer.Option(help="Content (business) groups.", min=0,
                                                rich_help_panel=_DATA)] = 8,
    account_groups: Annotated[int, typer.Option(help="Account groups.", min=0, rich_help_panel=_DATA)] = 6,
    seed: _Seed = 0,
    token_lifetime: Annotated[float, typer.Option(help=_TOKEN_LIFETIME_HELP, min=1.0)] = 86_400.0,
    retry_after: Annotated[bool, typer.Option(help="Send Retry-After with 429s (Coupa documents none).")] = False,
    rate_scale: _RateScale = 1.0,
    print_credentials: _PrintCredentials = False,
    log_level: _LogLevel = "warning",
    faults: FaultSettings | None = None,
) -> None:
    """Serve a simulated Coupa instance until Ctrl-C (OAuth client credentials at POST /oauth2/token).

    Prints the base URL on stdout, then {"client_id", "client_secret"} with --print-credentials.
    """
    from iac.sim import CoupaSim

    started = time.perf_counter()
    sim = CoupaSim(seed=seed, users=users, user_groups=user_groups, content_groups=content_groups,
                   account_groups=account_groups, token_lifetime=token_lifetime, retry_after=retry_after,
                   rate_scale=rate_scale, faults=faults)
    counts = sim.dataset.counts()
    summary = (f"{counts['users']} users, {counts['user_groups']} user groups, {counts['roles']} roles, "
               f"generated in {time.perf_counter() - started:.2f}s (seed {seed})")
    _serve("coupa", sim, summary, {"client_id": sim.client_id, "client_secret": sim.client_secret},
           host=host, port=port, log_level=log_level, print_credentials=print_credentials)


@sim_app.command("concur")
@_with_fault_options
def concur(
    port: _Port = 8097,
    host: _Host = "127.0.0.1",
    users: Annotated[int, typer.Option(help="Users to generate.", min=1, rich_help_panel=_DATA)] = 500,
    seed: _Seed = 0,
    token_lifetime: Annotated[float, typer.Option(help=_TOKEN_LIFETIME_HELP, min=1.0)] = 3600.0,
    rotate_refresh_tokens: Annotated[bool, typer.Option(
        help="Hand out a new refresh token on every refresh (the old one lives for --refresh-grace-seconds).")
    ] = True,
    refresh_grace_seconds: Annotated[float, typer.Option(help="How long a rotated-out refresh token still works.",
                                                         min=0.0)] = 60.0,
    provision_delay: Annotated[float, typer.Option(
        help="Seconds before a /profile/v4/Bulk request takes effect.", min=0.0)] = 1.0,
    rate_scale: _RateScale = 1.0,
    print_credentials: _PrintCredentials = False,
    log_level: _LogLevel = "warning",
    faults: FaultSettings | None = None,
) -> None:
    """Serve a simulated SAP Concur company until Ctrl-C (refresh-token OAuth at POST /oauth2/v0/token).

    Prints the base URL on stdout, then {"client_id", "client_secret", "refresh_token"} with
    --print-credentials.
    """
    from iac.sim import ConcurSim

    started = time.perf_counter()
    sim = ConcurSim(seed=seed, users=users, token_lifetime=token_lifetime,
                    rotate_refresh_tokens=rotate_refresh_tokens, refresh_grace_seconds=refresh_grace_seconds,
                    provision_delay=provision_delay, rate_scale=rate_scale,
                    faults=faults)
    counts = sim.dataset.counts()
    summary = (f"{counts['users']} users, {counts['role_assignments']} Spend role assignments, "
               f"generated in {time.perf_counter() - started:.2f}s (seed {seed})")
    _serve("concur", sim, summary, {"client_id": sim.client_id, "client_secret": sim.client_secret,
                                    "refresh_token": sim.refresh_token},
           host=host, port=port, log_level=log_level, print_credentials=print_credentials)


@sim_app.command("celigo")
@_with_fault_options
def celigo(
    port: _Port = 8096,
    host: _Host = "127.0.0.1",
    users: Annotated[int, typer.Option(help="Users (ashares) to generate; the owner comes on top.", min=0,
                                       rich_help_panel=_DATA)] = 200,
    integrations: Annotated[int, typer.Option(help="Integrations.", min=0, rich_help_panel=_DATA)] = 8,
    page_size: Annotated[int, typer.Option(help="Default page size of list endpoints (limit overrides it).",
                                           min=1, max=1000)] = 100,
    seed: _Seed = 0,
    rate_scale: _RateScale = 1.0,
    print_credentials: _PrintCredentials = False,
    log_level: _LogLevel = "warning",
    faults: FaultSettings | None = None,
) -> None:
    """Serve a simulated Celigo account until Ctrl-C (Authorization: Bearer <token>).

    Prints the base URL on stdout, then {"token"} with --print-credentials.
    """
    from iac.sim import CeligoSim

    started = time.perf_counter()
    sim = CeligoSim(seed=seed, users=users, integrations=integrations, page_size=page_size, rate_scale=rate_scale,
                    faults=faults)
    counts = sim.dataset.counts()
    summary = (f"{counts['ashares']} users, {counts['integrations']} integrations, "
               f"generated in {time.perf_counter() - started:.2f}s (seed {seed})")
    _serve("celigo", sim, summary, {"token": sim.token}, host=host, port=port, log_level=log_level,
           print_credentials=print_credentials)
