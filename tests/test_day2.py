"""Day-2 safety: every update AWS would reject, or that would cut traffic, is refused before anything runs,
with what to do instead. Rules from the resource schemas bundled with cfn-lint and the ECS API reference
(deployer.update_rules), the live routing (deployer.routing) with botocore's Stubber and the documented
DescribeStackResources / DescribeListeners / DescribeTargetHealth shapes; moto reports no Replacement."""

from __future__ import annotations

import json

from botocore.stub import Stubber

from deployer import commands, day2, policy, render, routing, update_rules
from deployer.changesets import Options
from deployer.context import Context
from deployer.manifest import Manifest
from deployer.plans import ChangeKind
from deployer.reporter import Reporter
from tests.helpers import ROOT, moto_change, update_plan, variant
from tests.helpers import fast_waiter as _fast_waiter
from tests.helpers import stub_client as _cfn
from tests.test_deploy_stubbed import NOW

PORT = {r"container_port: 80 ": "container_port: 8081 "}
ZONES = {r"availability_zones: 2": "availability_zones: 3"}
ENGINE_ECS = {r"^  deployment_config: AllAtOnce.*$": "  deployment_config: AllAtOnce\n  deployment_engine: ecs"}
CIDR = {r"vpc_cidr: 10.20.0.0/16": "vpc_cidr: 10.30.0.0/16"}
CERT = {r"certificate/0000": "certificate/1111"}


def _lines(refusals):
    return "\n".join(render.refusal_lines(refusals))


def test_name_properties_are_create_only_in_the_bundled_schemas():
    for kind, prop in update_rules.NAME_PROPERTIES.items():
        always, _ = update_rules.create_only(kind, "eu-west-1")
        assert prop in always, kind
    assert "Port" in update_rules.create_only("AWS::ElasticLoadBalancingV2::TargetGroup", "eu-west-1")[0]
    assert update_rules.create_only("AWS::Not::AType", "eu-west-1") == ((), ())


def test_replacement_spreads_to_what_refers_to_a_replaced_resource():
    old = {"Resources": {"A": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Ref": "Cidr"}}}}}
    old["Resources"]["B"] = {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "A"}}}
    updates = update_rules.resource_updates(old, old, {"Cidr": "10.0.0.0/16"}, {"Cidr": "10.1.0.0/16"}, "eu-west-1")
    assert [(u.logical_id, u.replaced_by) for u in updates] == [("A", ("CidrBlock",)), ("B", ("VpcId",))]
    assert update_rules.resource_updates(old, old, {"Cidr": "x"}, {"Cidr": "x"}, "eu-west-1") == []


def test_container_port_replaces_the_named_target_groups_and_is_refused_even_when_allowed(tmp_path):
    plan = update_plan("dev", "service", variant(tmp_path, "dev", PORT))
    found = policy.refusals([plan], allow_replacement=True, env="dev")
    text = _lines(found)
    assert {r.rule for r in found} == {policy.Rule.NAMED_REPLACEMENT, policy.Rule.SERVICE_UPDATE}
    assert "would replace BlueTargetGroup (AWS::ElasticLoadBalancingV2::TargetGroup: Port can only be set" in text
    assert "custom Name webapp-dev-blue" in text and "GreenTargetGroup" in text
    assert "cannot update a stack when a custom-named resource requires replacing" in text
    assert "fargate-deploy destroy --env dev --stack service" in text
    assert "would change LoadBalancers of ECS service Service, whose CODE_DEPLOY deployment controller" in text
    shown = "\n".join(render.plan_lines(plan))
    assert "!! replaces BlueTargetGroup (Port changes) under its custom name webapp-dev-blue" in shown


def test_vpc_cidr_change_is_a_stateful_replacement_although_the_change_set_does_not_say_so(tmp_path):
    plan = update_plan("dev", "network", variant(tmp_path, "dev", CIDR), [moto_change("Vpc", "AWS::EC2::VPC")])
    assert policy.stateful_changes(plan.changes) == []  # Replacement not reported
    found = policy.refusals([plan], allow_replacement=False, env="dev")
    assert [r.rule for r in found] == [policy.Rule.STATEFUL]
    assert "--allow-replacement" in _lines(found)
    shown = "\n".join(render.plan_lines(plan))
    assert "!! replaces stateful AWS::EC2::VPC Vpc (CidrBlock changes; worked out from the templates" in shown
    assert "!! replaces stateful AWS::EC2::Subnet PrivateSubnet1" in shown
    assert policy.refusals([plan], allow_replacement=True, env="dev") == []


def test_engine_switch_changes_the_deployment_controller_and_is_refused_with_the_procedure(tmp_path):
    plan = update_plan("dev", "service", variant(tmp_path, "dev", ENGINE_ECS))
    found = policy.refusals([plan], allow_replacement=True, env="dev")
    text = _lines(found)
    assert [r.rule for r in found] == [policy.Rule.SERVICE_UPDATE]
    assert "would change DeploymentController, LoadBalancers of ECS service Service, whose CODE_DEPLOY" in text
    assert "Deploy the new engine as a new environment" in text
    assert "Migrate CodeDeploy blue/green deployments to Amazon ECS blue/green deployments" in text


def test_adding_a_zone_on_codedeploy_refuses_the_service_before_the_network_is_applied(tmp_path):
    out = variant(tmp_path, "dev", ZONES)
    network = update_plan("dev", "network", out)
    service = update_plan("dev", "service", out)  # planned with today's outputs: no change of its own
    assert policy.refusals([service], allow_replacement=False, env="dev") == []
    found = policy.refusals([network, service], allow_replacement=False, env="dev")
    text = _lines(found)
    assert [(r.stack, r.rule) for r in found] == [("webapp-dev-service", policy.Rule.SERVICE_UPDATE)]
    assert "would change NetworkConfiguration of ECS service Service, whose CODE_DEPLOY" in text
    assert "fargate-deploy apply --env dev --stack network" in text
    assert "AppSpec sets TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets" in text
    assert policy.day2_findings(service, [network, service]).upstream == ("PrivateSubnetIds", "PublicSubnetIds")


def test_adding_a_zone_on_cloudformation_mixes_a_green_deployment_with_other_changes(tmp_path):
    out = variant(tmp_path, "staging", ZONES)
    service = update_plan("staging", "service", out, PrivateSubnetIds="subnet-p1,subnet-p2,subnet-p3")
    for deployed in service.stack["Parameters"]:  # the deployed stack has the two zones' subnets
        if deployed["ParameterKey"] == "PrivateSubnetIds":
            deployed["ParameterValue"] = "subnet-p1,subnet-p2"
    found = policy.refusals([service], allow_replacement=False, env="staging")
    text = _lines(found)
    assert [r.rule for r in found] == [policy.Rule.BLUE_GREEN]
    assert "would start a green deployment (BlueTaskSet) and change other resources" in text
    assert "ValidationHookFunction" in text
    assert "Two steps: 1) apply the network alone (fargate-deploy apply --env staging --stack network)" in text


def test_misroute_is_found_only_when_the_template_target_serves_nothing():
    template = json.loads((ROOT / "out" / "dev" / "service.json").read_text())
    live = {
        "physical": {"ProductionListener": "arn:l", "BlueTargetGroup": "arn:blue", "GreenTargetGroup": "arn:green"},
        "actions": {"arn:l": [{"Type": "forward", "TargetGroupArn": "arn:green"}]},
        "healthy": {"arn:blue": 0, "arn:green": 2},
    }
    [found] = routing.misroutes(template, ["ProductionListener"], live)
    assert found == routing.Misroute(
        "ProductionListener", ("BlueTargetGroup",), ("GreenTargetGroup",), ("BlueTargetGroup",)
    )
    assert routing.misroutes(template, ["ProductionListener"], {**live, "healthy": {"arn:blue": 1}}) == []
    same = {**live, "actions": {"arn:l": [{"Type": "forward", "TargetGroupArn": "arn:blue"}]}}
    assert routing.misroutes(template, ["ProductionListener"], same) == []
    preview = json.loads((ROOT / "out" / "preview" / "service.json").read_text())
    rule = {
        "physical": {"ProductionListenerRule": "arn:r", "BlueTargetGroup": "arn:blue", "GreenTargetGroup": "arn:green"}
    }
    weighted = [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": "arn:blue", "Weight": 0},
                    {"TargetGroupArn": "arn:green", "Weight": 100},
                ]
            },
        }
    ]
    rule |= {"actions": {"arn:r": weighted}, "healthy": {"arn:green": 1}}
    assert [m.logical_id for m in routing.misroutes(preview, ["ProductionListenerRule"], rule)] == [
        "ProductionListenerRule"
    ]


class _Aws:
    def __init__(self, cfn, elbv2):
        self._clients = {"cloudformation": cfn, "elbv2": elbv2}

    def cfn(self, region):
        return self._clients["cloudformation"]

    def client(self, service, region):
        return self._clients[service]

    def template_source(self, entry, body, bucket):
        return {"TemplateBody": body}


def test_certificate_change_after_a_release_is_refused_because_blue_serves_nothing(tmp_path, capsys):
    """prod after one CodeDeploy release: the production listener forwards to green; the certificate change
    sends the listener's actions again as the template writes them, to blue, which has no target. The
    change set itself is planned as usual (stood in for here); apply reads the deployed template and the
    live routing, refuses, and deletes the change set."""
    plan = update_plan("prod", "service", variant(tmp_path, "prod", CERT))
    plan.change_set["Changes"] = [moto_change(lid, routing.LISTENER) for lid in ("ProductionListener", "TestListener")]
    cfn = _cfn()
    elbv2 = _cfn("elbv2")
    ctx = Context(
        Manifest("prod", None, [plan.entry], [plan.entry]),
        _Aws(cfn, elbv2),
        Options(),
        _fast_waiter(),
        yes=True,
        reporter=Reporter(),
    )
    discarded = []
    ctx.planner.plan = lambda entry: plan  # type: ignore[method-assign]
    ctx.planner.discard = lambda p, force=False: discarded.append((p.entry.name, force))  # type: ignore[method-assign]
    arn = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:"
    listener, test_listener = f"{arn}listener/app/webapp-prod-alb/1/p", f"{arn}listener/app/webapp-prod-alb/1/t"
    blue, green = f"{arn}targetgroup/webapp-prod-blue/1", f"{arn}targetgroup/webapp-prod-green/2"
    physical = [
        ("ProductionListener", listener, routing.LISTENER),
        ("TestListener", test_listener, routing.LISTENER),
        ("BlueTargetGroup", blue, routing.TARGET_GROUP),
        ("GreenTargetGroup", green, routing.TARGET_GROUP),
    ]
    name = plan.entry.stack_name

    def forward(target):
        return [{"Type": "forward", "TargetGroupArn": target, "Order": 1}]

    with Stubber(cfn) as cfn_stub, Stubber(elbv2) as elb_stub:
        # No GetTemplate: the plan holds the deployed template the planner read (update_plan sets it).
        cfn_stub.add_response(
            "describe_stack_resources",
            {
                "StackResources": [
                    {
                        "StackName": name,
                        "LogicalResourceId": lid,
                        "PhysicalResourceId": pid,
                        "ResourceType": kind,
                        "Timestamp": NOW,
                        "ResourceStatus": "UPDATE_COMPLETE",
                    }
                    for lid, pid, kind in physical
                ]
            },
            {"StackName": name},
        )
        elb_stub.add_response(
            "describe_listeners",
            {
                "Listeners": [
                    {"ListenerArn": listener, "Port": 443, "Protocol": "HTTPS", "DefaultActions": forward(green)},
                    {"ListenerArn": test_listener, "Port": 8443, "Protocol": "HTTPS", "DefaultActions": forward(green)},
                ]
            },
            {"ListenerArns": [listener, test_listener]},
        )
        elb_stub.add_response("describe_target_health", {"TargetHealthDescriptions": []}, {"TargetGroupArn": blue})
        elb_stub.add_response(
            "describe_target_health",
            {
                "TargetHealthDescriptions": [
                    {"Target": {"Id": "10.0.1.5", "Port": 80}, "TargetHealth": {"State": "healthy"}}
                ]
            },
            {"TargetGroupArn": green},
        )
        code = commands.apply(ctx)
        cfn_stub.assert_no_pending_responses()
        elb_stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert code == 1 and discarded == [("service", True)]  # refused: the change set is deleted, never executed
    assert "!! ProductionListener would forward to BlueTargetGroup (no healthy target); live: GreenTargetGroup" in out
    assert (
        "Refused: webapp-prod-service would set ProductionListener to forward to BlueTargetGroup as the template says, "
        "but a blue/green release moved its traffic to GreenTargetGroup and BlueTargetGroup has no healthy target"
    ) in out
    assert "Release once more" in out


def test_inspect_reads_nothing_for_a_create():
    plan = update_plan("dev", "service", ROOT / "out")
    plan.kind = ChangeKind.CREATE
    assert day2.inspect(None, plan) is plan  # type: ignore[arg-type]  # returns before any AWS call
    assert plan.live_routing is None


def _apply_refused(plans, monkeypatch, capsys, env):
    """apply on ``plans`` (their day-2 facts already read): exit code, output, discarded change sets."""
    cfn = _cfn()
    ctx = Context(
        Manifest(env, None, [p.entry for p in plans], [p.entry for p in plans]),
        _Aws(cfn, None),
        Options(),
        _fast_waiter(),
        yes=True,
        reporter=Reporter(),
    )
    by_name = {p.entry.name: p for p in plans}
    monkeypatch.setattr(commands, "_plan_one", lambda ctx, entry: by_name[entry.name])
    discarded = []
    ctx.planner.discard = lambda p, force=False: discarded.append(p.entry.name)  # type: ignore[method-assign]
    code = commands.apply(ctx)
    return code, capsys.readouterr().out, discarded


def test_apply_refuses_a_zone_on_codedeploy_and_an_engine_switch_with_exit_1(tmp_path, monkeypatch, capsys):
    """The scenarios above end where apply ends: exit 1, the refusal with its procedure, every change set
    deleted and none executed (the executor is never reached: the Stubber has no responses)."""
    zones = variant(tmp_path / "zones", "dev", ZONES)
    plans = [update_plan("dev", "network", zones), update_plan("dev", "service", zones)]
    code, out, discarded = _apply_refused(plans, monkeypatch, capsys, "dev")
    assert code == 1 and sorted(discarded) == ["network", "service"]
    assert "Refused:" in out and "fargate-deploy apply --env dev --stack network" in out

    switch = variant(tmp_path / "engine", "dev", ENGINE_ECS)
    code, out, discarded = _apply_refused([update_plan("dev", "service", switch)], monkeypatch, capsys, "dev")
    assert code == 1 and discarded == ["service"]
    assert "Deploy the new engine as a new environment" in out
