"""The sandbox demo: a stack rendered, and each of its connectors run once against its API simulator.

What it proves end to end: the environment the rendered manifests give a container (plain ``env`` values
plus the Secret behind ``envFrom``) is all the bundled runtime needs — the same contract a pod runs with.
Only the API base URL points at a local simulator (``BATON_BASE_URL``) and the credentials are the
simulator's own.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iac.plugins import plugins
from iac.render import Manifest, render_manifests, validate_objects, write_tree
from iac.spec import ConductorOne, Connector, Stack, baton_env, common_env, conductorone_env, conductorone_settings
from iac.spec.secret import EnvSecret, KubernetesSecretRef

__all__ = [
    "DEMO_C1_CREDENTIALS",
    "DemoResult",
    "Sandbox",
    "container_environment",
    "deploy_demo",
    "review_demo",
    "run_demo",
    "sandbox_environment",
    "sandbox_for",
]

# Shaped like real ConductorOne credentials (the runtime checks the shape); they reach nothing.
DEMO_C1_CREDENTIALS = {
    conductorone_env("client_id"): "demo-connector@demo.conductor.one/sandbox",
    conductorone_env("client_secret"): "demo:sandbox:v1:ZGVtby1zYW5kYm94LWtleS1ub3QtYS1zZWNyZXQ",
}


@dataclass
class Sandbox:
    """A running simulator for one connector and the credentials that open it, by setting name (the
    integration spec maps them to their BATON_* variables)."""

    simulator: Any
    credentials: dict[str, str]
    base_url: str = ""

    def requests(self) -> int:
        return int(self.simulator.stats.count())


def sandbox_for(connector: Connector, *, seed: int = 1, users: int = 300) -> Sandbox | None:
    """A simulator for ``connector`` seeded for demos and tests, with the credentials that open it (None when its
    integration registers no simulator)."""
    plugin = plugins().get(connector.integration.name)
    if plugin is None or plugin.simulator is None:
        return None
    sim = plugin.simulator.sandbox_sim(connector, seed=seed, users=users)
    return Sandbox(sim, plugin.simulator.credentials(sim))


def container_environment(manifests: list[Manifest] | list[dict[str, Any]], connector: str,
                          existing_secrets: Mapping[str, Mapping[str, str]] | None = None) -> dict[str, str]:
    """The environment kubelet gives ``connector``'s container: its ``env`` values, the keys of the Secret
    behind ``envFrom`` and ``secretKeyRef`` values looked up in ``existing_secrets`` (name → key → value)."""
    objects = [m.obj if isinstance(m, Manifest) else m for m in manifests]
    mine = [o for o in objects if o["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == connector]
    secrets = {o["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in o.get("data", {}).items()}
               for o in mine if o["kind"] == "Secret"}
    secrets.update({name: dict(values) for name, values in (existing_secrets or {}).items()})
    [deployment] = [o for o in mine if o["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    environ: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environ.update(secrets.get(source["secretRef"]["name"], {}))
    for entry in container.get("env", []):
        if "value" in entry:
            environ[entry["name"]] = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is not None:
                environ[entry["name"]] = value
    return environ


@dataclass
class DemoResult:
    connector: str
    integration: str
    status: str
    resources: int = 0
    entitlements: int = 0
    grants: int = 0
    requests: int = 0
    seconds: float = 0.0
    artifact: Path | None = None


def _stack_environ(stack: Stack, sandboxes: Mapping[str, Sandbox]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Values for the stack's secret.env references, and the Secrets that secret.kubernetes expects."""
    environ: dict[str, str] = {}
    existing: dict[str, dict[str, str]] = {}
    for connector in stack.self_hosted:
        sandbox = sandboxes.get(connector.name)
        own = sandbox.credentials if sandbox else {}
        credentials = dict(DEMO_C1_CREDENTIALS) | {
            s.env: own[s.name] for s in type(connector).connector_settings() if s.name in own}
        c1 = connector.conductorone or stack.conductorone
        refs: list[tuple[str, Any]] = [(s.env, getattr(connector, s.name)) for s in type(connector).connector_settings()
                                       if s.secret]
        if isinstance(c1, ConductorOne):
            refs += [(s.env, getattr(c1, s.name)) for s in conductorone_settings()]
        for env_name, ref in refs:
            value = credentials.get(env_name, f"demo-{env_name.lower()}")
            if isinstance(ref, EnvSecret):
                environ[ref.var] = value
            elif isinstance(ref, KubernetesSecretRef):
                existing.setdefault(ref.name, {})[ref.key] = value
    return environ, existing


def sandbox_environment(stack: Stack, connector: str, sandbox: Sandbox, *, manifests: list[Manifest] | None = None,
                        ) -> dict[str, str]:
    """The container environment of ``connector`` as rendered from ``stack`` with the sandbox's
    credentials, pointed at the (started) simulator."""
    environ, existing = _stack_environ(stack, {connector: sandbox})
    rendered = manifests if manifests is not None else render_manifests(stack, environ=environ)
    env = container_environment(rendered, connector, existing)
    return env | {common_env("base_url_override"): sandbox.base_url, baton_env.LOG_FORMAT: "console"}


@contextmanager
def _serving(sandboxes: Mapping[str, Sandbox]) -> Iterator[None]:
    from iac.sim import serve

    with ExitStack() as stack:
        for sandbox in sandboxes.values():
            sandbox.base_url = stack.enter_context(serve(sandbox.simulator.app))
        yield


def run_demo(stack: Stack, out_dir: Path, *, users: int = 300, seed: int = 1,
             progress: Callable[[str], None] | None = None) -> tuple[list[DemoResult], Path]:
    """Render ``stack`` into ``out_dir/manifests`` and sync each connector once against its simulator
    into ``out_dir/artifacts``. Returns one row per connector and the manifests directory."""
    from iac.connectors import registered
    from iac.runtime import SyncEngine, Wiring, load_settings

    note = progress or (lambda _message: None)
    sandboxes = {c.name: s for c in stack.self_hosted if (s := sandbox_for(c, seed=seed, users=users))}
    environ, _existing = _stack_environ(stack, sandboxes)
    manifests = render_manifests(stack, environ=environ)
    validate_objects([m.obj for m in manifests])
    manifest_dir = out_dir / "manifests"
    write_tree(manifests, manifest_dir)
    artifacts = out_dir / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    entries = registered()
    results: list[DemoResult] = []
    with _serving(sandboxes):
        for connector in stack.self_hosted:
            name, integration = connector.name, connector.integration.name
            sandbox, entry = sandboxes.get(name), entries.get(integration)
            if sandbox is None or entry is None:
                results.append(DemoResult(name, integration, "not bundled yet"))
                continue
            note(f"syncing {name} against the {integration} simulator")
            env = sandbox_environment(stack, name, sandbox, manifests=manifests)
            env[baton_env.FILE] = str(artifacts / f"{name}.c1z")
            started = time.perf_counter()
            try:
                settings = load_settings(entry.integration, environ=env)
                runner = entry.build(settings, Wiring())
                try:
                    result = SyncEngine(runner, settings.file, workers=settings.workers).run()
                finally:
                    runner.close()
            except Exception as exc:  # one failing connector must not hide the others' results
                results.append(DemoResult(name, integration, f"failed: {type(exc).__name__}: {exc}",
                                          requests=sandbox.requests(), seconds=time.perf_counter() - started))
                continue
            stats = result.stats
            results.append(DemoResult(
                name, integration, "synced", stats["resources"]["total"], stats["entitlements"]["total"],
                stats["grants"]["total"], sandbox.requests(), time.perf_counter() - started, settings.file))
    return results, manifest_dir


def review_demo(results: list[DemoResult], out_dir: Path) -> list[Path]:
    """The access-review report (and CSV evidence) of each synced connector: ``out_dir/reviews/<name>.html``."""
    from iac.review import review_file

    reviews = out_dir / "reviews"
    return [review_file(row.artifact, reviews / f"{row.connector}.html", csv_dir=reviews / row.connector).html
            for row in results if row.artifact is not None]


def deploy_demo(stack: Stack, out_dir: Path, *, kubeconfig: Path | None, context: str | None,
                users: int = 300, seed: int = 1) -> tuple[str, str, str]:
    """``preview``, ``up`` and a second ``preview`` of the demo stack on a cluster (credentials: the
    sandbox ones). Returns the three summaries; the second preview shows that ``up`` converged."""
    from iac.backends.engine import Engine, connect

    sandboxes = {c.name: s for c in stack.self_hosted if (s := sandbox_for(c, seed=seed, users=users))}
    environ, existing = _stack_environ(stack, sandboxes)
    objects = [m.obj for m in render_manifests(stack, environ=environ)]
    api = connect(kubeconfig, context)
    engine = Engine(api, stack=stack.name, namespace=stack.namespace)
    before = engine.preview(objects)
    applied = engine.up(objects)
    after = engine.preview(objects)
    del existing, out_dir  # the cluster gets only what the stack renders
    return before.summary(), applied.summary(), after.summary()
