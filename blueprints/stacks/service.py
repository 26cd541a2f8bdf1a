"""Service stack: ECS Fargate behind an Application Load Balancer, released blue/green.

``build(config)`` adds the parts every deployment engine shares (cluster, logs, roles, task
definition, load balancer side from load_balancer, auto scaling, validation hook,
outputs) and lets the engine of ``service.deployment_engine`` (blueprints/engines/) add the
ECS service and its blue/green machinery.
"""

from __future__ import annotations

from awacs import ecr, secretsmanager, ssm
from awacs import logs as awslogs
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Parameter, Ref, Sub, Tags, ecs, iam, logs
from troposphere import applicationautoscaling as scaling

from .. import engines, naming, roles
from ..config import EnvironmentConfig
from ..engines.base import Engine, ServiceHandles, ServiceStack, load_balancer_full_name, load_balancer_sub
from ..template import CfnTemplate, checkov_skip
from . import load_balancer as lb
from . import platform, validation_hook
from . import service_traffic as traffic
from .pipeline_artifacts import IMAGE_PARAMETER

STACK = "service"
# Serves HTTP on port 80 at "/" (Apache with a PHP sample page), x86_64.
# https://gallery.ecr.aws/ecs-sample-image/amazon-ecs-sample
SAMPLE_IMAGE = "public.ecr.aws/ecs-sample-image/amazon-ecs-sample:latest"


def build(config: EnvironmentConfig) -> CfnTemplate:
    return build_stack(config).template


def build_stack(config: EnvironmentConfig) -> ServiceStack:
    """The template and the handles of its shared resources (what the pipeline releases)."""
    svc = config.service
    engine = engines.get(svc.deployment_engine)
    where = (
        f"on the {svc.scheme.upper()} load balancer of {config.env_prefix}"
        if config.member
        else f"behind an {svc.scheme.upper()} load balancer"
    )
    t = CfnTemplate(
        f"Service for {config.prefix}: ECS Fargate {where}, blue/green "
        f"deployments by {svc.deployment_engine} with a validation hook."
    )
    if config.member:
        vpc_id, private_subnets = _member_parameters(t, engine)
        inputs = traffic.platform_parameters(t, engine)
        log_group = _log_group(t, config)
    else:
        network = _parameters(t, engine)
        vpc_id, private_subnets = network.vpc_id, network.private_subnets
        cluster, log_group = platform.cluster(t, config), _log_group(t, config)
    execution_role, task_role = _roles(t, config, log_group)
    task_definition = _task_definition(t, config, log_group, execution_role, task_role)
    if config.member:
        parts = traffic.on_platform(t, config, vpc_id, engine, inputs)
    else:
        parts = traffic.single(t, config, network, cluster)
    alarms = lb.alarms(t, config, load_balancer_full_name(parts.load_balancer), (parts.blue, parts.green))
    hook = validation_hook.build(t, config, engine, private_subnets, parts.hook_group, parts.load_balancer)
    shared = ServiceHandles(
        cluster=parts.cluster,
        log_group=log_group,
        task_definition=task_definition,
        task_execution_role=execution_role,
        task_role=task_role,
        service_security_group=parts.service_group,
        private_subnets=private_subnets,
        load_balancer=parts.load_balancer,
        blue_target_group=parts.blue,
        green_target_group=parts.green,
        production_listener=parts.production,
        test_listener=parts.test,
        alarms=alarms,
        hook_function=hook,
    )
    service = engine.add_deployment(t, config, shared)
    _autoscaling(t, config, service)
    if engine.supports_outputs:
        _outputs(t, config, shared, service, load_balancer_sub(parts.load_balancer, "DNSName"))
    return ServiceStack(t, shared)


def _member_parameters(t: CfnTemplate, engine: Engine) -> tuple[Parameter, Parameter]:
    """(VPC, private subnets) of a service on the platform, and its image parameter."""
    vpc_id = t.param("VpcId", "VPC of the service (network stack output).", "Network", type="AWS::EC2::VPC::Id")
    private_subnets = t.param(
        "PrivateSubnetIds",
        "Private subnets of the tasks and the hook (network stack output).",
        "Network",
        type="List<AWS::EC2::Subnet::Id>",
    )
    _image_parameter(t, engine)
    return vpc_id, private_subnets


def _parameters(t: CfnTemplate, engine: Engine) -> lb.NetworkParameters:
    network = lb.NetworkParameters(
        vpc_id=t.param("VpcId", "VPC of the service (network stack output).", "Network", type="AWS::EC2::VPC::Id"),
        vpc_cidr=t.param("VpcCidr", "IPv4 CIDR of the VPC (network stack output).", "Network"),
        public_subnets=t.param(
            "PublicSubnetIds",
            "Public subnets of the load balancer (network stack output).",
            "Network",
            type="List<AWS::EC2::Subnet::Id>",
        ),
        private_subnets=t.param(
            "PrivateSubnetIds",
            "Private subnets of the tasks and the hook (network stack output).",
            "Network",
            type="List<AWS::EC2::Subnet::Id>",
        ),
    )
    _image_parameter(t, engine)
    return network


def _image_parameter(t: CfnTemplate, engine: Engine) -> None:
    # CloudFormation cannot change the task definition of a CODE_DEPLOY service after creation:
    # this image is used once, at creation; releases arrive through the pipeline. With the
    # cloudformation engine a release is a stack update that changes only this parameter.
    t.param(
        IMAGE_PARAMETER,
        "Container image of the task definition; a release changes only this parameter."
        if engine.released_by_stack_update
        else "Container image of the first task definition; later releases come from the pipeline.",
        "Service",
        Default=SAMPLE_IMAGE,
    )


def _log_group(t: CfnTemplate, config: EnvironmentConfig) -> logs.LogGroup:
    return t.add_resource(
        logs.LogGroup(
            "ServiceLogGroup",
            LogGroupName=naming.log_group(config),
            RetentionInDays=config.service.log_retention_days,
            DeletionPolicy=config.retain_policy,
            UpdateReplacePolicy=config.retain_policy,
            Metadata=checkov_skip(
                (
                    "CKV_AWS_158",
                    "CloudWatch Logs encrypts at rest with AWS-owned keys; the application must not log secrets.",
                ),
                ("CKV_AWS_338", "Retention is set per environment in params (service.log_retention_days)."),
            ),
        )
    )


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


def _roles(t: CfnTemplate, config: EnvironmentConfig, log_group: logs.LogGroup) -> tuple[iam.Role, iam.Role]:
    """(execution role, task role)."""
    svc = config.service
    statements = [
        # GetAuthorizationToken has no resource-level permissions: AWS allows only "*".
        Statement(Effect=Allow, Action=[ecr.GetAuthorizationToken], Resource=["*"]),
        Statement(
            Effect=Allow,
            Action=[ecr.BatchCheckLayerAvailability, ecr.GetDownloadUrlForLayer, ecr.BatchGetImage],
            Resource=[
                Sub(
                    f"arn:${{AWS::Partition}}:ecr:${{AWS::Region}}:${{AWS::AccountId}}:repository/"
                    f"{naming.repository(config)}"
                )
            ],
        ),
        Statement(
            Effect=Allow, Action=[awslogs.CreateLogStream, awslogs.PutLogEvents], Resource=[GetAtt(log_group, "Arn")]
        ),
    ]
    secret_arns = sorted(svc.secrets.values())
    from_secrets_manager = [a for a in secret_arns if ":secretsmanager:" in a]
    from_ssm = [a for a in secret_arns if ":ssm:" in a]
    if from_secrets_manager:
        statements.append(
            Statement(
                Effect=Allow, Action=[secretsmanager.GetSecretValue], Resource=_secret_resources(from_secrets_manager)
            )
        )
    if from_ssm:
        statements.append(Statement(Effect=Allow, Action=[ssm.GetParameters], Resource=from_ssm))
    execution_role = t.add_resource(
        iam.Role(
            "TaskExecutionRole",
            Description=f"ECS agent of {config.prefix}: pull the image, write the log group, read the named secrets.",
            AssumeRolePolicyDocument=roles.trust("ecs-tasks.amazonaws.com"),
            Policies=[roles.inline_policy("pull-log-secrets", statements)],
        )
    )
    task_role = t.add_resource(
        iam.Role(
            "TaskRole",
            Description=f"Application of {config.prefix}; no permissions until the application needs some.",
            AssumeRolePolicyDocument=roles.trust("ecs-tasks.amazonaws.com"),
        )
    )
    return execution_role, task_role


def _task_definition(
    t: CfnTemplate, config: EnvironmentConfig, log_group: logs.LogGroup, execution_role: iam.Role, task_role: iam.Role
) -> ecs.TaskDefinition:
    svc = config.service
    health = {}
    if svc.container_health_check:
        health["HealthCheck"] = ecs.HealthCheck(
            Command=["CMD-SHELL", svc.container_health_check], Interval=30, Timeout=5, Retries=3, StartPeriod=60
        )
    container = ecs.ContainerDefinition(
        Name=naming.container(config),
        Image=Ref(IMAGE_PARAMETER),
        Essential=True,
        PortMappings=[ecs.PortMapping(ContainerPort=svc.container_port, Protocol="tcp")],
        Environment=[ecs.Environment(Name=k, Value=v) for k, v in sorted(svc.environment.items())],
        Secrets=[ecs.Secret(Name=k, ValueFrom=v) for k, v in sorted(svc.secrets.items())],
        LogConfiguration=ecs.LogConfiguration(
            LogDriver="awslogs",
            Options={
                "awslogs-group": Ref(log_group),
                "awslogs-region": Ref("AWS::Region"),
                "awslogs-stream-prefix": naming.container(config),
            },
        ),
        **health,
    )
    return t.add_resource(
        ecs.TaskDefinition(
            "TaskDefinition",
            Family=naming.task_family(config),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            Cpu=str(svc.cpu),
            Memory=str(svc.memory),
            RuntimePlatform=ecs.RuntimePlatform(CpuArchitecture=svc.cpu_architecture, OperatingSystemFamily="LINUX"),
            ExecutionRoleArn=GetAtt(execution_role, "Arn"),
            TaskRoleArn=GetAtt(task_role, "Arn"),
            ContainerDefinitions=[container],
            Tags=Tags(Name=naming.task_family(config)),
            Metadata=checkov_skip(
                (
                    "CKV_AWS_336",
                    "The sample image (Apache) writes to its filesystem; a read-only root needs an image built for it.",
                )
            ),
        )
    )


def _autoscaling(t: CfnTemplate, config: EnvironmentConfig, service: ecs.Service) -> None:
    svc = config.service
    target = t.add_resource(
        scaling.ScalableTarget(
            "ScalableTarget",
            DependsOn=service,
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=f"service/{naming.cluster(config)}/{naming.service(config)}",
            MinCapacity=svc.min_count,
            MaxCapacity=svc.max_count,
        )
    )
    t.add_resource(
        scaling.ScalingPolicy(
            "CpuScalingPolicy",
            PolicyName=f"{config.prefix}-cpu",
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=Ref(target),
            TargetTrackingScalingPolicyConfiguration=scaling.TargetTrackingScalingPolicyConfiguration(
                TargetValue=float(svc.cpu_target_percent),
                ScaleInCooldown=120,
                ScaleOutCooldown=60,
                PredefinedMetricSpecification=scaling.PredefinedMetricSpecification(
                    PredefinedMetricType="ECSServiceAverageCPUUtilization"
                ),
            ),
        )
    )


def _outputs(
    t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles, service: ecs.Service, dns_sub: str
) -> None:
    svc = config.service
    t.output(
        "ProductionUrl",
        Sub(f"{svc.scheme}://{dns_sub}:{svc.production_port}"),
        "URL of the production listener (point your DNS name at the load balancer for HTTPS).",
    )
    t.output(
        "TestUrl",
        Sub(f"{svc.scheme}://{dns_sub}:{svc.test_port}"),
        "URL of the test listener: the new version during a deployment.",
    )
    t.output("LoadBalancerDnsName", shared.load_balancer_dns_name(), "DNS name of the load balancer.")
    t.output("ClusterName", Ref(shared.cluster), "ECS cluster name.")
    t.output("ServiceName", GetAtt(service, "Name"), "ECS service name.")
    t.output("TaskDefinitionFamily", naming.task_family(config), "Task definition family of the service.")
    t.output("ContainerName", naming.container(config), "Container that receives the new image on release.")
    t.output("ContainerPort", str(svc.container_port), "Port the container serves on.")
    t.output("HookFunctionName", Ref(shared.hook_function), "Validation hook Lambda function.")
    # The pipeline may pass exactly these roles to ECS when it registers a new task definition.
    t.output("TaskRoleArn", GetAtt(shared.task_role, "Arn"), "Role of the application's tasks.")
    t.output("TaskExecutionRoleArn", GetAtt(shared.task_execution_role, "Arn"), "Role ECS uses to start the tasks.")
    t.output("ProductionListenerArn", Ref(shared.production_listener), "Production listener.")
    t.output("TestListenerArn", Ref(shared.test_listener), "Test listener.")
    t.output(
        "BlueTargetGroupName", GetAtt(shared.blue_target_group, "TargetGroupName"), "Target group serving at creation."
    )
    t.output(
        "GreenTargetGroupName",
        GetAtt(shared.green_target_group, "TargetGroupName"),
        "Target group of the first replacement.",
    )
