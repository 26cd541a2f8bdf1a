"""Service stack: ECS Fargate behind an Application Load Balancer, released blue/green.

``build(config)`` adds the parts every deployment engine shares (cluster, logs, roles, task
definition, load balancer side from service_load_balancer, auto scaling, validation hook,
outputs) and lets the engine of ``service.deployment_engine`` (blueprints/engines/) add the
ECS service and its blue/green machinery.
"""
from __future__ import annotations

import json
from pathlib import Path

from awacs import ecr, logs as awslogs, secretsmanager, ssm
from awacs import ec2 as awsec2
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Ref, Sub, Tags, applicationautoscaling as scaling, awslambda, ecs, iam, logs

from . import naming, roles, service_load_balancer as lb
from .config import EnvironmentConfig
from .engines import SharedResources, engine_for
from .template import CfnTemplate, checkov_skip

STACK = "service"
HOOK_SOURCE = Path(__file__).parent / "functions" / "validation_hook.py"
# Serves HTTP on port 80 at "/" (Apache with a PHP sample page), x86_64.
# https://gallery.ecr.aws/ecs-sample-image/amazon-ecs-sample
SAMPLE_IMAGE = "public.ecr.aws/ecs-sample-image/amazon-ecs-sample:latest"
HOOK_TIMEOUT_SECONDS = 300


def build(config: EnvironmentConfig) -> CfnTemplate:
    svc = config.service
    engine = engine_for(config)
    t = CfnTemplate(
        f"Service for {config.prefix}: ECS Fargate behind an {svc.scheme.upper()} load balancer, blue/green "
        f"deployments by {svc.deployment_engine} with a validation hook.")
    _parameters(t, config, engine)
    _cluster(t, config)
    _roles(t, config)
    _task_definition(t, config)
    lb.security_groups(t, config)
    lb.load_balancer(t, config)
    lb.target_groups(t, config)
    lb.listeners(t, config)
    shared = SharedResources(alarms=lb.alarms(t, config))
    _hook(t, config, engine)
    engine.add_deployment(t, config, shared)
    _autoscaling(t, config, shared)
    if engine.SUPPORTS_OUTPUTS:
        _outputs(t, config)
    return t


def _parameters(t: CfnTemplate, config: EnvironmentConfig, engine) -> None:
    t.param("VpcId", "VPC of the service (network stack output).", "Network", type="AWS::EC2::VPC::Id")
    t.param("VpcCidr", "IPv4 CIDR of the VPC (network stack output).", "Network")
    t.param("PublicSubnetIds", "Public subnets of the load balancer (network stack output).", "Network",
            type="List<AWS::EC2::Subnet::Id>")
    t.param("PrivateSubnetIds", "Private subnets of the tasks and the hook (network stack output).", "Network",
            type="List<AWS::EC2::Subnet::Id>")
    # CloudFormation cannot change the task definition of a CODE_DEPLOY service after creation:
    # this image is used once, at creation; releases arrive through the pipeline. With the
    # cloudformation engine a release is a stack update that changes only this parameter.
    t.param("ImageUri", "Container image of the task definition; a release changes only this parameter."
            if engine.RELEASED_BY_STACK_UPDATE else
            "Container image of the first task definition; later releases come from the pipeline.",
            "Service", Default=SAMPLE_IMAGE)


def _cluster(t: CfnTemplate, config: EnvironmentConfig) -> None:
    t.add_resource(ecs.Cluster(
        "Cluster", ClusterName=naming.cluster(config),
        ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        Tags=Tags(Name=naming.cluster(config)),
    ))
    t.add_resource(logs.LogGroup(
        "ServiceLogGroup", LogGroupName=naming.log_group(config), RetentionInDays=config.service.log_retention_days,
        DeletionPolicy=config.retain_policy, UpdateReplacePolicy=config.retain_policy,
        Metadata=checkov_skip(("CKV_AWS_158", "CloudWatch Logs encrypts at rest with AWS-owned keys; the "
                                          "application must not log secrets."),
                          ("CKV_AWS_338", "Retention is set per environment in params "
                                          "(service.log_retention_days).")),
    ))


def _secret_resources(arns: list[str]) -> list[str]:
    """IAM resources of the named secrets. A JSON key/version suffix is not part of the secret's ARN.
    A complete ARN ends with a random "-" plus 6 characters, a partial one (the secret's name) does
    not, and the two cannot be told apart ("app-config" looks complete), so both the ARN as given
    and the ARN plus ``-??????`` are granted: one of them is the secret."""
    resources = []
    for arn in arns:
        base = ":".join(arn.split(":")[:7])
        resources += [base, base + "-??????"]
    return sorted(set(resources))


def _roles(t: CfnTemplate, config: EnvironmentConfig) -> None:
    svc = config.service
    statements = [
        # GetAuthorizationToken has no resource-level permissions: AWS allows only "*".
        Statement(Effect=Allow, Action=[ecr.GetAuthorizationToken], Resource=["*"]),
        Statement(Effect=Allow, Action=[ecr.BatchCheckLayerAvailability, ecr.GetDownloadUrlForLayer,
                                        ecr.BatchGetImage],
                  Resource=[Sub(f"arn:${{AWS::Partition}}:ecr:${{AWS::Region}}:${{AWS::AccountId}}:repository/"
                                f"{naming.repository(config)}")]),
        Statement(Effect=Allow, Action=[awslogs.CreateLogStream, awslogs.PutLogEvents],
                  Resource=[GetAtt("ServiceLogGroup", "Arn")]),
    ]
    secret_arns = sorted(svc.secrets.values())
    from_secrets_manager = [a for a in secret_arns if ":secretsmanager:" in a]
    from_ssm = [a for a in secret_arns if ":ssm:" in a]
    if from_secrets_manager:
        statements.append(Statement(Effect=Allow, Action=[secretsmanager.GetSecretValue],
                                    Resource=_secret_resources(from_secrets_manager)))
    if from_ssm:
        statements.append(Statement(Effect=Allow, Action=[ssm.GetParameters], Resource=from_ssm))
    t.add_resource(iam.Role(
        "TaskExecutionRole",
        Description=f"ECS agent of {config.prefix}: pull the image, write the log group, read the named secrets.",
        AssumeRolePolicyDocument=roles.trust("ecs-tasks.amazonaws.com"),
        Policies=[roles.inline_policy("pull-log-secrets", statements)],
    ))
    t.add_resource(iam.Role(
        "TaskRole", Description=f"Application of {config.prefix}; no permissions until the application needs some.",
        AssumeRolePolicyDocument=roles.trust("ecs-tasks.amazonaws.com"),
    ))


def _task_definition(t: CfnTemplate, config: EnvironmentConfig) -> None:
    svc = config.service
    health = {}
    if svc.container_health_check:
        health["HealthCheck"] = ecs.HealthCheck(
            Command=["CMD-SHELL", svc.container_health_check], Interval=30, Timeout=5, Retries=3, StartPeriod=60)
    container = ecs.ContainerDefinition(
        Name=naming.container(config), Image=Ref("ImageUri"), Essential=True,
        PortMappings=[ecs.PortMapping(ContainerPort=svc.container_port, Protocol="tcp")],
        Environment=[ecs.Environment(Name=k, Value=v) for k, v in sorted(svc.environment.items())],
        Secrets=[ecs.Secret(Name=k, ValueFrom=v) for k, v in sorted(svc.secrets.items())],
        LogConfiguration=ecs.LogConfiguration(LogDriver="awslogs", Options={
            "awslogs-group": Ref("ServiceLogGroup"), "awslogs-region": Ref("AWS::Region"),
            "awslogs-stream-prefix": naming.container(config)}),
        **health,
    )
    t.add_resource(ecs.TaskDefinition(
        "TaskDefinition", Family=naming.task_family(config), RequiresCompatibilities=["FARGATE"],
        NetworkMode="awsvpc", Cpu=str(svc.cpu), Memory=str(svc.memory),
        RuntimePlatform=ecs.RuntimePlatform(CpuArchitecture=svc.cpu_architecture, OperatingSystemFamily="LINUX"),
        ExecutionRoleArn=GetAtt("TaskExecutionRole", "Arn"), TaskRoleArn=GetAtt("TaskRole", "Arn"),
        ContainerDefinitions=[container], Tags=Tags(Name=naming.task_family(config)),
        Metadata=checkov_skip(("CKV_AWS_336", "The sample image (Apache) writes to its filesystem; a read-only "
                                          "root needs an image built for it.")),
    ))


def _hook(t: CfnTemplate, config: EnvironmentConfig, engine) -> None:
    svc = config.service
    t.add_resource(logs.LogGroup(
        "ValidationHookLogGroup", LogGroupName=naming.hook_log_group(config), RetentionInDays=svc.log_retention_days,
        DeletionPolicy="Delete", UpdateReplacePolicy="Delete",
        Metadata=checkov_skip(("CKV_AWS_158", "Holds only check results; AWS-owned keys encrypt it at rest."),
                          ("CKV_AWS_338", "Retention follows service.log_retention_days.")),
    ))
    statements = [
        Statement(Effect=Allow, Action=[awslogs.CreateLogStream, awslogs.PutLogEvents],
                  Resource=[GetAtt("ValidationHookLogGroup", "Arn")]),
        # The ENI actions Lambda needs to run in a VPC (as in AWSLambdaVPCAccessExecutionRole),
        # and the lookup of the load balancer's private addresses: EC2 offers no resource-level
        # permissions for Describe* and Lambda picks the interfaces, so "*" is the narrowest.
        Statement(Effect=Allow, Action=[awsec2.CreateNetworkInterface, awsec2.DescribeNetworkInterfaces,
                                        awsec2.DeleteNetworkInterface, awsec2.AssignPrivateIpAddresses,
                                        awsec2.UnassignPrivateIpAddresses], Resource=["*"]),
        *engine.hook_statements(config),
    ]
    t.add_resource(iam.Role(
        "ValidationHookRole", Description=f"Validation hook of {config.prefix}: report the result, write its logs.",
        AssumeRolePolicyDocument=roles.trust("lambda.amazonaws.com"),
        Policies=[roles.inline_policy("report-and-log", statements)],
        Metadata=checkov_skip(("CKV_AWS_111", "Only the VPC network-interface actions Lambda needs, which have no "
                                          "narrower resource."),
                          ("CKV_AWS_290", "Only the VPC network-interface actions Lambda needs, which have no "
                                          "narrower resource.")),
    ))
    t.add_resource(awslambda.Function(
        "ValidationHookFunction", DependsOn="ValidationHookLogGroup",
        FunctionName=naming.hook_function(config),
        Description="Requests the validation paths on the test listener and reports the result to the deployment.",
        Runtime="python3.12", Handler=f"index.{engine.HOOK_HANDLER}", Role=GetAtt("ValidationHookRole", "Arn"),
        Code=awslambda.Code(ZipFile=HOOK_SOURCE.read_text(encoding="utf-8")),
        Timeout=HOOK_TIMEOUT_SECONDS, MemorySize=128,
        VpcConfig=awslambda.VPCConfig(SubnetIds=Ref("PrivateSubnetIds"),
                                      SecurityGroupIds=[Ref("HookSecurityGroup")]),
        Environment=awslambda.Environment(Variables={
            "SCHEME": svc.scheme, "TEST_PORT": str(svc.test_port),
            "LOAD_BALANCER_NAME": GetAtt("LoadBalancer", "LoadBalancerFullName"),
            "LOAD_BALANCER_DNS": GetAtt("LoadBalancer", "DNSName"),
            "PATHS": json.dumps(svc.validation_paths), "EXPECTED_STATUS": str(svc.validation_expected_status),
            "BODY_CONTAINS": svc.validation_body_contains or "", "TIMEOUT_SECONDS": "5", "RETRIES": "3",
        }),
        Metadata=checkov_skip(
            ("CKV_AWS_115", "Reserved concurrency would take from small accounts' pool; one deployment runs at "
                            "a time."),
            ("CKV_AWS_116", "The function reports failures to the deployment itself; a DLQ adds nothing."),
            ("CKV_AWS_173", "The variables hold no secrets (URLs, paths, expected status)."),
            ("CKV_AWS_272", "Inline source cannot be code-signed; it is reviewed in the template diff."),
        ),
    ))


def _autoscaling(t: CfnTemplate, config: EnvironmentConfig, shared: SharedResources) -> None:
    svc = config.service
    t.add_resource(scaling.ScalableTarget(
        "ScalableTarget", DependsOn=shared.service, ServiceNamespace="ecs",
        ScalableDimension="ecs:service:DesiredCount",
        ResourceId=f"service/{naming.cluster(config)}/{naming.service(config)}",
        MinCapacity=svc.min_count, MaxCapacity=svc.max_count,
    ))
    t.add_resource(scaling.ScalingPolicy(
        "CpuScalingPolicy", PolicyName=f"{config.prefix}-cpu", PolicyType="TargetTrackingScaling",
        ScalingTargetId=Ref("ScalableTarget"),
        TargetTrackingScalingPolicyConfiguration=scaling.TargetTrackingScalingPolicyConfiguration(
            TargetValue=float(svc.cpu_target_percent), ScaleInCooldown=120, ScaleOutCooldown=60,
            PredefinedMetricSpecification=scaling.PredefinedMetricSpecification(
                PredefinedMetricType="ECSServiceAverageCPUUtilization")),
    ))


def _outputs(t: CfnTemplate, config: EnvironmentConfig) -> None:
    svc = config.service
    dns = GetAtt("LoadBalancer", "DNSName")
    t.output("ProductionUrl", Sub(f"{svc.scheme}://${{LoadBalancer.DNSName}}:{svc.production_port}"),
             "URL of the production listener (point your DNS name at the load balancer for HTTPS).")
    t.output("TestUrl", Sub(f"{svc.scheme}://${{LoadBalancer.DNSName}}:{svc.test_port}"),
             "URL of the test listener: the new version during a deployment.")
    t.output("LoadBalancerDnsName", dns, "DNS name of the load balancer.")
    t.output("ClusterName", Ref("Cluster"), "ECS cluster name.")
    t.output("ServiceName", GetAtt("Service", "Name"), "ECS service name.")
    t.output("TaskDefinitionFamily", naming.task_family(config), "Task definition family of the service.")
    t.output("ContainerName", naming.container(config), "Container that receives the new image on release.")
    t.output("ContainerPort", str(svc.container_port), "Port the container serves on.")
    t.output("HookFunctionName", Ref("ValidationHookFunction"), "Validation hook Lambda function.")
    # The pipeline may pass exactly these roles to ECS when it registers a new task definition.
    t.output("TaskRoleArn", GetAtt("TaskRole", "Arn"), "Role of the application's tasks.")
    t.output("TaskExecutionRoleArn", GetAtt("TaskExecutionRole", "Arn"), "Role ECS uses to start the tasks.")
    t.output("ProductionListenerArn", Ref("ProductionListener"), "Production listener.")
    t.output("TestListenerArn", Ref("TestListener"), "Test listener.")
    t.output("BlueTargetGroupName", GetAtt("BlueTargetGroup", "TargetGroupName"), "Target group serving at creation.")
    t.output("GreenTargetGroupName", GetAtt("GreenTargetGroup", "TargetGroupName"),
             "Target group of the first replacement.")
