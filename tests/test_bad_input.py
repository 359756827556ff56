"""Every kind of bad input gives one clear line naming the stack, connector and field, exit code 2,
no traceback, no secret value, and nothing written."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import RunIac

HEADER = "from iac import *\n"
OKTA = "Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'))"


def stack(*lines: str, name: str = "prod") -> str:
    body = "\n".join(lines)
    return HEADER + f"stack = Stack({name!r}, namespace='ids')\n" + body + "\n"


# (stack file source, environment, expected fragments of the one error line)
CASES: list[tuple[str, str, dict[str, str], list[str]]] = [
    ("okta-domain-path", stack("stack.add(Okta('okta', domain='https://acme.okta.com/app', api_token=secret.env('TOK')))"),
     {}, ["stack 'prod'", "connector 'okta'", "field 'domain'", "without a path"]),
    ("okta-domain-query", stack("stack.add(Okta('okta', domain='https://acme.okta.com?x=1', api_token=secret.env('TOK')))"),
     {}, ["field 'domain'", "query"]),
    ("okta-domain-userinfo", stack("stack.add(Okta('okta', domain='https://bob:pw@acme.okta.com', api_token=secret.env('TOK')))"),
     {}, ["field 'domain'", "user info"]),
    ("okta-domain-http", stack("stack.add(Okta('okta', domain='http://acme.okta.com', api_token=secret.env('TOK')))"),
     {}, ["field 'domain'", "only https"]),
    ("okta-domain-port", stack("stack.add(Okta('okta', domain='acme.okta.com:8443', api_token=secret.env('TOK')))"),
     {}, ["field 'domain'", "without a port"]),
    ("okta-domain-bare-word", stack("stack.add(Okta('okta', domain='acme', api_token=secret.env('TOK')))"),
     {}, ["field 'domain'", "not a valid DNS host name"]),
    ("okta-admin-domain", stack("stack.add(Okta('okta', domain='acme-admin.okta.com', api_token=secret.env('TOK')))"),
     {}, ["field 'domain'", "admin console", "'acme.okta.com'"]),
    ("okta-domain-missing", stack("stack.add(Okta('okta', api_token=secret.env('TOK')))"),
     {}, ["connector 'okta'", "field 'domain'", "is required"]),
    ("okta-token-plain", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token='sentinel-plain-token'))"),
     {}, ["field 'api_token'", "is a secret", "secret.env"]),
    ("okta-bool-string", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                               "sync_custom_roles='yes'))"),
     {}, ["field 'sync_custom_roles'", "True or False", "'yes'"]),
    ("okta-typo", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                        "sync_custom_role=True))"),
     {}, ["field 'sync_custom_role'", "did you mean 'sync_custom_roles'"]),
    ("okta-email-domains-string", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                                        "filter_email_domains='acme.com'))"),
     {}, ["field 'filter_email_domains'", "not one string"]),
    ("okta-email-domain-bad", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                                    "filter_email_domains=['acme.com', 'bad domain']))"),
     {}, ["field 'filter_email_domains'", "'bad domain'"]),
    ("coupa-domain", stack("stack.add(Coupa('coupa', domain='acme.example.com', client_id='c', "
                           "client_secret=secret.env('S')))"),
     {}, ["connector 'coupa'", "field 'domain'", "coupahost.com"]),
    ("coupa-domain-four-labels", stack("stack.add(Coupa('coupa', domain='a.b.coupahost.com', client_id='c', "
                                       "client_secret=secret.env('S')))"),
     {}, ["field 'domain'", "<tenant>.coupahost.com"]),
    ("coupa-secret-plain", stack("stack.add(Coupa('coupa', domain='acme.coupahost.com', client_id='c', "
                                 "client_secret='sentinel-plain-coupa'))"),
     {}, ["field 'client_secret'", "is a secret"]),
    ("coupa-empty-client-id", stack("stack.add(Coupa('coupa', domain='acme.coupahost.com', client_id=' ', "
                                    "client_secret=secret.env('S')))"),
     {}, ["field 'client_id'", "must not be empty"]),
    ("concur-geo", stack("stack.add(Concur('concur', base_url='https://api.concur.example.com', client_id='c', "
                         "client_secret=secret.env('S'), refresh_token=secret.env('R')))"),
     {}, ["connector 'concur'", "field 'base_url'", "not a Concur geolocation", "us2.api.concursolutions.com"]),
    ("concur-path", stack("stack.add(Concur('concur', base_url='https://us2.api.concursolutions.com/oauth2', "
                          "client_id='c', client_secret=secret.env('S'), refresh_token=secret.env('R')))"),
     {}, ["field 'base_url'", "not a Concur geolocation"]),
    ("concur-refresh-missing", stack("stack.add(Concur('concur', base_url='https://us2.api.concursolutions.com', "
                                     "client_id='c', client_secret=secret.env('S')))"),
     {}, ["field 'refresh_token'", "is required"]),
    ("celigo-region", stack("stack.add(Celigo('celigo', access_token=secret.env('T'), region='apac'))"),
     {}, ["connector 'celigo'", "field 'region'", "'us'", "'eu'", "'apac'"]),
    ("name-uppercase", stack("stack.add(Okta('Okta_Prod', domain='acme.okta.com', api_token=secret.env('TOK')))"),
     {}, ["field 'name'", "RFC 1123"]),
    ("name-too-long", stack("stack.add(Okta('o' * 58, domain='acme.okta.com', api_token=secret.env('TOK')))"),
     {}, ["field 'name'", "at most 57"]),
    ("duplicate-name", stack(f"stack.add({OKTA})", f"stack.add({OKTA})"),
     {}, ["stack 'prod'", "connector 'okta'", "duplicate connector name"]),
    ("stack-name", HEADER + "stack = Stack('Prod Stack')\n",
     {}, ["field 'name'", "stack name 'Prod Stack'"]),
    ("namespace", HEADER + "stack = Stack('prod', namespace='Identity_Connectors')\n",
     {}, ["stack 'prod'", "field 'namespace'", "RFC 1123"]),
    ("stack-unknown-setting", HEADER + "stack = Stack('prod', replicas=2)\n",
     {}, ["stack 'prod'", "field 'replicas'", "not a known setting"]),
    ("connector-replicas", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                                 "replicas=2))"),
     {}, ["field 'replicas'", "not a known setting"]),
    ("reserved-label", HEADER + "stack = Stack('prod', labels={'app.kubernetes.io/name': 'x'})\n",
     {}, ["field 'labels'", "set by iac"]),
    ("missing-env", stack(f"stack.add({OKTA})"),
     {}, ["stack 'prod'", "connector 'okta'", "field 'api_token'", "environment variable TOK is not set"]),
    ("empty-env", stack(f"stack.add({OKTA})"),
     {"TOK": ""}, ["field 'api_token'", "environment variable TOK is empty"]),
    ("missing-file", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.file('/nonexistent/tok')))"),
     {}, ["field 'api_token'", "secret file /nonexistent/tok does not exist"]),
    ("c1-secret-missing-env", HEADER + "stack = Stack('prod', conductorone=ConductorOne(client_id='id', "
                              "client_secret=secret.env('C1S')))\n" + f"stack.add({OKTA})\n",
     {"TOK": "x"}, ["connector 'okta'", "field 'conductorone.client_secret'", "C1S is not set"]),
    ("c1-secret-plain", HEADER + "stack = Stack('prod', conductorone=ConductorOne(client_id='id', "
                        "client_secret='sentinel-plain-c1'))\n",
     {}, ["field 'client_secret'", "is a secret"]),
    ("bad-env-secret-name", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('1TOK')))"),
     {}, ["secret.env() needs an environment variable name"]),
    ("kubernetes-ref-name", stack("stack.add(Celigo('celigo', access_token=secret.kubernetes('Bad_Name', 'k')))"),
     {}, ["secret.kubernetes() needs a Secret name"]),
    ("resources-quantity", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                                 "resources=Resources(requests={'memory': 'lots'})))"),
     {}, ["memory quantity 'lots'"]),
    ("rate-limit-share", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                               "rate_limit_share=1.5))"),
     {}, ["field 'rate_limit_share'", "less than or equal to 1"]),
    ("base-url-override", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                                "base_url_override='ftp://proxy'))"),
     {}, ["field 'base_url_override'", "absolute http(s) URL"]),
    ("custom-no-image", stack("stack.add(Custom('jira'))"),
     {}, ["connector 'jira'", "field 'image'", "is required"]),
    ("custom-reserved-env", stack("stack.add(Custom('jira', image='x/y:1', env={'BATON_PROVISIONING': 'true'}))"),
     {}, ["field 'env'", "BATON_PROVISIONING", "provisioning="]),
    ("custom-secret-plain", stack("stack.add(Custom('jira', image='x/y:1', secret_env={'BATON_TOKEN': 'sentinel-x'}))"),
     {}, ["field 'secret_env'", "plain string"]),
    ("custom-env-name", stack("stack.add(Custom('jira', image='x/y:1', env={'baton-domain': 'x'}))"),
     {}, ["field 'env'", "'baton-domain'"]),
    ("custom-both", stack("stack.add(Custom('jira', image='x/y:1', env={'BATON_X': 'a'}, "
                          "secret_env={'BATON_X': secret.env('X')}))"),
     {}, ["BATON_X is in both env and secret_env"]),
    ("hosting-unknown", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                              "hosting='saas'))"),
     {}, ["connector 'okta'", "field 'hosting'", "'self'", "'cloud'", "'saas'"]),
    ("cloud-image", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                          "hosting='cloud', image='registry.example.com/baton-okta:1'))"),
     {}, ["connector 'okta'", "field 'image'", "no meaning for a cloud-hosted connector", "hosting='self'"]),
    ("cloud-resources", stack("stack.add(Coupa('coupa', domain='acme.coupahost.com', client_id='c', "
                              "client_secret=secret.env('S'), hosting='cloud', resources=Resources()))"),
     {}, ["connector 'coupa'", "field 'resources'", "no meaning for a cloud-hosted connector"]),
    ("cloud-egress-ports", stack("stack.add(Celigo('celigo', access_token=secret.env('T'), hosting='cloud', "
                                 "egress_ports=(443, 8443)))"),
     {}, ["connector 'celigo'", "field 'egress_ports'", "no meaning for a cloud-hosted connector"]),
    ("cloud-base-url-override", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                                      "hosting='cloud', base_url_override='https://proxy.example.com'))"),
     {}, ["field 'base_url_override'", "no meaning for a cloud-hosted connector"]),
    ("cloud-own-credentials", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                                    "hosting='cloud', conductorone=ConductorOne(client_id='i', "
                                    "client_secret=secret.env('C1S'))))"),
     {}, ["field 'conductorone'", "no meaning for a cloud-hosted connector"]),
    ("cloud-no-c1-attribute", stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), "
                                    "hosting='cloud', skip_app_groups=True))"),
     {}, ["field 'skip_app_groups'", "conductorone_integration_okta_v2 has no attribute for it"]),
    ("cloud-cluster-secret", stack("stack.add(Celigo('celigo', access_token=secret.kubernetes('celigo', 'token'), "
                                   "hosting='cloud'))"),
     {}, ["connector 'celigo'", "field 'access_token'", "secret.kubernetes('celigo', 'token')", "secret.env(...)"]),
    ("custom-cloud", stack("stack.add(Custom('jira', image='x/y:1', hosting='cloud'))"),
     {}, ["connector 'jira'", "field 'hosting'", "custom connectors cannot be cloud-hosted"]),
    ("managed-owners-string", HEADER + "stack = Stack('prod', conductorone=ConductorOne.managed(owners='2u1'))\n",
     {}, ["field 'owners'", "not one string"]),
    ("managed-credentials-render", HEADER + "stack = Stack('prod', conductorone=ConductorOne.managed())\n"
                                   f"stack.add({OKTA})\n",
     {"TOK": "sentinel-tok"}, ["connector 'okta'", "field 'conductorone.client_id'", "created by Terraform",
                               "iac synth"]),
    ("add-not-connector", stack("stack.add('okta')"),
     {}, ["stack 'prod'", "stack.add() takes connectors"]),
    ("no-stack", HEADER + "s = Stack('prod')\n",
     {}, ["defines no module-level `stack`"]),
    ("stack-wrong-type", HEADER + "stack = {'name': 'prod'}\n",
     {}, ["`stack` is a dict, not an iac.Stack"]),
    ("syntax-error", HEADER + "stack = Stack('prod'\n",
     {}, ["syntax error"]),
    ("name-error", HEADER + "stack = Stak('prod')\n",
     {}, [":2:", "NameError", "Stak"]),
    ("import-error", "from iac import Okta2\n",
     {}, [":1:", "ImportError", "Okta2"]),
    ("upstream-image-restart-loop",
     stack("stack.add(Okta('okta', domain='acme.okta.com', api_token=secret.env('TOK'), image='ghcr.io/conductorone/baton-okta:v1'))"),
     {"TOK": "sentinel-token"}, ["connector 'okta'", "field 'image'", "restart it forever", "schedule='0 */6 * * *'"]),
    ("custom-image-restart-loop",
     stack("stack.add(Custom('jira', image='registry.example.com/baton-jira:1'))"),
     {}, ["connector 'jira'", "field 'image'", "syncs once and exits", "schedule="]),
    ("schedule-bad-minute", stack(f"stack.add({OKTA[:-1]}, schedule='61 * * * *'))"),
     {}, ["connector 'okta'", "field 'schedule'", "not a cron expression"]),
    ("schedule-four-fields", stack(f"stack.add({OKTA[:-1]}, schedule='0 */6 * *'))"),
     {}, ["field 'schedule'", "five fields"]),
    ("storage-size", stack(f"stack.add({OKTA[:-1]}, storage=Storage(size='lots')))"),
     {}, ["field 'size'", "storage quantity"]),
    ("storage-class", stack(f"stack.add({OKTA[:-1]}, storage=Storage(storage_class='Fast SSD')))"),
     {}, ["field 'storage_class'", "DNS subdomain"]),
    ("image-sdk-without-image", stack(f"stack.add({OKTA[:-1]}, image_sdk='0.25'))"),
     {}, ["connector 'okta'", "field 'image_sdk'", "set image="]),
    ("image-sdk-format", stack(f"stack.add({OKTA[:-1]}, image='x/y:1', image_sdk='v0.25.0'))"),
     {}, ["field 'image_sdk'", "like '0.25'"]),
    ("storage-engine-value", stack(f"stack.add({OKTA[:-1]}, image='x/y:1', image_sdk='0.25', storage_engine='v3'))"),
     {}, ["connector 'okta'", "field 'storage_engine'", "'sqlite' or 'pebble'"]),
    ("storage-engine-old-sdk", stack(f"stack.add({OKTA[:-1]}, image='x/y:1', image_sdk='0.2', storage_engine='pebble'))"),
     {}, ["connector 'okta'", "field 'storage_engine'", "baton-sdk >= 0.25"]),
    ("kubernetes-version-old", "from iac import *\nstack = Stack('prod', kubernetes_version='1.19')\n",
     {}, ["field 'kubernetes_version'", "1.20 or newer"]),
]


@pytest.mark.parametrize(("source", "env", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_stack_gives_one_line_and_exit_2(tmp_path: Path, run_iac: RunIac, source: str, env: dict[str, str],
                                              expected: list[str]) -> None:
    stack_file = tmp_path / "stack.py"
    stack_file.write_text(textwrap.dedent(source))
    out_dir = tmp_path / "out"
    result = run_iac("render", str(stack_file), "-o", str(out_dir), env=env)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in expected:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    assert "sentinel" not in result.stderr + result.stdout
    assert result.stdout == ""
    assert not out_dir.exists(), "nothing may be written on error"


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("args", [
    ("render", "does-not-exist.py"),
    ("validate", "does-not-exist.py"),
])
def test_missing_stack_file(run_iac: RunIac, args: tuple[str, ...]) -> None:
    result = run_iac(*args)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: stack file does-not-exist.py does not exist"


def test_directory_and_non_python_stack(tmp_path: Path, run_iac: RunIac) -> None:
    result = run_iac("render", str(tmp_path))
    assert result.returncode == 2 and "is a directory" in result.stderr
    yaml_file = tmp_path / "stack.yaml"
    yaml_file.write_text("name: prod\n")
    result = run_iac("render", str(yaml_file))
    assert result.returncode == 2 and "must be a Python file" in result.stderr


def test_unknown_integration_in_explain(run_iac: RunIac) -> None:
    result = run_iac("explain", "jira")
    assert result.returncode == 2
    assert "unknown integration 'jira'; known: okta, coupa, concur, celigo, custom" in result.stderr


def test_error_line_names_the_line_of_the_stack_file(tmp_path: Path, run_iac: RunIac) -> None:
    stack_file = tmp_path / "stack.py"
    stack_file.write_text(stack("", "", "stack.add(Okta('okta', domain='x', api_token=secret.env('TOK')))"))
    result = run_iac("validate", str(stack_file))
    assert result.returncode == 2
    assert f"{stack_file}:5: stack 'prod', connector 'okta', field 'domain'" in result.stderr
