"""Render (and separately validate) stacks of 1, 100 and 1,000 connectors.

Target: 1,000 connectors render in under 1 s; schema validation is reported on its own line.
Run: `make bench` or `.venv/bin/python bench/render.py`."""

from __future__ import annotations

import platform
import time

from iac import Celigo, Concur, Coupa, Okta, Stack, secret
from iac.render import manifests_to_yaml, render_manifests, render_stack, validate_objects

TARGET_1000_S = 1.0
ENVIRON = {"TOKEN": "bench-token", "SECRET": "bench-secret", "REFRESH": "bench-refresh"}


def make_stack(count: int) -> Stack:
    stack = Stack("bench", namespace="bench")
    makers = [
        lambda n: Okta(n, domain="acme.okta.com", api_token=secret.env("TOKEN"), provisioning=True),
        lambda n: Coupa(n, domain="acme.coupahost.com", client_id="c", client_secret=secret.env("SECRET")),
        lambda n: Concur(n, base_url="https://us2.api.concursolutions.com", client_id="c",
                         client_secret=secret.env("SECRET"), refresh_token=secret.env("REFRESH")),
        lambda n: Celigo(n, access_token=secret.kubernetes("celigo", "token")),
    ]
    for i in range(count):
        stack.add(makers[i % len(makers)](f"c{i}"))
    return stack


def best_of(runs: int, fn: object) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    print(f"# render benchmark — Python {platform.python_version()}, {platform.machine()}, "
          f"{platform.processor() or 'cpu'}")
    print(f"{'connectors':>10} {'objects':>8} {'render s':>9} {'ms/conn':>8} {'stream s':>8} "
          f"{'validate s':>10} {'ms/conn':>8}")
    validate_objects(render_stack(make_stack(4), environ=ENVIRON))  # warm the schema cache
    results = {}
    for count in (1, 100, 1000):
        stack = make_stack(count)
        runs = 5 if count < 1000 else 3
        objects = render_stack(stack, environ=ENVIRON)
        render_s = best_of(runs, lambda s=stack: render_stack(s, environ=ENVIRON))
        yaml_s = best_of(runs, lambda s=stack: manifests_to_yaml(render_manifests(s, environ=ENVIRON)))
        validate_s = best_of(1, lambda o=objects: validate_objects(o))
        results[count] = render_s
        print(f"{count:>10} {len(objects):>8} {render_s:>9.3f} {render_s / count * 1000:>8.3f} "
              f"{yaml_s:>8.3f} {validate_s:>10.3f} {validate_s / count * 1000:>8.3f}")
    ratio = results[1000] / TARGET_1000_S
    print(f"1,000 connectors render in {results[1000]:.3f} s = {ratio:.2f}x of the {TARGET_1000_S:.0f} s target "
          f"({'met' if ratio <= 1 else 'MISSED'})")


if __name__ == "__main__":
    main()
