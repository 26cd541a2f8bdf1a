"""Service blueprint: the generated template as a reviewer and the pipeline rely on it."""

from __future__ import annotations

import json

import pytest

from blueprints import assets, naming
from blueprints.config import EnvironmentConfig
from blueprints.config.service import PREDEFINED_DEPLOYMENTS
from blueprints.stacks import service
from blueprints.template import resolve_joins
from tests.helpers import OUT, environments, resources, role_statements, template

CERT = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"
SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:shop/db"
PARAMETER = "arn:aws:ssm:eu-west-1:111122223333:parameter/shop/api-key"


def _config(project_="shop", env_="test", **service_overrides) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {
            "project": project_,
            "environment": env_,
            "region": "eu-west-1",
            "network": {"vpc_cidr": "10.0.0.0/16", "subnet_prefix_length": 20},
            "service": service_overrides,
        }
    )


def _build(**service_overrides) -> dict:
    return service.build(_config(**service_overrides)).to_dict()


def test_http_environment_has_plain_listeners():
    body = template("dev", "service")
    listeners = resources(body, "AWS::ElasticLoadBalancingV2::Listener")
    assert sorted(listeners) == ["ProductionListener", "TestListener"]
    assert {(p["Port"], p["Protocol"]) for p in listeners.values()} == {(80, "HTTP"), (8080, "HTTP")}
    for props in listeners.values():
        assert "Certificates" not in props
        assert props["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": {"Ref": "BlueTargetGroup"}}]
    attributes = body["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    assert {"Key": "deletion_protection.enabled", "Value": "false"} in attributes
    assert {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"} in attributes
    assert body["Outputs"]["ProductionUrl"]["Value"] == {"Fn::Sub": "http://${LoadBalancer.DNSName}:80"}


def test_https_environment_uses_tls_and_redirects_http():
    body = template("prod", "service")
    listeners = resources(body, "AWS::ElasticLoadBalancingV2::Listener")
    for name, port in (("ProductionListener", 443), ("TestListener", 8443)):
        props = listeners[name]
        assert (props["Port"], props["Protocol"]) == (port, "HTTPS")
        assert props["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
        assert props["Certificates"] == [{"CertificateArn": CERT.replace("shop", "webapp")}]
    redirect = listeners["HttpRedirectListener"]
    assert (redirect["Port"], redirect["Protocol"]) == (80, "HTTP")
    assert redirect["DefaultActions"][0]["RedirectConfig"] == {
        "Protocol": "HTTPS",
        "Port": "443",
        "StatusCode": "HTTP_301",
    }
    attributes = body["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    assert {"Key": "deletion_protection.enabled", "Value": "true"} in attributes
    hook_env = body["Resources"]["ValidationHookFunction"]["Properties"]["Environment"]["Variables"]
    assert (hook_env["SCHEME"], hook_env["TEST_PORT"]) == ("https", "8443")


def test_samples_use_their_deployment_configurations():
    dev = template("dev", "service")["Resources"]["DeploymentGroup"]["Properties"]
    prod = template("prod", "service")["Resources"]["DeploymentGroup"]["Properties"]
    assert dev["DeploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    assert prod["DeploymentConfigName"] == "CodeDeployDefault.ECSCanary10Percent5Minutes"


@pytest.mark.parametrize("name", sorted(PREDEFINED_DEPLOYMENTS))
def test_predefined_deployment_configuration(name):
    body = _build(deployment_config=name)
    assert body["Resources"]["DeploymentGroup"]["Properties"]["DeploymentConfigName"] == PREDEFINED_DEPLOYMENTS[name]
    assert not resources(body, "AWS::CodeDeploy::DeploymentConfig")


@pytest.mark.parametrize(
    "kind,block,expected",
    [
        ("canary", "TimeBasedCanary", {"CanaryPercentage": 20, "CanaryInterval": 7}),
        ("linear", "TimeBasedLinear", {"LinearPercentage": 20, "LinearInterval": 7}),
    ],
)
def test_custom_deployment_configuration(kind, block, expected):
    body = _build(deployment_config="custom", custom_deployment={"type": kind, "percentage": 20, "interval_minutes": 7})
    config = resources(body, "AWS::CodeDeploy::DeploymentConfig")["DeploymentConfig"]
    assert config["ComputePlatform"] == "ECS"
    assert config["TrafficRoutingConfig"] == {"Type": block, block: expected}
    assert body["Resources"]["DeploymentGroup"]["Properties"]["DeploymentConfigName"] == {"Ref": "DeploymentConfig"}


def test_deployment_group_is_blue_green_with_rollback_and_alarms():
    body = _build(termination_wait_minutes=15)
    group = body["Resources"]["DeploymentGroup"]["Properties"]
    assert group["DeploymentStyle"] == {"DeploymentType": "BLUE_GREEN", "DeploymentOption": "WITH_TRAFFIC_CONTROL"}
    assert group["ECSServices"] == [
        {"ClusterName": {"Ref": "Cluster"}, "ServiceName": {"Fn::GetAtt": ["Service", "Name"]}}
    ]
    pair = group["LoadBalancerInfo"]["TargetGroupPairInfoList"]
    assert len(pair) == 1
    assert pair[0]["ProdTrafficRoute"] == {"ListenerArns": [{"Ref": "ProductionListener"}]}
    assert pair[0]["TestTrafficRoute"] == {"ListenerArns": [{"Ref": "TestListener"}]}
    assert [tg["Name"] for tg in pair[0]["TargetGroups"]] == [
        {"Fn::GetAtt": ["BlueTargetGroup", "TargetGroupName"]},
        {"Fn::GetAtt": ["GreenTargetGroup", "TargetGroupName"]},
    ]
    termination = group["BlueGreenDeploymentConfiguration"]["TerminateBlueInstancesOnDeploymentSuccess"]
    assert termination == {"Action": "TERMINATE", "TerminationWaitTimeInMinutes": 15}
    assert group["AutoRollbackConfiguration"] == {
        "Enabled": True,
        "Events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"],
    }
    alarms = resources(body, "AWS::CloudWatch::Alarm")
    assert {a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]} == set(alarms)
    assert {a["MetricName"] for a in alarms.values()} == {"HTTPCode_Target_5XX_Count", "UnHealthyHostCount"}
    assert len(alarms) == 4
    assert resources(body, "AWS::CodeDeploy::Application")["CodeDeployApplication"]["ComputePlatform"] == "ECS"


def test_ecs_service_runs_privately_under_codedeploy():
    body = _build(desired_count=2, min_count=2, max_count=6)
    props = body["Resources"]["Service"]["Properties"]
    assert props["DeploymentController"] == {"Type": "CODE_DEPLOY"}
    assert props["LaunchType"] == "FARGATE" and props["PropagateTags"] == "SERVICE"
    assert props["TaskDefinition"] == "shop-test-task", "by family: CloudFormation must never change it"
    network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED" and network["Subnets"] == {"Ref": "PrivateSubnetIds"}
    assert props["LoadBalancers"] == [
        {"ContainerName": "app", "ContainerPort": 80, "TargetGroupArn": {"Ref": "BlueTargetGroup"}}
    ]
    target = body["Resources"]["ScalableTarget"]["Properties"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    assert target["ResourceId"] == "service/shop-test/shop-test-service"
    policy = body["Resources"]["CpuScalingPolicy"]["Properties"]["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"


def test_task_definition_settings():
    body = _build(
        cpu=1024,
        memory=3072,
        cpu_architecture="ARM64",
        container_name="api",
        container_port=8000,
        environment={"MODE": "x"},
        container_health_check="curl -f http://localhost:8000/ || exit 1",
    )
    task = body["Resources"]["TaskDefinition"]["Properties"]
    assert (task["Cpu"], task["Memory"], task["NetworkMode"]) == ("1024", "3072", "awsvpc")
    assert task["RuntimePlatform"] == {"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"}
    container = task["ContainerDefinitions"][0]
    assert container["Image"] == {"Ref": "ImageUri"} and container["Name"] == "api"
    assert container["PortMappings"] == [{"ContainerPort": 8000, "Protocol": "tcp"}]
    assert container["Environment"] == [{"Name": "MODE", "Value": "x"}]
    assert container["HealthCheck"]["Command"][0] == "CMD-SHELL"
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "ServiceLogGroup"}
    assert body["Parameters"]["ImageUri"]["Default"] == service.SAMPLE_IMAGE


def test_secrets_reach_the_container_and_only_they_are_readable():
    body = _build(secrets={"DB_PASSWORD": SECRET + ":password::", "API_KEY": PARAMETER})
    container = body["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert container["Secrets"] == [
        {"Name": "API_KEY", "ValueFrom": PARAMETER},
        {"Name": "DB_PASSWORD", "ValueFrom": SECRET + ":password::"},
    ]
    by_action = {s["Action"][0]: s["Resource"] for n, s in role_statements(body) if n == "TaskExecutionRole"}
    # Given without its random suffix, the secret matches in IAM only with "-??????".
    assert by_action["secretsmanager:GetSecretValue"] == [SECRET, SECRET + "-??????"]
    assert by_action["ssm:GetParameters"] == [PARAMETER]
    # A name whose last part looks like the random suffix ("app-config") is still granted with it.
    hyphenated = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app-config"
    body = _build(secrets={"CONFIG": hyphenated})
    by_action = {s["Action"][0]: s["Resource"] for n, s in role_statements(body) if n == "TaskExecutionRole"}
    assert by_action["secretsmanager:GetSecretValue"] == [hyphenated, hyphenated + "-??????"]
    plain = _build()
    actions = {s["Action"][0] for n, s in role_statements(plain) if n == "TaskExecutionRole"}
    assert "secretsmanager:GetSecretValue" not in actions and "ssm:GetParameters" not in actions


def _ingress(body, group):
    return [
        (r["FromPort"], r.get("CidrIp") or r.get("SourceSecurityGroupId"))
        for r in body["Resources"][group]["Properties"]["SecurityGroupIngress"]
    ]


def test_security_group_rules():
    body = _build(
        production_port=8000,
        test_port=9000,
        container_port=3000,
        allowed_cidrs=["198.51.100.0/24"],
        test_allowed_cidrs=["203.0.113.0/24"],
    )
    assert sorted(_ingress(body, "LoadBalancerSecurityGroup"), key=str) == sorted(
        [(8000, "198.51.100.0/24"), (9000, "203.0.113.0/24"), (9000, {"Ref": "HookSecurityGroup"})], key=str
    )
    assert _ingress(body, "ServiceSecurityGroup") == [(3000, {"Ref": "LoadBalancerSecurityGroup"})]
    alb_egress = body["Resources"]["LoadBalancerSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert [(r["FromPort"], r["CidrIp"]) for r in alb_egress] == [(3000, {"Ref": "VpcCidr"})]
    https = _build(certificate_arn=CERT, production_port=443, test_port=8443)
    assert sorted(p for p, _ in _ingress(https, "LoadBalancerSecurityGroup")) == [80, 443, 8443]
    assert not resources(body, "AWS::EC2::SecurityGroupIngress")


# The EC2 actions of AWS's managed policy AWSLambdaVPCAccessExecutionRole, as its reference page
# lists them: what Lambda needs to attach a function to a VPC.
# https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaVPCAccessExecutionRole.html
AWS_LAMBDA_VPC_ACCESS_EC2_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)


@pytest.mark.parametrize("env", environments())
def test_the_hook_can_run_in_the_vpc_as_aws_documents_it(env):
    statements = [s for name, s in role_statements(template(env, "service")) if name == "ValidationHookRole"]
    granted = {a for s in statements for a in s["Action"] if a.startswith("ec2:")}
    assert granted == set(AWS_LAMBDA_VPC_ACCESS_EC2_ACTIONS)


@pytest.mark.parametrize("env", environments())
def test_iam_has_no_wildcard_actions_and_star_only_where_aws_requires(env):
    body = template(env, "service")
    allowed_star = {
        "ecr:GetAuthorizationToken",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeListeners",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DescribeTargetHealth",
        *AWS_LAMBDA_VPC_ACCESS_EC2_ACTIONS,
    }
    for _, statement in role_statements(body):
        assert all("*" not in action for action in statement["Action"]), statement
        if "*" in statement["Resource"]:
            assert set(statement["Action"]) <= allowed_star, statement
    for props in resources(body, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in props


def test_codedeploy_role_is_scoped_to_this_service():
    body = template("dev", "service")
    by_action = {}
    for name, statement in role_statements(body):
        if name == "CodeDeployServiceRole":
            for action in statement["Action"]:
                by_action[action] = statement["Resource"]
    assert by_action["lambda:InvokeFunction"] == [{"Fn::GetAtt": ["ValidationHookFunction", "Arn"]}]
    assert by_action["elasticloadbalancing:ModifyListener"] == [{"Ref": "ProductionListener"}, {"Ref": "TestListener"}]
    assert by_action["ecs:CreateTaskSet"][0] == {
        "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service/webapp-dev/webapp-dev-service"
    }
    assert by_action["iam:PassRole"] == [
        {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]},
        {"Fn::GetAtt": ["TaskRole", "Arn"]},
    ]
    assert "s3:GetObject" not in by_action and "sns:Publish" not in by_action
    assert not body["Resources"]["TaskRole"]["Properties"].get("Policies")


def test_validation_hook_function():
    body = template("dev", "service")
    function = body["Resources"]["ValidationHookFunction"]["Properties"]
    assert function["FunctionName"] == "CodeDeployHook_webapp-dev-validate"
    assert function["Handler"] == "index.codedeploy_handler"
    assert resolve_joins(function["Code"]["ZipFile"]) == assets.text(assets.VALIDATION_HOOK)
    assert function["VpcConfig"]["SubnetIds"] == {"Ref": "PrivateSubnetIds"}
    variables = function["Environment"]["Variables"]
    assert json.loads(variables["PATHS"]) == ["/"] and variables["EXPECTED_STATUS"] == "200"
    hook_actions = {
        a: s["Resource"] for n, s in role_statements(body) if n == "ValidationHookRole" for a in s["Action"]
    }
    assert hook_actions["codedeploy:PutLifecycleEventHookExecutionStatus"] == [
        {
            "Fn::Sub": (
                "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:"
                "deploymentgroup:webapp-dev/webapp-dev-service"
            )
        }
    ]
    assert hook_actions["logs:PutLogEvents"] == [{"Fn::GetAtt": ["ValidationHookLogGroup", "Arn"]}]


def test_names_fit_aws_limits_at_the_longest_prefix():
    config = _config(project_="a" * 18, env_="prod1")
    assert len(config.prefix) == 24
    for kind, name in naming.all_names(config).items():
        assert len(name) <= naming.LIMITS[kind], (kind, name)


@pytest.mark.parametrize("env", environments())
def test_template_fits_a_direct_upload(env):
    """CloudFormation accepts a TemplateBody of at most 51,200 bytes (larger ones need S3)."""
    assert (OUT / env / "service.json").stat().st_size < 51200


@pytest.mark.parametrize("env", environments("codedeploy"))
def test_parameters_outputs_and_wiring(env):
    """The codedeploy samples; tests/test_engines.py covers the other engines' outputs and capabilities."""
    body = template(env, "service")
    assert all(p["Description"] for p in body["Parameters"].values())
    grouped = {
        p for g in body["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"] for p in g["Parameters"]
    }
    assert grouped == set(body["Parameters"])
    assert {
        "ProductionUrl",
        "TestUrl",
        "LoadBalancerDnsName",
        "ClusterName",
        "ServiceName",
        "TaskDefinitionFamily",
        "ContainerName",
        "ContainerPort",
        "CodeDeployApplicationName",
        "DeploymentGroupName",
        "HookFunctionName",
        "ProductionListenerArn",
        "TestListenerArn",
        "BlueTargetGroupName",
        "GreenTargetGroupName",
    } <= set(body["Outputs"])
    manifest = json.loads((OUT / env / "stacks.json").read_text())
    stack = next(s for s in manifest["stacks"] if s["name"] == "service")
    assert stack["parameters_kept_on_update"] == ["ImageUri"]
    assert stack["parameters_from_outputs"]["PrivateSubnetIds"] == {"stack": "network", "output": "PrivateSubnetIds"}
    assert stack["depends_on"] == ["network"]
    assert stack["capabilities"] == ["CAPABILITY_IAM"]


def test_health_check_settings_reach_both_target_groups_and_the_service():
    body = _build(
        health_check_path="/healthz",
        health_check_interval_seconds=20,
        health_check_timeout_seconds=7,
        healthy_threshold=4,
        unhealthy_threshold=5,
        health_check_matcher="200-299",
        deregistration_delay_seconds=45,
        health_check_grace_period_seconds=90,
    )
    groups = resources(body, "AWS::ElasticLoadBalancingV2::TargetGroup")
    assert set(groups) == {"BlueTargetGroup", "GreenTargetGroup"}
    for group in groups.values():
        assert (
            group["HealthCheckPath"],
            group["HealthCheckIntervalSeconds"],
            group["HealthCheckTimeoutSeconds"],
            group["HealthyThresholdCount"],
            group["UnhealthyThresholdCount"],
            group["Matcher"],
        ) == ("/healthz", 20, 7, 4, 5, {"HttpCode": "200-299"})
        assert group["TargetType"] == "ip"
        attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
        assert attributes["deregistration_delay.timeout_seconds"] == "45"
    assert body["Resources"]["Service"]["Properties"]["HealthCheckGracePeriodSeconds"] == 90
    cluster = body["Resources"]["Cluster"]["Properties"]
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
