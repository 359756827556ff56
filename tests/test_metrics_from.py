"""`metrics_from` flows through the backends the way other settings do: the Terraform provider's attributes
(flattened like `resources_*`) and stack environments give the same NetworkPolicy as the Python API.
(GitOps, Pulumi and cdk translate the rendered objects; their equivalence tests render stacks/example.py,
whose Okta connector names a scraper.)"""

from __future__ import annotations

from typing import Any

import pytest

from iac import MetricsFrom, Okta, Stack, secret
from iac.backends.terraform import InvalidAttributeError, connector_schema
from iac.render import render_stack

INGRESS = [{"from": [{"namespaceSelector": {"matchExpressions": [
               {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["monitoring", "ops"]}]},
           "podSelector": {"matchLabels": {"app": "prometheus"}}}],
            "ports": [{"port": 8081, "protocol": "TCP"}]}]


def ingress(stack: Stack, environment: str | None = None) -> Any:
    variant = stack.environment(environment) if environment else stack
    [policy] = [o for o in render_stack(variant, environ={"T": "t0k3n"}) if o["kind"] == "NetworkPolicy"]
    assert "Ingress" in policy["spec"]["policyTypes"]
    return policy["spec"].get("ingress", [])


def test_terraform_attributes_give_the_same_network_policy() -> None:
    connector = connector_schema(Okta).connector({
        "name": "okta", "domain": "acme.okta.com", "api_token": "t0k3n",
        "metrics_from_namespaces": ["ops", "monitoring"], "metrics_from_pods": {"app": "prometheus"}})
    assert connector.metrics_from == MetricsFrom(namespaces=("monitoring", "ops"), pods={"app": "prometheus"})
    assert ingress(Stack("t", namespace="ids").add(connector)) == INGRESS
    with pytest.raises(InvalidAttributeError, match="not a Kubernetes label value") as bad:
        connector_schema(Okta).connector({"name": "okta", "domain": "acme.okta.com", "api_token": "t0k3n",
                                          "metrics_from_pods": {"app": "no spaces"}})
    assert bad.value.attribute == "metrics_from_pods"


def test_an_environment_can_open_the_port_to_its_scraper() -> None:
    stack = Stack("t", namespace="ids", environments={"prod": {"connectors": {"okta": {
        "metrics_from": MetricsFrom(namespaces=["monitoring", "ops"], pods={"app": "prometheus"})}}}})
    stack.add(Okta("okta", domain="acme.okta.com", api_token=secret.env("T")))
    assert ingress(stack) == []
    assert ingress(stack, "prod") == INGRESS
