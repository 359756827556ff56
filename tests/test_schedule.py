"""schedule= (a CronJob), storage= (a PersistentVolumeClaim), image_sdk= and the stack's kubernetes_version:
what each renders, and what an upstream image's pod gets (working directory, artifact path, probes)."""

from __future__ import annotations

from typing import Any

import pytest

from iac import ConductorOne, Custom, Okta, Stack, Storage, secret
from iac.errors import SpecError
from iac.render import render_stack, validate_objects

ENV = {"T": "token"}
UPSTREAM = "ghcr.io/conductorone/baton-okta:v0.25.0"


def okta(name: str = "okta", **settings: Any) -> Okta:
    return Okta(name, domain="acme.okta.com", api_token=secret.env("T"), **settings)


def kinds(objects: list[dict[str, Any]]) -> list[str]:
    return [o["kind"] for o in objects]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    template = spec["jobTemplate"]["spec"]["template"] if workload["kind"] == "CronJob" else spec["template"]
    return template["spec"]  # type: ignore[no-any-return]


def env_of(workload: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in pod_spec(workload)["containers"][0]["env"]}


def test_schedule_renders_a_cronjob_with_the_deployments_hardening_on_a_claim() -> None:
    plain = render_stack(Stack("t").add(okta("a")), environ=ENV)
    scheduled = render_stack(Stack("t").add(okta("b", schedule="0 */6 * * *")), environ=ENV)
    assert kinds(scheduled) == ["Secret", "ServiceAccount", "NetworkPolicy", "PersistentVolumeClaim", "CronJob"]
    deployment, cronjob = plain[-1], scheduled[-1]
    assert cronjob["apiVersion"] == "batch/v1"
    assert cronjob["spec"]["schedule"] == "0 */6 * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    job_pod, service_pod = pod_spec(cronjob), pod_spec(deployment)
    assert job_pod["restartPolicy"] == "OnFailure"
    for key in ("securityContext", "automountServiceAccountToken", "enableServiceLinks"):
        assert job_pod[key] == service_pod[key]
    job_container, service_container = job_pod["containers"][0], service_pod["containers"][0]
    assert job_container["securityContext"] == service_container["securityContext"]
    assert job_container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "livenessProbe" not in job_container and "ports" not in job_container
    assert env_of(cronjob)["BATON_MODE"] == "sync" and "BATON_HEALTH_CHECK" not in env_of(cronjob)
    [claim] = [o for o in scheduled if o["kind"] == "PersistentVolumeClaim"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi" and "storageClassName" not in claim["spec"]
    data = next(v for v in job_pod["volumes"] if v["name"] == "data")
    assert data == {"name": "data", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}}
    validate_objects(scheduled)


def test_storage_puts_data_on_a_claim_for_a_deployment_too() -> None:
    objects = render_stack(Stack("t").add(okta(storage=Storage(size="5Gi", storage_class="fast-ssd"))), environ=ENV)
    assert kinds(objects)[-2:] == ["PersistentVolumeClaim", "Deployment"]
    claim = objects[-2]
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert objects[-1]["spec"]["strategy"]["type"] == "Recreate", "a ReadWriteOnce claim needs one pod at a time"
    volumes = {v["name"]: v for v in pod_spec(objects[-1])["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    default = render_stack(Stack("t").add(okta()), environ=ENV)
    assert "emptyDir" in {v["name"]: v for v in pod_spec(default[-1])["volumes"]}["data"]
    validate_objects(objects)


@pytest.mark.parametrize(("version", "api_version"), [("1.20", "batch/v1beta1"), ("1.21", "batch/v1"),
                                                      ("1.25", "batch/v1")])
def test_kubernetes_version_picks_the_cronjob_api(version: str, api_version: str) -> None:
    objects = render_stack(Stack("t", kubernetes_version=version).add(okta(schedule="@daily")), environ=ENV)
    assert objects[-1]["apiVersion"] == api_version
    assert validate_objects(objects) > 0, "batch/v1beta1 is checked against batch/v1's schema (same fields)"


def test_an_upstream_image_gets_a_writable_working_directory_and_a_c1z_on_the_data_volume() -> None:
    objects = render_stack(Stack("t").add(okta(image=UPSTREAM, schedule="0 3 * * *")), environ=ENV)
    container = pod_spec(objects[-1])["containers"][0]
    assert container["workingDir"] == "/data"
    env = env_of(objects[-1])
    assert env["BATON_FILE"] == "/data/sync.c1z"
    assert "BATON_CONNECTOR" not in env and "BATON_MODE" not in env


@pytest.mark.parametrize(("sdk", "probed"), [(None, False), ("0.2", False), ("0.1", False), ("0.25", True),
                                             ("0.26", True)])
def test_image_sdk_decides_the_health_server_and_probes(sdk: str | None, probed: bool) -> None:
    c1 = ConductorOne(client_id="id", client_secret=secret.env("T"))
    objects = render_stack(Stack("t", conductorone=c1).add(okta(image=UPSTREAM, image_sdk=sdk)), environ=ENV)
    container = pod_spec(objects[-1])["containers"][0]
    env = env_of(objects[-1])
    assert ("BATON_HEALTH_CHECK" in env) is probed
    assert ("livenessProbe" in container) is probed and ("readinessProbe" in container) is probed
    if probed:
        assert env["BATON_HEALTH_CHECK_BIND_ADDRESS"] == "0.0.0.0"
        # /health runs the connector's Validate (a vendor call) on every request: never probe it.
        paths = {container[p]["httpGet"]["path"] for p in ("startupProbe", "livenessProbe", "readinessProbe")}
        assert paths == {"/live", "/ready"}


@pytest.mark.parametrize(("image", "sdk", "engine", "expected"), [
    (UPSTREAM, "0.25", None, "sqlite"), (UPSTREAM, "0.26", None, "sqlite"), (UPSTREAM, "0.25", "pebble", "pebble"),
    (UPSTREAM, "0.25", "sqlite", "sqlite"), (UPSTREAM, "0.2", None, None), (UPSTREAM, "0.1", None, None),
    (UPSTREAM, None, None, None), (None, None, None, None)])
def test_image_sdk_decides_the_c1z_storage_engine(image: str | None, sdk: str | None, engine: str | None,
                                                  expected: str | None) -> None:
    """baton-sdk 0.25 writes a c1z v3 (Pebble) unless told sqlite; older SDKs (and our runtime) write only v1 and
    get no variable they do not know."""
    settings = {"image": image, "image_sdk": sdk, "storage_engine": engine}
    objects = render_stack(Stack("t").add(okta(schedule="@daily", **{k: v for k, v in settings.items() if v})),
                           environ=ENV)
    assert env_of(objects[-1]).get("BATON_STORAGE_ENGINE") == expected
    c1 = ConductorOne(client_id="id", client_secret=secret.env("T"))
    deployed = render_stack(Stack("t", conductorone=c1).add(okta(**{k: v for k, v in settings.items() if v})),
                            environ=ENV)
    assert env_of(deployed[-1]).get("BATON_STORAGE_ENGINE") == expected
    custom = Custom("jira", image="r.example.com/jira:1", schedule="@daily",
                    **{k: v for k, v in settings.items() if v and k != "image"})
    assert env_of(render_stack(Stack("t").add(custom), environ=ENV)[-1]).get("BATON_STORAGE_ENGINE") == expected


def test_storage_engine_is_refused_where_the_image_has_no_choice() -> None:
    for settings in ({"storage_engine": "sqlite"}, {"image": UPSTREAM, "storage_engine": "pebble"},
                     {"image": UPSTREAM, "image_sdk": "0.2", "storage_engine": "sqlite"}):
        with pytest.raises(SpecError) as caught:
            okta(**settings)
        assert caught.value.field == "storage_engine" and "\n" not in str(caught.value)
    with pytest.raises(SpecError, match=r"field 'env'.*storage_engine"):
        Custom("jira", image="r.example.com/jira:1", env={"BATON_STORAGE_ENGINE": "sqlite"})


def test_an_upstream_image_without_conductorone_and_schedule_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        render_stack(Stack("t").add(okta(image=UPSTREAM)), environ=ENV)
    assert caught.value.field == "image" and caught.value.connector == "okta"
    assert "schedule=" in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(SpecError):
        render_stack(Stack("t").add(Custom("jira", image="r.example.com/jira:1")), environ=ENV)
    # Either way out is accepted: a schedule, or ConductorOne credentials (the connector's or the stack's).
    render_stack(Stack("t").add(okta(image=UPSTREAM, schedule="@hourly")), environ=ENV)
    render_stack(Stack("t", conductorone=ConductorOne(client_id="i", client_secret=secret.env("T")))
                 .add(okta(image=UPSTREAM)), environ=ENV)
    render_stack(Stack("t").add(okta()), environ=ENV)  # the bundled runtime keeps serving without ConductorOne


def test_schedule_is_normalised_and_macros_are_accepted() -> None:
    assert okta(schedule="  0  */6 * * * ").schedule == "0 */6 * * *"
    assert okta(schedule="@weekly").schedule == "@weekly"
    with pytest.raises(SpecError, match="field 'schedule'"):
        okta(schedule="0 0 L * *")  # cronsim reads L, the CronJob controller does not


def test_environments_can_target_an_older_kubernetes() -> None:
    stack = Stack("t", environments={"old": {"kubernetes_version": "1.20"}}).add(okta(schedule="@daily"))
    assert render_stack(stack.environment("old"), environ=ENV)[-1]["apiVersion"] == "batch/v1beta1"
