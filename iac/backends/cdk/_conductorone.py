"""The ConductorOne side of a managed stack (``Stack(conductorone=ConductorOne.managed(...))``) as resources of the
ConductorOne Terraform provider, for both synths (hashicorp/kubernetes and iac/baton).

What each connector gets comes from :func:`iac.spec.conductorone_apps`, which reads the integration specs; this
module only lays it out. There are no prebuilt bindings of the ConductorOne provider, so resources are the CDK's
generic ``TerraformResource`` with their attributes as overrides (the JSON is the same)::

    conductorone_app.<c>                    display_name, description, annotations
    conductorone_integration_<x>.<c>        app_id, user_ids, the connector's settings under the provider's names
    conductorone_integration_baton.<c>      app_id, user_ids                              (self-hosted)
    conductorone_connector_credential.<c>   app_id, connector_id; outputs client_id, client_secret (self-hosted)

A secret setting of a cloud-hosted connector becomes a sensitive variable reference; the provider has no
write-only attributes, so Terraform keeps those values (and the generated client secret) in state, marked
sensitive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from iac.backends._bindings import SecretBinding
from iac.errors import RenderError
from iac.spec import C1_PROVIDER_SOURCE, C1_PROVIDER_VERSION, C1App
from iac.spec.secret import ResolvableSecret, SecretRef

__all__ = ["C1_PROVIDER_NAME", "MANAGED_BY", "declare_conductorone", "terraform_name"]

C1_PROVIDER_NAME = "conductorone"
MANAGED_BY = "baton-iac"
"""The ``managed_by`` annotation of every app (a well-known annotation key of the provider)."""
Credentials = dict[str, dict[str, str]]
"""Connector name → ``{"client_id": <expression>, "client_secret": <expression>}`` (Terraform expressions)."""


def terraform_name(connector: str) -> str:
    """The Terraform resource name of a connector's ConductorOne resources: its name, ``_``-prefixed when it starts
    with a digit (Terraform names start with a letter or underscore)."""
    return connector if connector[:1].isalpha() else f"_{connector}"


def declare_conductorone(lib: Any, scope: Any, apps: list[C1App], *, workspace: str,
                         variable: Callable[[SecretBinding], str]) -> Credentials:
    """Declare the provider and every app's resources in ``scope``; return the credential expressions of the
    self-hosted connectors. ``variable(binding)`` declares the sensitive variable of a secret setting and returns
    its expression (``var.NAME``)."""
    if not apps:
        return {}
    _provider_class(lib)(scope, C1_PROVIDER_NAME)
    credentials: Credentials = {}
    for app in apps:
        connector = app.connector
        name = terraform_name(connector.name)
        hosted = "hosted by ConductorOne" if app.hosting == "cloud" else "self-hosted (baton)"
        _resource(lib, scope, "conductorone_app", f"C1App-{connector.name}", name, {
            "display_name": app.display_name,
            "description": f"Connector '{connector.name}' of the baton-iac stack '{workspace}', {hosted}.",
            "annotations": {"managed_by": MANAGED_BY, "iac_workspace": workspace},
        })
        integration: dict[str, Any] = {"app_id": f"${{conductorone_app.{name}.id}}"}
        if app.owners:
            integration["user_ids"] = list(app.owners)
        for attribute in app.attributes:
            value = attribute.value
            if isinstance(value, SecretRef):
                if not isinstance(value, ResolvableSecret):  # pragma: no cover - the spec refuses it
                    raise RenderError(f"connector '{connector.name}', field '{attribute.setting.name}': "
                                      f"{value.describe()} cannot be sent to ConductorOne")
                binding = SecretBinding(connector=connector.name, env=attribute.setting.env,
                                        field=attribute.setting.name, ref=value)
                value = f"${{{variable(binding)}}}"
            integration[attribute.name] = value
        _resource(lib, scope, app.resource, f"C1Integration-{connector.name}", name, integration)
        if app.credential:
            _resource(lib, scope, "conductorone_connector_credential", f"C1Credential-{connector.name}", name, {
                "app_id": f"${{conductorone_app.{name}.id}}",
                "connector_id": f"${{{app.resource}.{name}.id}}",
            })
            credentials[connector.name] = {
                key: f"conductorone_connector_credential.{name}.{key}" for key in ("client_id", "client_secret")}
    return credentials


def _resource(lib: Any, scope: Any, resource_type: str, construct_id: str, name: str,
              attributes: dict[str, Any]) -> Any:
    resource = lib.TerraformResource(
        scope, construct_id, terraform_resource_type=resource_type,
        terraform_generator_metadata=lib.TerraformProviderGeneratorMetadata(provider_name=C1_PROVIDER_NAME))
    for attribute, value in attributes.items():
        resource.add_override(attribute, value)
    resource.override_logical_id(name)
    return resource


_PROVIDER_CLASSES: dict[int, type[Any]] = {}


def _provider_class(lib: Any) -> type[Any]:
    """A ``TerraformProvider`` for conductorone/conductorone (one class per CDK library). Its block stays empty:
    the provider reads ``CONDUCTORONE_CLIENT_ID``/``CONDUCTORONE_CLIENT_SECRET`` (and ``CONDUCTORONE_SERVER_URL``)
    where Terraform runs, so no credential is written into the configuration."""
    known = _PROVIDER_CLASSES.get(id(lib))
    if known is None:
        class ConductorOneProvider(lib.TerraformProvider):  # type: ignore[misc]
            def __init__(self, scope: Any, id: str) -> None:
                super().__init__(scope, id, terraform_resource_type=C1_PROVIDER_NAME,
                                 terraform_provider_source=C1_PROVIDER_SOURCE,
                                 terraform_generator_metadata=lib.TerraformProviderGeneratorMetadata(
                                     provider_name=C1_PROVIDER_NAME,
                                     provider_version_constraint=C1_PROVIDER_VERSION))

        known = _PROVIDER_CLASSES[id(lib)] = ConductorOneProvider
    return known
