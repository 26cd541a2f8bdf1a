"""What a blue/green engine is: the ``Engine`` protocol, the handles of the shared resources it
builds on, and the service pieces every engine builds the same way.

The service blueprint (``blueprints.stacks.service``) builds what all engines share (cluster, task
definition, load balancer, listeners, target groups, alarms, validation hook) and passes the
troposphere objects it created as ``ServiceHandles``; the engine adds the ECS service and its
blue/green machinery. The pipeline blueprint (``blueprints.stacks.pipeline``) asks the same engine
for its side of a release: parameters, build commands, artifacts, deploy stage and permissions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from awacs import awslambda
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Parameter, Ref, Tags, cloudwatch, ec2, ecs, iam, logs
from troposphere import awslambda as tlambda
from troposphere import elasticloadbalancingv2 as elb

from .. import naming

if TYPE_CHECKING:
    from troposphere import codebuild, codepipeline

    from ..config import EnvironmentConfig
    from ..config.service import ServiceConfig
    from ..template import CfnTemplate

# An ARN in this stack's partition, region and account: ARN % (service, resource), inside Sub.
ARN = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:%s"
# CodeBuild's longest build timeout (AWS::CodeBuild::Project TimeoutInMinutes: 5-2160).
CODEBUILD_MAX_TIMEOUT_MINUTES = 2160
# Auto scaling and the pipeline find the ECS service under this logical ID, whatever the engine.
SERVICE_LOGICAL_ID = "Service"


@dataclass(frozen=True)
class PlatformLoadBalancer:
    """The environment's shared load balancer as a service stack of a several-services environment
    sees it: parameters wired to the platform stack's outputs."""

    full_name: Parameter
    dns_name: Parameter


def load_balancer_full_name(load_balancer: elb.LoadBalancer | PlatformLoadBalancer) -> Any:
    if isinstance(load_balancer, PlatformLoadBalancer):
        return Ref(load_balancer.full_name)
    return GetAtt(load_balancer, "LoadBalancerFullName")


def load_balancer_dns_name(load_balancer: elb.LoadBalancer | PlatformLoadBalancer) -> Any:
    if isinstance(load_balancer, PlatformLoadBalancer):
        return Ref(load_balancer.dns_name)
    return GetAtt(load_balancer, "DNSName")


def load_balancer_sub(load_balancer: elb.LoadBalancer | PlatformLoadBalancer, attribute: str) -> str:
    """``${...}`` inside Sub for the load balancer's ``attribute`` (LoadBalancerFullName or DNSName)."""
    if isinstance(load_balancer, PlatformLoadBalancer):
        parameter = load_balancer.full_name if attribute == "LoadBalancerFullName" else load_balancer.dns_name
        return "${" + parameter.title + "}"
    return "${" + load_balancer.title + "." + attribute + "}"


@dataclass(frozen=True)
class ServiceHandles:
    """The shared resources of the service stack, as the objects their builders returned. In a
    service stack of a several-services environment the cluster, the load balancer and (for an
    engine that shares them) the listeners are the platform stack's, arriving as parameters; the
    service's rules on them are the engine's (``listener_rules``)."""

    cluster: ecs.Cluster | Parameter
    log_group: logs.LogGroup
    task_definition: ecs.TaskDefinition
    task_execution_role: iam.Role
    task_role: iam.Role
    service_security_group: ec2.SecurityGroup
    private_subnets: Parameter
    load_balancer: elb.LoadBalancer | PlatformLoadBalancer
    blue_target_group: elb.TargetGroup
    green_target_group: elb.TargetGroup
    production_listener: elb.Listener | Parameter
    test_listener: elb.Listener | Parameter
    alarms: tuple[cloudwatch.Alarm, ...]
    hook_function: tlambda.Function

    @property
    def on_platform(self) -> bool:
        """Whether the listeners are the platform stack's, shared with other services."""
        return isinstance(self.production_listener, Parameter)

    def load_balancer_full_name_sub(self) -> str:
        """The load balancer's full name (app/<name>/<id>) as a ``${...}`` reference inside Sub."""
        return load_balancer_sub(self.load_balancer, "LoadBalancerFullName")

    def load_balancer_dns_name(self) -> Any:
        return load_balancer_dns_name(self.load_balancer)


@dataclass(frozen=True)
class ServiceStack:
    """The service stack's template and the handles of its shared resources: what the pipeline
    releases (its task definition becomes the release's task definition)."""

    template: CfnTemplate
    handles: ServiceHandles


@dataclass(frozen=True)
class BuildStep:
    """Commands a CodeBuild project of the pipeline runs, under a comment saying why."""

    comment: str
    commands: tuple[str, ...]
    # The commands only wait for AWS to finish work already started (a deployment, a stack
    # update). The release rehearsal reports them as checked, not run: the emulator runs no
    # deployments to wait for.
    waits: bool = False


@dataclass(frozen=True)
class ReleaseStep:
    """One CodeBuild action of the Deploy stage: a project of its own (named after the action),
    run under the pipeline's release role, reading the build's output artifact."""

    action: str  # the action's name, also the project's name suffix
    description: str
    steps: tuple[BuildStep, ...]
    # CodeBuild environment variables of this project: name -> value (a Ref to a pipeline parameter).
    variables: tuple[tuple[str, Any], ...] = ()
    timeout_minutes: int = 60


@runtime_checkable
class Engine(Protocol):
    """One blue/green engine, service side and pipeline side. Register an instance with
    ``blueprints.engines.registry.register``; ``params`` then accepts its ``name``."""

    name: ClassVar[str]
    # --- service stack
    # Function of blueprints/assets/validation_hook.py adapting the check to the engine's hook
    # contract (the Lambda handler is ``index.<hook_handler>``).
    hook_handler: ClassVar[str]
    # Whether the service template may have Outputs (the AWS::CodeDeployBlueGreen transform forbids them).
    supports_outputs: ClassVar[bool]
    # Whether a release is a stack update changing only the image parameter (else the pipeline
    # registers task definition revisions outside CloudFormation).
    released_by_stack_update: ClassVar[bool]
    # Whether it moves traffic by listener *rules*, so that several services can share the
    # environment's listeners, each with its own rules (else a service gets listeners of its own).
    shares_listeners: ClassVar[bool]

    def check_service(self, service: ServiceConfig) -> None:
        """Raise ValueError (the message says what is allowed) for settings the engine cannot express."""

    def hook_statements(self, config: EnvironmentConfig) -> list[Statement]:
        """What the validation hook's role may do to report its result to this engine."""

    def add_deployment(self, t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> ecs.Service:
        """Add the ECS service (logical ID ``SERVICE_LOGICAL_ID``) and the blue/green machinery."""

    # --- pipeline stack
    # Files of the build's output artifact the deploy stage reads (imageDetail.json first).
    artifacts: ClassVar[tuple[str, ...]]
    # Pipeline parameter -> service stack output it is wired to through the manifest.
    service_outputs: ClassVar[dict[str, str]]

    def pipeline_description(self) -> str:
        """How a release is deployed, for the pipeline template's Description."""

    def static_service_values(self, config: EnvironmentConfig) -> dict[str, str]:
        """Pipeline parameters with deterministic values, for templates that have no Outputs."""

    def pipeline_parameters(self, t: CfnTemplate) -> None:
        """Parameters naming the service stack's resources (the values above)."""

    def build_variables(self) -> list[codebuild.EnvironmentVariable]:
        """CodeBuild environment variables the build steps read."""

    def build_statements(self, config: EnvironmentConfig) -> list[Statement]:
        """What the build role needs for the build steps."""

    def build_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[BuildStep]:
        """Commands that write the deploy artifacts into the artifact folder."""

    def release_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[ReleaseStep]:
        """CodeBuild actions of the Deploy stage (none when it uses only CodePipeline's own actions)."""

    def release_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        """What the release role (the identity of ``release_steps``) needs."""

    def deploy_actions(
        self,
        t: CfnTemplate,
        config: EnvironmentConfig,
        approval: bool,
        service: ServiceStack,
        release_projects: dict[str, codebuild.Project],
    ) -> list[codepipeline.Actions]:
        """The Deploy stage. ``approval``: the manual approval goes inside it, when
        ``approval_in_deploy_stage`` (else the pipeline adds an Approve stage before it).
        ``release_projects``: the project of each of ``release_steps``, by action name."""

    approval_in_deploy_stage: ClassVar[bool]

    def pipeline_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        """What the pipeline role itself needs for the Deploy stage (starting the release projects
        is granted by the pipeline blueprint)."""


def service(config: EnvironmentConfig, shared: ServiceHandles, **engine_properties: Any) -> ecs.Service:
    """The ECS service with what every engine sets; the engine adds its deployment controller and
    whatever that controller lets the service itself carry."""
    svc = config.service
    # ECS accepts a health check grace period only on a service that has load balancers itself
    # ("only valid if your service is configured to use a load balancer"); with the EXTERNAL
    # controller they belong to the task sets, and CreateService fails if it is set:
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
    # https://github.com/aws-cloudformation/cfn-lint/issues/3612
    grace = (
        {"HealthCheckGracePeriodSeconds": svc.health_check_grace_period_seconds}
        if "LoadBalancers" in engine_properties
        else {}
    )
    return ecs.Service(
        SERVICE_LOGICAL_ID,
        ServiceName=naming.service(config),
        Cluster=Ref(shared.cluster),
        DesiredCount=svc.desired_count,
        **grace,
        PropagateTags="SERVICE",
        EnableECSManagedTags=True,
        Tags=Tags(Name=naming.service(config)),
        **engine_properties,
    )


def private_subnets(shared: ServiceHandles, configuration: Any = ecs.AwsvpcConfiguration) -> Any:
    """Tasks run in the private subnets, without public addresses, in the service security group.
    ``configuration`` is the property class (a task set spells it differently from a service)."""
    return configuration(
        AssignPublicIp="DISABLED",
        Subnets=Ref(shared.private_subnets),
        SecurityGroups=[Ref(shared.service_security_group)],
    )


def blue_load_balancer(config: EnvironmentConfig, shared: ServiceHandles, **extra: Any) -> ecs.LoadBalancer:
    """The container registered in the blue target group (where production traffic starts)."""
    return ecs.LoadBalancer(
        ContainerName=naming.container(config),
        ContainerPort=config.service.container_port,
        TargetGroupArn=Ref(shared.blue_target_group),
        **extra,
    )


def invoke_hook(shared: ServiceHandles) -> Statement:
    """What the deployment needs of the validation hook: invoking this stack's function, no other."""
    return Statement(Effect=Allow, Action=[awslambda.InvokeFunction], Resource=[GetAtt(shared.hook_function, "Arn")])


PRODUCTION_RULE = "ProductionListenerRule"
TEST_RULE = "TestListenerRule"


def listener_rules(
    t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles, weighted: bool
) -> tuple[elb.ListenerRule, elb.ListenerRule]:
    """(production, test): the service's rule on each listener, forwarding its requests to blue.
    ``weighted``: forward to blue at weight 100 and green at 0 (the form ECS's own blue/green
    rewrites), else a plain forward to blue. On listeners of its own a service's rule takes every
    path (priority 1); on the platform's shared listeners it is the service's route."""
    route = config.route
    if route is None:
        conditions = [elb.Condition(Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=["*"]))]
        priority = 1
    else:
        conditions = []
        if route.path_patterns:
            conditions.append(
                elb.Condition(
                    Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=list(route.path_patterns))
                )
            )
        if route.host_headers:
            conditions.append(
                elb.Condition(
                    Field="host-header", HostHeaderConfig=elb.HostHeaderConfig(Values=list(route.host_headers))
                )
            )
        priority = route.priority
    if weighted:
        action = elb.ListenerRuleAction(
            Type="forward",
            ForwardConfig=elb.ForwardConfig(
                TargetGroups=[
                    elb.TargetGroupTuple(TargetGroupArn=Ref(shared.blue_target_group), Weight=100),
                    elb.TargetGroupTuple(TargetGroupArn=Ref(shared.green_target_group), Weight=0),
                ]
            ),
        )
    else:
        action = elb.ListenerRuleAction(Type="forward", TargetGroupArn=Ref(shared.blue_target_group))
    rules = []
    for logical_id, listener in ((PRODUCTION_RULE, shared.production_listener), (TEST_RULE, shared.test_listener)):
        rules.append(
            t.add_resource(
                elb.ListenerRule(
                    logical_id,
                    ListenerArn=Ref(listener),
                    Priority=priority,
                    Conditions=conditions,
                    # The engine rewrites the action during a deployment; the template states the state at creation.
                    Actions=[action],
                )
            )
        )
    return rules[0], rules[1]
