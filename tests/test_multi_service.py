"""Several services in one environment (``services:``): the stacks the generator writes for them.

Checked on the committed sample (out/apps: web on the ``ecs`` engine, api on ``codedeploy``, routed
by host name) and on variants generated here: a third service on the ``cloudformation`` engine with
listeners of its own behind HTTPS, and services added to the sample. Oracles independent of the
generator's own reading where there are any: params/apps.yaml read as plain YAML, and the resource
schemas bundled with cfn-lint (AWS's CloudFormation registry schemas). out/apps being current is
covered by tests/test_generate.py::test_out_is_current (``fargate-generate --check`` over every
params file, apps.yaml included).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from blueprints import environment, naming
from blueprints.config import load_environment
from blueprints.config.routing import MAX_CONDITION_VALUES, MAX_PRIORITY
from tests.helpers import OUT, PARAMS, lint, multi_service_environments, resources, role_statements
from tests.test_pipeline import _resource_types

CERT = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
SECURITY_GROUP = "AWS::EC2::SecurityGroup"


def sample() -> dict:
    return yaml.safe_load((PARAMS / "apps.yaml").read_text())


def committed() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((OUT / "apps").iterdir())}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "apps.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def build(tmp_path: Path, data: dict) -> dict[str, str]:
    """Every file of out/apps/ for these params, in-process (blueprints.environment.files)."""
    return environment.files(load_environment(write(tmp_path, data), "params/apps.yaml"))


def three_services() -> dict:
    """The sample plus "batch" on the cloudformation engine (listeners of its own on 8444/9444),
    everything behind HTTPS."""
    data = sample()
    data["load_balancer"].update(certificate_arn=CERT, production_port=443, test_port=8443)
    batch = copy.deepcopy(data["services"]["api"])
    del batch["routing"]
    batch.update(
        deployment_engine="cloudformation",
        container_name="batch",
        container_port=8000,
        production_port=8444,
        test_port=9444,
    )
    batch["pipeline"]["github_repository"] = "webapp-batch"
    data["services"]["batch"] = batch
    return data


@pytest.fixture(scope="module")
def variant(tmp_path_factory) -> dict[str, str]:
    return build(tmp_path_factory.mktemp("three"), three_services())


def body(files: dict[str, str], stack: str) -> dict[str, Any]:
    return json.loads(files[f"{stack}.json"])


def stacks(files: dict[str, str]) -> list[dict[str, Any]]:
    return json.loads(files["stacks.json"])["stacks"]


def statements(template: dict, role: str):
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_apps_is_the_sample_with_several_services():
    assert multi_service_environments() == ["apps"]


# --- the manifest ----------------------------------------------------------------------------


def test_the_sample_has_a_platform_and_stacks_per_service():
    entries = stacks(committed())
    assert [s["name"] for s in entries] == [
        "network",
        "platform",
        "service-web",
        "pipeline-web",
        "service-api",
        "pipeline-api",
    ]
    assert [s["stack_name"] for s in entries] == [f"webapp-apps-{s['name']}" for s in entries]
    depends = {s["name"]: s["depends_on"] for s in entries}
    assert depends == {
        "network": [],
        "platform": ["network"],
        "service-web": ["network", "platform"],
        "pipeline-web": ["service-web"],
        "service-api": ["network", "platform"],
        "pipeline-api": ["service-api"],
    }


@pytest.mark.parametrize("tree", ["committed", "variant"])
def test_manifest_order_and_wiring_are_consistent(tree, request):
    files = committed() if tree == "committed" else request.getfixturevalue("variant")
    seen: set[str] = set()
    for entry in stacks(files):
        template = body(files, entry["name"])
        wired = entry["parameters_from_outputs"]
        # Every parameter has exactly one source, and the static ones are in the parameters file.
        assert set(entry["parameters"]) | set(wired) == set(template.get("Parameters", {})), entry["name"]
        assert not set(entry["parameters"]) & set(wired)
        values = {p["ParameterKey"]: p["ParameterValue"] for p in json.loads(files[entry["parameters_file"]])}
        assert values == entry["parameters"]
        # Dependencies come first, and every wired output exists in the named stack's template.
        assert set(entry["depends_on"]) <= seen, (entry["name"], entry["depends_on"])
        assert {ref["stack"] for ref in wired.values()} <= set(entry["depends_on"])
        for key, ref in wired.items():
            outputs = body(files, ref["stack"]).get("Outputs", {})
            assert ref["output"] in outputs, (entry["name"], key, ref)
        seen.add(entry["name"])
    for name in [s["name"] for s in stacks(files) if s["name"].startswith("pipeline-")]:
        released = "service-" + name.removeprefix("pipeline-")
        assert released in next(s for s in stacks(files) if s["name"] == name)["depends_on"]


# --- the platform stack ------------------------------------------------------------------------


def test_the_shared_listeners_answer_404_by_default():
    platform = body(committed(), "platform")
    listeners = resources(platform, LISTENER)
    assert sorted(listeners) == ["ProductionListener", "TestListener"]
    assert sorted(p["Port"] for p in listeners.values()) == [80, 8080]
    for props in listeners.values():
        (action,) = props["DefaultActions"]
        assert action["Type"] == "fixed-response"
        assert action["FixedResponseConfig"]["StatusCode"] == "404"


def test_with_https_the_platform_adds_only_the_redirect_listener(variant):
    listeners = resources(body(variant, "platform"), LISTENER)
    by_port = {p["Port"]: p for p in listeners.values()}
    assert sorted(by_port) == [80, 443, 8443]
    assert by_port[80]["DefaultActions"][0]["Type"] == "redirect"
    for port in (443, 8443):
        assert by_port[port]["Protocol"] == "HTTPS"
        assert by_port[port]["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"] == "404"


# --- each service's rules ----------------------------------------------------------------------


def expected_conditions(routing: dict) -> list[dict]:
    conditions = []
    if routing.get("path_patterns"):
        conditions.append({"Field": "path-pattern", "PathPatternConfig": {"Values": routing["path_patterns"]}})
    if routing.get("host_headers"):
        conditions.append({"Field": "host-header", "HostHeaderConfig": {"Values": routing["host_headers"]}})
    return conditions


@pytest.mark.parametrize("name", ["web", "api"])
def test_each_service_has_its_route_on_both_shared_listeners(name):
    routing = sample()["services"][name]["routing"]
    rules = resources(body(committed(), f"service-{name}"), RULE)
    assert sorted(rules) == ["ProductionListenerRule", "TestListenerRule"]
    for logical_id, listener in (
        ("ProductionListenerRule", "ProductionListenerArn"),
        ("TestListenerRule", "TestListenerArn"),
    ):
        rule = rules[logical_id]
        assert rule["ListenerArn"] == {"Ref": listener}
        assert rule["Priority"] == routing["priority"]
        assert rule["Conditions"] == expected_conditions(routing)
        (action,) = rule["Actions"]
        assert action["Type"] == "forward"


def test_rule_priorities_are_unique_on_each_shared_listener(variant):
    for listener in ("ProductionListenerArn", "TestListenerArn"):
        priorities = [
            rule["Priority"]
            for entry in stacks(variant)
            if entry["name"].startswith("service-")
            for rule in resources(body(variant, entry["name"]), RULE).values()
            if rule["ListenerArn"] == {"Ref": listener}
        ]
        assert len(priorities) == 2 and len(set(priorities)) == len(priorities), priorities


def test_the_ecs_service_may_rewrite_only_its_own_rules():
    template = body(committed(), "service-web")
    granted = [
        s for s in statements(template, "EcsLoadBalancerRole") if "elasticloadbalancing:ModifyRule" in actions(s)
    ]
    assert [s["Resource"] for s in granted] == [[{"Ref": "ProductionListenerRule"}, {"Ref": "TestListenerRule"}]]
    # Other services' rules change only through ModifyRule; ModifyListener (kept as in AWS's managed
    # policy) reaches only the two shared listeners' own settings.
    listeners = [
        s["Resource"]
        for s in statements(template, "EcsLoadBalancerRole")
        if "elasticloadbalancing:ModifyListener" in actions(s)
    ]
    assert listeners == [[{"Ref": "ProductionListenerArn"}, {"Ref": "TestListenerArn"}]]
    # Scoping them this way works only because IAM takes resource-level permissions for both: rules
    # for ModifyRule, listeners for ModifyListener (Service Authorization Reference, bundled with cfn-lint).
    assert "listener-rule/app" in _resource_types("elasticloadbalancing:ModifyRule")
    assert "listener/app" in _resource_types("elasticloadbalancing:ModifyListener")
    every_action = [a for _, s in role_statements(template) for a in actions(s)]
    assert not any(a in ("elasticloadbalancing:*", "*") for a in every_action)


def test_the_codedeploy_role_may_rewrite_only_its_own_rules():
    template = body(committed(), "service-api")
    granted = [
        s for s in statements(template, "CodeDeployServiceRole") if "elasticloadbalancing:ModifyRule" in actions(s)
    ]
    assert [s["Resource"] for s in granted] == [[{"Ref": "ProductionListenerRule"}, {"Ref": "TestListenerRule"}]]
    assert "listener-rule/app" in _resource_types("elasticloadbalancing:ModifyRule")
    group = next(iter(resources(template, "AWS::CodeDeploy::DeploymentGroup").values()))
    info = group["LoadBalancerInfo"]["TargetGroupPairInfoList"][0]
    assert info["ProdTrafficRoute"]["ListenerArns"] == [{"Ref": "ProductionListenerArn"}]
    assert info["TestTrafficRoute"]["ListenerArns"] == [{"Ref": "TestListenerArn"}]


# --- a service with listeners of its own (engine cloudformation) --------------------------------


def test_a_cloudformation_service_gets_listeners_of_its_own_on_the_shared_load_balancer(variant):
    template = body(variant, "service-batch")
    assert template["Transform"] == ["AWS::CodeDeployBlueGreen"]
    listeners = resources(template, LISTENER)
    assert {p["Port"]: p["Protocol"] for p in listeners.values()} == {8444: "HTTPS", 9444: "HTTPS"}
    for props in listeners.values():
        assert props["LoadBalancerArn"] == {"Ref": "LoadBalancerArn"}
        assert props["Certificates"] == [{"CertificateArn": CERT}]
        assert props["DefaultActions"] == [{"TargetGroupArn": {"Ref": "BlueTargetGroup"}, "Type": "forward"}]
    # The hook's traffic routes are these listeners (by logical ID, in the same template).
    routing = template["Hooks"]["CodeDeployBlueGreenHook"]["Properties"]["TrafficRoutingConfig"]
    hook = template["Hooks"]["CodeDeployBlueGreenHook"]["Properties"]["Applications"][0]["ECSAttributes"]
    # batch's deployment_config AllAtOnce; the hook's Type values are AllAtOnce, TimeBasedCanary and
    # TimeBasedLinear (AWS::CodeDeployBlueGreen hook reference, TrafficRoutingConfig).
    assert routing == {"Type": "AllAtOnce"}
    # Production traffic moves on batch's own production port, test traffic on its test port.
    for route, port in (("ProdTrafficRoute", 8444), ("TestTrafficRoute", 9444)):
        target = hook["TrafficRouting"][route]
        assert target["Type"] == LISTENER
        assert listeners[target["LogicalID"]]["Port"] == port, (route, target)
    # Nothing of it is on the shared listeners.
    assert "ProductionListenerArn" not in template["Parameters"]
    assert not [r for r in resources(template, RULE).values() if r["ListenerArn"] == {"Ref": "ProductionListenerArn"}]
    entry = next(s for s in stacks(variant) if s["name"] == "service-batch")
    assert entry["parameters_from_outputs"]["LoadBalancerArn"] == {"output": "LoadBalancerArn", "stack": "platform"}


def test_the_platform_opens_the_ports_of_a_service_with_listeners_of_its_own(variant):
    groups = resources(body(variant, "platform"), SECURITY_GROUP)
    ingress = groups["LoadBalancerSecurityGroup"]["SecurityGroupIngress"]
    from_anywhere = sorted(r["FromPort"] for r in ingress if r.get("CidrIp") == "0.0.0.0/0")
    from_hooks = sorted(
        r["FromPort"] for r in ingress if r.get("SourceSecurityGroupId") == {"Ref": "HookSecurityGroup"}
    )
    assert from_anywhere == [80, 443, 8444]
    assert from_hooks == [8443, 9444]
    hook_egress = sorted(r["FromPort"] for r in groups["HookSecurityGroup"]["SecurityGroupEgress"])
    assert hook_egress == [443, 8443, 9444]
    # ...and reaches every service's container port.
    egress = sorted(r["FromPort"] for r in groups["LoadBalancerSecurityGroup"]["SecurityGroupEgress"])
    assert egress == [80, 8000]


@pytest.mark.slow
def test_every_template_of_three_engines_is_lint_clean(variant, tmp_path):
    folder = tmp_path / "apps"
    folder.mkdir()
    for name, text in variant.items():
        (folder / name).write_text(text)
    templates = [folder / f"{s['name']}.json" for s in stacks(variant)]
    assert len(templates) == 8
    result = lint("--no-cache", *map(str, templates))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 finding(s)" in result.stderr


# --- day 2: adding a service ---------------------------------------------------------------------


def _added(data: dict, name: str, routing: dict, **changes: Any) -> dict:
    entry = copy.deepcopy(data["services"]["api"])
    entry.update(routing=routing, container_name=name, **changes)
    entry["pipeline"]["github_repository"] = f"webapp-{name}"
    data["services"][name] = entry
    return data


def _shape(template: dict) -> dict:
    """What CloudFormation creates or changes: resources and outputs (not the Description)."""
    return {"Resources": template["Resources"], "Outputs": template.get("Outputs", {})}


def test_adding_a_service_leaves_the_platform_and_the_other_services_alone(tmp_path):
    files = build(tmp_path, _added(sample(), "admin", {"host_headers": ["admin.example.com"]}))
    assert [s["name"] for s in stacks(files)][-2:] == ["service-admin", "pipeline-admin"]
    before = committed()
    assert _shape(body(files, "platform")) == _shape(json.loads(before["platform.json"]))
    for name in ("network", "service-web", "pipeline-web", "service-api", "pipeline-api"):
        assert files[f"{name}.json"] == before[f"{name}.json"], name
    # Its derived priority is 10 x its position: 30.
    assert resources(body(files, "service-admin"), RULE)["ProductionListenerRule"]["Priority"] == 30


def test_a_service_with_a_new_container_port_changes_the_platforms_egress(tmp_path):
    files = build(tmp_path, _added(sample(), "admin", {"host_headers": ["admin.example.com"]}, container_port=9000))
    old = resources(json.loads(committed()["platform.json"]), SECURITY_GROUP)
    new = resources(body(files, "platform"), SECURITY_GROUP)
    assert new["HookSecurityGroup"] == old["HookSecurityGroup"]
    assert (
        new["LoadBalancerSecurityGroup"]["SecurityGroupIngress"]
        == old["LoadBalancerSecurityGroup"]["SecurityGroupIngress"]
    )
    ports = sorted(r["FromPort"] for r in new["LoadBalancerSecurityGroup"]["SecurityGroupEgress"])
    assert ports == [80, 9000]


def test_names_of_a_service_are_its_own(variant, tmp_path):
    config = load_environment(write(tmp_path, three_services()), "params/apps.yaml")
    names = [naming.all_names(member) for member in config.members()]
    for kind in ("service", "task_family", "log_group", "repository", "hook_function", "target_group", "pipeline"):
        values = [n[kind] for n in names]
        assert len(set(values)) == len(values), (kind, values)
    # What the services share.
    assert {n["cluster"] for n in names} == {"webapp-apps"}
    assert {n["load_balancer"] for n in names} == {"webapp-apps-alb"}
    assert (
        resources(body(variant, "platform"), "AWS::ElasticLoadBalancingV2::LoadBalancer")["LoadBalancer"]["Name"]
        == "webapp-apps-alb"
    )


# --- oracles: the resource schemas bundled with cfn-lint ------------------------------------------


def _schema(kind: str) -> dict:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    return PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", kind).schema


def test_rule_limits_agree_with_the_listener_rule_schema():
    # AWS::ElasticLoadBalancingV2::ListenerRule: Priority 1-50000 (also API RulePriorityPair), conditions
    # with HostHeaderConfig and PathPatternConfig; path Values at most 5 (the ALB quota "condition values
    # per rule" is 5 as well); the host name rule params enforce is the one the schema documents.
    schema = _schema(RULE)
    assert (schema["properties"]["Priority"]["minimum"], schema["properties"]["Priority"]["maximum"]) == (
        1,
        MAX_PRIORITY,
    )
    condition = schema["definitions"]["RuleCondition"]["properties"]
    assert {"Field", "HostHeaderConfig", "PathPatternConfig"} <= set(condition)
    paths = schema["definitions"]["PathPatternConfig"]["properties"]["Values"]
    assert paths["maxItems"] == MAX_CONDITION_VALUES
    hosts = schema["definitions"]["HostHeaderConfig"]["properties"]["Values"]["description"]
    assert 'You must include at least one "." character' in hosts
    assert 'only alphabetical characters after the final "." character' in hosts


def test_the_404_default_action_fits_the_listener_schema():
    schema = _schema(LISTENER)
    assert "fixed-response" in schema["definitions"]["Action"]["properties"]["Type"]["enum"]
    assert re.match(schema["definitions"]["FixedResponseConfig"]["properties"]["StatusCode"]["pattern"], "404")
