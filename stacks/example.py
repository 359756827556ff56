"""The example stack: all four integrations in one namespace.

Render it with the demo credentials that `make demo` exports, or your own:

    OKTA_API_TOKEN=... COUPA_CLIENT_SECRET=... iac render stacks/example.py
"""

from iac import Celigo, Concur, ConductorOne, Coupa, MetricsFrom, Okta, Stack, secret

stack = Stack(
    "example",
    namespace="identity-connectors",
    create_namespace=True,
    conductorone=ConductorOne(client_id=secret.env("C1_CLIENT_ID"), client_secret=secret.env("C1_CLIENT_SECRET")),
)

stack.add(
    Okta(
        "okta",
        domain="acme.okta.com",
        api_token=secret.env("OKTA_API_TOKEN"),
        sync_custom_roles=True,
        skip_secondary_emails=True,
        provisioning=True,
        # Only Prometheus in the monitoring namespace may scrape /metrics; nothing else reaches the pod.
        metrics_from=MetricsFrom(namespaces=["monitoring"], pods={"app.kubernetes.io/name": "prometheus"}),
    ),
    Coupa(
        "coupa",
        domain="acme.coupahost.com",
        client_id="coupa-baton-client",
        client_secret=secret.env("COUPA_CLIENT_SECRET"),
    ),
    Concur(
        "concur",
        base_url="https://us2.api.concursolutions.com",
        client_id="concur-baton-client",
        client_secret=secret.env("CONCUR_CLIENT_SECRET"),
        refresh_token=secret.env("CONCUR_REFRESH_TOKEN"),
    ),
    # The token already lives in the cluster: nothing is rendered for it.
    Celigo("celigo", access_token=secret.kubernetes("celigo-credentials", "token"), region="eu"),
)
