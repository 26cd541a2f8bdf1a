"""The cloudformation and ecs engines: generated structure, the limits of the blue/green transform,
least-privilege roles, the hook's contract per engine, and params validation of engine settings."""

from __future__ import annotations

import json
import re

import pytest

from blueprints import naming
from blueprints.config import EnvironmentConfig, ParamsError, load_environment
from blueprints.stacks import service
from tests.helpers import OUT, copy_params, edit_params, environments, role_statements, template
from tests.test_pipeline import _resource_types


def _config(**service_overrides) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {
            "project": "shop",
            "environment": "test",
            "region": "eu-west-1",
            "network": {"vpc_cidr": "10.0.0.0/16", "subnet_prefix_length": 20},
            "service": service_overrides,
        }
    )


def _build(**service_overrides) -> dict:
    return service.build(_config(**service_overrides)).to_dict()


def _of_type(body: dict, kind: str) -> dict:
    return {k: v for k, v in body["Resources"].items() if v["Type"] == kind}


def _statements(body: dict, role: str) -> list[dict]:
    props = body["Resources"][role]["Properties"]
    return [s for policy in props.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def _manifest_entry(env: str) -> dict:
    manifest = json.loads((OUT / env / "stacks.json").read_text())
    return next(s for s in manifest["stacks"] if s["name"] == "service")


def test_each_engine_has_a_sample_environment():
    assert environments("codedeploy") and environments("cloudformation") and environments("ecs")


# --- cloudformation ---------------------------------------------------------------------------

CFN_ENVS = environments("cloudformation")


@pytest.mark.parametrize("env", CFN_ENVS)
def test_cloudformation_template_declares_the_transform_and_one_hook(env):
    body = template(env, "service")
    assert body["Transform"] == ["AWS::CodeDeployBlueGreen"]
    assert list(body["Hooks"]) == ["CodeDeployBlueGreenHook"]
    hook = body["Hooks"]["CodeDeployBlueGreenHook"]
    assert hook["Type"] == "AWS::CodeDeploy::BlueGreen"
    props = hook["Properties"]
    config = load_environment(OUT.parent / "params" / f"{env}.yaml")
    assert props["LifecycleEventHooks"] == {"AfterAllowTestTraffic": naming.hook_function(config)}
    assert props["ServiceRole"] == naming.bluegreen_hook_role(config)
    assert props["AdditionalOptions"] == {"TerminationWaitTimeInMinutes": config.service.termination_wait_minutes}
    [application] = props["Applications"]
    assert application == {
        "Target": {"Type": "AWS::ECS::Service", "LogicalID": "Service"},
        "ECSAttributes": {
            "TaskDefinitions": ["TaskDefinition", "GreenTaskDefinition"],
            "TaskSets": ["BlueTaskSet", "GreenTaskSet"],
            "TrafficRouting": {
                "ProdTrafficRoute": {
                    "Type": "AWS::ElasticLoadBalancingV2::Listener",
                    "LogicalID": "ProductionListener",
                },
                "TestTrafficRoute": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "LogicalID": "TestListener"},
                "TargetGroups": ["BlueTargetGroup", "GreenTargetGroup"],
            },
        },
    }
    # The blue IDs are resources of the right type; the green ones only exist during a deployment.
    resources = body["Resources"]
    assert resources["TaskDefinition"]["Type"] == "AWS::ECS::TaskDefinition"
    assert resources["BlueTaskSet"]["Type"] == "AWS::ECS::TaskSet"
    assert "GreenTaskDefinition" not in resources and "GreenTaskSet" not in resources
    # Hooks are read literally: no intrinsic function anywhere inside.
    assert "Ref" not in json.dumps(body["Hooks"]) and "Fn::" not in json.dumps(body["Hooks"])


@pytest.mark.parametrize(
    "routing, expected",
    [
        ({}, {"Type": "AllAtOnce"}),
        (
            {
                "deployment_config": "custom",
                "custom_deployment": {"type": "canary", "percentage": 20, "interval_minutes": 5},
            },
            {"Type": "TimeBasedCanary", "TimeBasedCanary": {"StepPercentage": 20, "BakeTimeMins": 5}},
        ),
        (
            {
                "deployment_config": "custom",
                "custom_deployment": {"type": "linear", "percentage": 14, "interval_minutes": 3},
            },
            {"Type": "TimeBasedLinear", "TimeBasedLinear": {"StepPercentage": 14, "BakeTimeMins": 3}},
        ),
    ],
)
def test_cloudformation_traffic_routing_has_only_the_matching_block(routing, expected):
    body = _build(deployment_engine="cloudformation", **routing)
    assert body["Hooks"]["CodeDeployBlueGreenHook"]["Properties"]["TrafficRoutingConfig"] == expected


@pytest.mark.parametrize("env", CFN_ENVS)
def test_cloudformation_ecs_side_is_an_external_service_with_a_blue_task_set(env):
    resources = template(env, "service")["Resources"]
    assert list(_of_type({"Resources": resources}, "AWS::ECS::Service")) == ["Service"]
    svc = resources["Service"]["Properties"]
    assert svc["DeploymentController"] == {"Type": "EXTERNAL"}
    # Task definition, network and load balancer belong to task sets with this controller; ECS
    # rejects a health check grace period on a service without load balancers of its own.
    assert not {
        "TaskDefinition",
        "LoadBalancers",
        "NetworkConfiguration",
        "LaunchType",
        "HealthCheckGracePeriodSeconds",
    } & set(svc)
    task_set = resources["BlueTaskSet"]["Properties"]
    assert task_set["TaskDefinition"] == {"Ref": "TaskDefinition"}
    assert task_set["Service"] == {"Ref": "Service"} and task_set["LaunchType"] == "FARGATE"
    assert task_set["Scale"] == {"Unit": "PERCENT", "Value": 100}
    assert task_set["LoadBalancers"][0]["TargetGroupArn"] == {"Ref": "BlueTargetGroup"}
    # The TaskSet schema's spelling (capital V), not troposphere's service spelling.
    assert list(task_set["NetworkConfiguration"]) == ["AwsVpcConfiguration"]
    assert task_set["NetworkConfiguration"]["AwsVpcConfiguration"] == {
        "AssignPublicIp": "DISABLED",
        "Subnets": {"Ref": "PrivateSubnetIds"},
        "SecurityGroups": [{"Ref": "ServiceSecurityGroup"}],
    }
    primary = resources["PrimaryTaskSet"]
    assert primary["Type"] == "AWS::ECS::PrimaryTaskSet"
    assert primary["Properties"]["TaskSetId"] == {"Fn::GetAtt": ["BlueTaskSet", "Id"]}
    listeners = _of_type({"Resources": resources}, "AWS::ElasticLoadBalancingV2::Listener")
    for name in ("ProductionListener", "TestListener"):
        assert listeners[name]["Properties"]["DefaultActions"] == [
            {"Type": "forward", "TargetGroupArn": {"Ref": "BlueTargetGroup"}}
        ]


@pytest.mark.parametrize("env", CFN_ENVS)
def test_cloudformation_template_respects_the_transform_limits(env):
    body = template(env, "service")
    text = json.dumps(body)
    assert "Outputs" not in body
    assert "Fn::ImportValue" not in text and "{{resolve:" not in text
    assert not any(p.get("NoEcho") for p in body["Parameters"].values())
    assert not _of_type(body, "AWS::CloudFormation::Stack")
    # A release changes only ImageUri, and only the task definition uses it: the one change that
    # starts a green deployment touches no other resource.
    users = [k for k, v in body["Resources"].items() if '"Ref": "ImageUri"' in json.dumps(v)]
    assert users == ["TaskDefinition"]
    entry = _manifest_entry(env)
    assert entry["parameters_kept_on_update"] == ["ImageUri"]
    assert entry["parameters_from_outputs"]["PrivateSubnetIds"] == {"stack": "network", "output": "PrivateSubnetIds"}
    assert "CAPABILITY_NAMED_IAM" in entry["capabilities"]


def test_only_the_cloudformation_engine_drops_outputs():
    assert "Outputs" not in _build(deployment_engine="cloudformation")
    assert "ServiceName" in _build(deployment_engine="ecs")["Outputs"]
    assert "ServiceName" in _build()["Outputs"]


@pytest.mark.parametrize("env", CFN_ENVS)
def test_cloudformation_roles_are_least_privilege(env):
    body = template(env, "service")
    role = body["Resources"]["BlueGreenHookRole"]["Properties"]
    assert role["RoleName"] == body["Hooks"]["CodeDeployBlueGreenHook"]["Properties"]["ServiceRole"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "codedeploy.amazonaws.com"}
    assert "ManagedPolicyArns" not in role
    assert _statements(body, "BlueGreenHookRole") == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [{"Fn::GetAtt": ["ValidationHookFunction", "Arn"]}],
        }
    ]
    function = body["Resources"]["ValidationHookFunction"]["Properties"]
    # The transform's CodeDeploy deployment invokes the hook with the CodeDeploy contract.
    assert function["Handler"] == "index.codedeploy_handler"
    assert function["FunctionName"].startswith("CodeDeployHook_")
    report = [
        s
        for s in _statements(body, "ValidationHookRole")
        if s["Action"] == ["codedeploy:PutLifecycleEventHookExecutionStatus"]
    ]
    assert report == [
        {
            "Effect": "Allow",
            "Action": ["codedeploy:PutLifecycleEventHookExecutionStatus"],
            "Resource": [
                {"Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:*"}
            ],
        }
    ]


@pytest.mark.parametrize("env", CFN_ENVS)
def test_cloudformation_image_parameter_says_releases_change_it(env):
    parameter = template(env, "service")["Parameters"]["ImageUri"]
    assert parameter["Description"] == "Container image of the task definition; a release changes only this parameter."


# --- ecs --------------------------------------------------------------------------------------

ECS_ENVS = environments("ecs")


@pytest.mark.parametrize("env", ECS_ENVS)
def test_ecs_service_uses_its_blue_green_strategy_with_the_hook(env):
    body = template(env, "service")
    config = load_environment(OUT.parent / "params" / f"{env}.yaml")
    assert "Transform" not in body and "Hooks" not in body
    svc = body["Resources"]["Service"]["Properties"]
    assert svc["DeploymentController"] == {"Type": "ECS"}
    deployment = svc["DeploymentConfiguration"]
    # BLUE_GREEN for AllAtOnce, else CANARY or LINEAR (tests/test_ecs_shifts.py checks each block).
    assert deployment["Strategy"] in ("BLUE_GREEN", "CANARY", "LINEAR")
    assert deployment["BakeTimeInMinutes"] == config.service.termination_wait_minutes
    assert deployment["LifecycleHooks"] == [
        {
            "HookTargetArn": {"Fn::GetAtt": ["ValidationHookFunction", "Arn"]},
            "RoleArn": {"Fn::GetAtt": ["EcsHookInvokeRole", "Arn"]},
            "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
        }
    ]
    assert deployment["Alarms"] == {
        "AlarmNames": [
            {"Ref": a}
            for a in (
                "BlueTarget5xxAlarm",
                "BlueUnhealthyHostsAlarm",
                "GreenTarget5xxAlarm",
                "GreenUnhealthyHostsAlarm",
            )
        ],
        "Enable": True,
        "Rollback": True,
    }
    [entry] = svc["LoadBalancers"]
    assert entry["TargetGroupArn"] == {"Ref": "BlueTargetGroup"}
    assert entry["AdvancedConfiguration"] == {
        "AlternateTargetGroupArn": {"Ref": "GreenTargetGroup"},
        "ProductionListenerRule": {"Ref": "ProductionListenerRule"},
        "TestListenerRule": {"Ref": "TestListenerRule"},
        "RoleArn": {"Fn::GetAtt": ["EcsLoadBalancerRole", "Arn"]},
    }
    function = body["Resources"]["ValidationHookFunction"]["Properties"]
    assert function["Handler"] == "index.ecs_handler"


@pytest.mark.parametrize("env", ECS_ENVS)
def test_ecs_listener_rules_forward_to_blue_and_can_be_switched_to_green(env):
    resources = template(env, "service")["Resources"]
    for rule, listener in (("ProductionListenerRule", "ProductionListener"), ("TestListenerRule", "TestListener")):
        props = resources[rule]["Properties"]
        assert resources[rule]["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule"
        assert props["ListenerArn"] == {"Ref": listener}
        assert props["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["*"]}}]
        assert props["Actions"] == [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [
                        {"TargetGroupArn": {"Ref": "BlueTargetGroup"}, "Weight": 100},
                        {"TargetGroupArn": {"Ref": "GreenTargetGroup"}, "Weight": 0},
                    ]
                },
            }
        ]


@pytest.mark.parametrize("env", ECS_ENVS)
def test_ecs_roles_are_least_privilege(env):
    body = template(env, "service")
    for role in ("EcsLoadBalancerRole", "EcsHookInvokeRole"):
        props = body["Resources"][role]["Properties"]
        assert props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs.amazonaws.com"}
        assert "ManagedPolicyArns" not in props
    assert _statements(body, "EcsHookInvokeRole") == [
        {
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [{"Fn::GetAtt": ["ValidationHookFunction", "Arn"]}],
        }
    ]
    by_action = {a: s["Resource"] for s in _statements(body, "EcsLoadBalancerRole") for a in s["Action"]}
    assert by_action["elasticloadbalancing:ModifyRule"] == [
        {"Ref": "ProductionListenerRule"},
        {"Ref": "TestListenerRule"},
    ]
    assert by_action["elasticloadbalancing:RegisterTargets"] == [
        {"Ref": "BlueTargetGroup"},
        {"Ref": "GreenTargetGroup"},
    ]
    # ECS reads the hook's answer from its return value: the hook gets no CodeDeploy permission.
    actions = {a for s in _statements(body, "ValidationHookRole") for a in s["Action"]}
    assert not any(a.startswith("codedeploy:") for a in actions)


# --- shared parts stay shared ------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["codedeploy", "ecs"])
def test_load_balanced_services_keep_the_health_check_grace_period(engine):
    svc = _build(deployment_engine=engine, health_check_grace_period_seconds=90)["Resources"]["Service"]["Properties"]
    assert svc["LoadBalancers"] and svc["HealthCheckGracePeriodSeconds"] == 90


def test_engines_share_network_load_balancer_alarms_and_hook():
    bodies = {engine: _build(deployment_engine=engine) for engine in ("codedeploy", "cloudformation", "ecs")}
    shared = (
        "LoadBalancer",
        "BlueTargetGroup",
        "GreenTargetGroup",
        "ProductionListener",
        "TestListener",
        "BlueTarget5xxAlarm",
        "GreenUnhealthyHostsAlarm",
        "TaskDefinition",
        "HookSecurityGroup",
        "ValidationHookLogGroup",
        "ScalableTarget",
    )
    for logical_id in shared:
        assert bodies["cloudformation"]["Resources"][logical_id] == bodies["codedeploy"]["Resources"][logical_id]
        assert bodies["ecs"]["Resources"][logical_id] == bodies["codedeploy"]["Resources"][logical_id]
    code = {e: b["Resources"]["ValidationHookFunction"]["Properties"]["Code"] for e, b in bodies.items()}
    assert code["cloudformation"] == code["ecs"] == code["codedeploy"]


# --- params validation ---------------------------------------------------------------------------

BAD_ENGINE = {
    "unknown-engine": (
        {"deployment_engine": "lambda"},
        "service.deployment_engine: 'lambda' is not allowed (allowed: 'codedeploy', 'cloudformation' or 'ecs')",
    ),
    "cfn-predefined-10-percent": (
        {"deployment_engine": "cloudformation", "deployment_config": "Canary10Percent5Minutes"},
        "service: deployment_config Canary10Percent5Minutes cannot be expressed by the cloudformation engine "
        "(its hook needs steps of at least 14 percent): use AllAtOnce, or custom with "
        "custom_deployment.percentage 14-99",
    ),
    "cfn-small-step": (
        {
            "deployment_engine": "cloudformation",
            "deployment_config": "custom",
            "custom_deployment": {"type": "linear", "percentage": 10, "interval_minutes": 1},
        },
        "service: custom_deployment.percentage 10 is below 14, the smallest step the cloudformation engine's "
        "hook accepts (allowed: 14-99)",
    ),
    "ecs-linear-step": (
        {
            "deployment_engine": "ecs",
            "deployment_config": "custom",
            "custom_deployment": {"type": "linear", "percentage": 2, "interval_minutes": 1},
        },
        "service: custom_deployment.percentage 2 is the ecs engine's StepPercent, which is 3-100 with its LINEAR "
        "strategy (allowed: 3-99)",
    ),
    "ecs-bake-time": (
        {"deployment_engine": "ecs", "termination_wait_minutes": 2000},
        "service: termination_wait_minutes 2000 is the ecs engine's bake time, which is at most 1440 minutes "
        "(allowed: 0-1440)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ENGINE))
def test_engine_settings_are_validated_with_file_and_key(tmp_path, case):
    change, message = BAD_ENGINE[case]
    params = copy_params(tmp_path)
    edit_params(params / "dev.yaml", lambda data: data["service"].update(change))
    with pytest.raises(ParamsError) as error:
        load_environment(params / "dev.yaml", "params/dev.yaml")
    assert error.value.problems == [f"params/dev.yaml: {message}"]


@pytest.mark.parametrize(
    "settings",
    [
        {"deployment_engine": "cloudformation", "deployment_config": "AllAtOnce", "termination_wait_minutes": 2880},
        {"deployment_engine": "ecs", "termination_wait_minutes": 1440},
        {"deployment_engine": "ecs", "deployment_config": "Linear10PercentEvery1Minutes"},
        {"deployment_engine": "codedeploy", "deployment_config": "Canary10Percent5Minutes"},
    ],
)
def test_engine_settings_at_their_limits_are_accepted(settings):
    assert _config(**settings).service.deployment_engine == settings["deployment_engine"]


@pytest.mark.parametrize("env", ECS_ENVS)
def test_ecs_release_role_keeps_describe_services_for_a_release_started_before_an_update(env):
    # Day 2: the previous out/'s buildspec waited with `aws ecs describe-services`; a release that
    # was running when the pipeline stack is updated still runs that buildspec under the new role.
    body = template(env, "pipeline")
    granted = [
        s["Resource"]
        for role, s in role_statements(body)
        if role == "ReleaseRole"
        and "ecs:DescribeServices" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    ]
    service_arn = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/${ClusterName}/${ServiceName}"
    assert granted == [[{"Fn::Sub": service_arn}]]


def _arn_types(service_name: str, arn: str) -> set[str]:
    """The IAM resource types of ``service_name`` whose ARN format (cfn-lint's Policies.json, from the
    Service Authorization Reference) ``arn``, a Sub string over the pseudo parameters, has."""
    from cfnlint.data import AdditionalSpecs
    from cfnlint.helpers import load_resource

    pseudo = {"${AWS::Partition}": "${Partition}", "${AWS::Region}": "${Region}", "${AWS::AccountId}": "${Account}"}
    for name, placeholder in pseudo.items():
        arn = arn.replace(name, placeholder)
    kinds = load_resource(AdditionalSpecs, "Policies.json")[service_name]["Resources"]
    return {
        kind
        for kind, spec in kinds.items()
        for pattern in spec.get("ARNFormats", [])
        if re.fullmatch(".*".join(re.escape(part) for part in pattern.split(".*")), arn)
    }


@pytest.mark.parametrize("env", ECS_ENVS)
def test_ecs_release_role_watches_service_deployments_on_the_resources_iam_takes(env):
    [statement] = [
        s
        for role, s in role_statements(template(env, "pipeline"))
        if role == "ReleaseRole" and "ecs:ListServiceDeployments" in s["Action"]
    ]
    # The resource each call is authorized on (ECS developer guide, "Permissions required for viewing
    # Amazon ECS service deployments"): the service for the listing, then the deployment and the revision.
    needs = {
        "ecs:ListServiceDeployments": "service",
        "ecs:DescribeServiceDeployments": "service-deployment",
        "ecs:DescribeServiceRevisions": "service-revision",
    }
    assert sorted(statement["Action"]) == sorted(needs)
    for action, kind in needs.items():
        assert kind in _resource_types(action), action
    # Each resource has exactly one of those formats (task-definition's "arn:...:ecs:...:.*" takes any).
    granted = [_arn_types("ecs", resource["Fn::Sub"]) & set(needs.values()) for resource in statement["Resource"]]
    assert sorted(kind for kinds in granted for kind in kinds) == sorted(needs.values())
