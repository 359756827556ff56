"""The declarative model: integrations, their settings, secret references and stacks. No IO here
except reading stack files and resolving secret references."""

from __future__ import annotations

from iac.spec import baton_env, secret
from iac.spec._conductorone import C1_PROVIDER_SOURCE, C1_PROVIDER_VERSION, C1App, C1Attribute, conductorone_apps
from iac.spec._connector import (
    ConductorOne,
    Connector,
    EntitlementDoc,
    Hosting,
    Integration,
    ManagedConductorOne,
    MetricsFrom,
    Resources,
    ResourceTypeDoc,
    SecretField,
    Storage,
    common_env,
    conductorone_env,
    conductorone_settings,
    env_value_items,
)
from iac.spec._settings import Setting, SettingSpec, format_plain, setting_spec
from iac.spec._validation import check_dns_label
from iac.spec.integrations import Celigo, Concur, Coupa, Custom, Okta
from iac.spec.stack import DEFAULT_KUBERNETES_VERSION, Stack, load_stack

__all__ = [
    "C1_PROVIDER_SOURCE",
    "C1_PROVIDER_VERSION",
    "DEFAULT_KUBERNETES_VERSION",
    "C1App",
    "C1Attribute",
    "Celigo",
    "Concur",
    "ConductorOne",
    "Connector",
    "Coupa",
    "Custom",
    "EntitlementDoc",
    "Hosting",
    "Integration",
    "ManagedConductorOne",
    "MetricsFrom",
    "Okta",
    "ResourceTypeDoc",
    "Resources",
    "SecretField",
    "Setting",
    "SettingSpec",
    "Stack",
    "Storage",
    "baton_env",
    "check_dns_label",
    "common_env",
    "conductorone_apps",
    "conductorone_env",
    "conductorone_settings",
    "env_value_items",
    "format_plain",
    "load_stack",
    "secret",
    "setting_spec",
]
