"""Engine ``ecs``: ECS's own blue/green deployments (DeploymentController ECS, strategy BLUE_GREEN).

On a release (the pipeline's ECS deploy action updates the service with a new task definition
revision) ECS starts the green revision on the alternate target group, moves the test listener
rule to it, invokes the validation hook at POST_TEST_TRAFFIC_SHIFT, moves the production listener
rule, keeps both revisions for the bake time (``termination_wait_minutes``), and rolls back on a
FAILED hook or an alarm.

ECS shifts traffic by rewriting listener *rules*, so this engine adds one rule per listener
(forwarding to blue at weight 100 and green at 0) in front of the shared listeners, whose default
action keeps forwarding to blue; the rule matches every path, so the default is never reached.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-blue-green.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/blue-green-permissions.html
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from awacs import ecs as awsecs
from awacs import elasticloadbalancing as awselb
from awacs.aws import PolicyDocument, Statement
from troposphere import GetAtt, Ref, Sub, codebuild, codepipeline, ecs, iam
from troposphere import elasticloadbalancingv2 as elb

from .. import naming, roles
from ..stacks import pipeline_actions as actions
from ..stacks import pipeline_artifacts as artifacts
from . import base
from . import release_commands as commands
from .base import ARN, CODEBUILD_MAX_TIMEOUT_MINUTES, BuildStep, ReleaseStep, ServiceHandles, ServiceStack
from .registry import register

if TYPE_CHECKING:
    from ..config import EnvironmentConfig
    from ..config.service import ServiceConfig
    from ..template import CfnTemplate

PRODUCTION_RULE = "ProductionListenerRule"
TEST_RULE = "TestListenerRule"
LOAD_BALANCER_ROLE = "EcsLoadBalancerRole"
HOOK_INVOKE_ROLE = "EcsHookInvokeRole"
# ECS blue/green: BakeTimeInMinutes 0-1440.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-deploymentconfiguration.html
ECS_MAX_BAKE_TIME_MINUTES = 1440


class EcsEngine:
    name: ClassVar[str] = "ecs"
    hook_handler: ClassVar[str] = "ecs_handler"
    supports_outputs: ClassVar[bool] = True
    released_by_stack_update: ClassVar[bool] = False
    artifacts: ClassVar[tuple[str, ...]] = ("imageDetail.json", "taskdef.json")
    service_outputs: ClassVar[dict[str, str]] = {
        "ClusterName": "ClusterName",
        "ServiceName": "ServiceName",
        **actions.TASK_OUTPUTS,
    }
    approval_in_deploy_stage: ClassVar[bool] = False

    # --- service stack ------------------------------------------------------------------------

    def check_service(self, service: ServiceConfig) -> None:
        """BLUE_GREEN moves production traffic at once; the bake time has its own upper limit."""
        if service.deployment_config != "AllAtOnce":
            raise ValueError(
                f"deployment_config {service.deployment_config} is not available with the ecs engine: its BLUE_GREEN "
                "strategy moves production traffic all at once (allowed: AllAtOnce)"
            )
        if service.termination_wait_minutes > ECS_MAX_BAKE_TIME_MINUTES:
            raise ValueError(
                f"termination_wait_minutes {service.termination_wait_minutes} is the ecs engine's bake time, which "
                f"is at most {ECS_MAX_BAKE_TIME_MINUTES} minutes (allowed: 0-{ECS_MAX_BAKE_TIME_MINUTES})"
            )

    def hook_statements(self, config: EnvironmentConfig) -> list[Statement]:
        """Nothing to report to: ECS reads the hook's answer from the function's return value."""
        return []

    def add_deployment(self, t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> ecs.Service:
        production_rule, test_rule = _listener_rules(t, shared)
        load_balancer_role = _load_balancer_role(t, config, shared, production_rule, test_rule)
        hook_invoke_role = _hook_invoke_role(t, config, shared)
        return t.add_resource(
            base.service(
                config,
                shared,
                # By family, as with the codedeploy engine: releases register revisions outside the
                # stack, and a stack update must not roll the service back to the template's image.
                TaskDefinition=naming.task_family(config),
                DependsOn=[shared.task_definition],
                LaunchType="FARGATE",
                DeploymentController=ecs.DeploymentController(Type="ECS"),
                DeploymentConfiguration=ecs.DeploymentConfiguration(
                    Strategy="BLUE_GREEN",
                    BakeTimeInMinutes=config.service.termination_wait_minutes,
                    LifecycleHooks=[
                        ecs.DeploymentLifecycleHook(
                            HookTargetArn=GetAtt(shared.hook_function, "Arn"),
                            RoleArn=GetAtt(hook_invoke_role, "Arn"),
                            LifecycleStages=["POST_TEST_TRAFFIC_SHIFT"],
                        )
                    ],
                    Alarms=ecs.DeploymentAlarms(
                        AlarmNames=[Ref(alarm) for alarm in shared.alarms], Enable=True, Rollback=True
                    ),
                ),
                LoadBalancers=[
                    base.blue_load_balancer(
                        config,
                        shared,
                        AdvancedConfiguration=ecs.AdvancedConfiguration(
                            AlternateTargetGroupArn=Ref(shared.green_target_group),
                            ProductionListenerRule=Ref(production_rule),
                            TestListenerRule=Ref(test_rule),
                            RoleArn=GetAtt(load_balancer_role, "Arn"),
                        ),
                    )
                ],
                NetworkConfiguration=ecs.NetworkConfiguration(AwsvpcConfiguration=base.private_subnets(shared)),
            )
        )

    # --- pipeline stack -----------------------------------------------------------------------
    # The release registers the service stack's own task definition (environment, secrets, sizes,
    # logging as the stack declares them) with the scanned image and points the service at that
    # exact revision. Not CodePipeline's ECS action: it builds its revision from the one the
    # service runs and replaces only the image, so what the stack changes in the task definition
    # would never reach the service (CodePipeline action reference, "Amazon ECS").

    def pipeline_description(self) -> str:
        return "blue/green deploy by ecs (the service stack's task definition, registered with the new image)"

    def static_service_values(self, config: EnvironmentConfig) -> dict[str, str]:
        return {}

    def pipeline_parameters(self, t: CfnTemplate) -> None:
        t.param("ClusterName", "ECS cluster of the service (service stack output).", actions.SERVICE_GROUP)
        t.param("ServiceName", "ECS service released by the pipeline (service stack output).", actions.SERVICE_GROUP)
        actions.task_parameters(t)

    def build_variables(self) -> list[codebuild.EnvironmentVariable]:
        return actions.task_build_variables()

    def build_statements(self, config: EnvironmentConfig) -> list[Statement]:
        return []

    def build_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[BuildStep]:
        taskdef = artifacts.heredoc_body(artifacts.taskdef_json(config, service).rstrip("\n"))
        taskdef = taskdef.replace(artifacts.IMAGE_PLACEHOLDER, "${IMAGE_URI}")
        return [
            BuildStep(
                "Task definition of the service stack (same container, sizes, environment and roles) with\n"
                "the image that passed the scan gate; the Deploy stage registers it.",
                (f"cat > taskdef.json <<TASKDEF_JSON\n{taskdef}\nTASKDEF_JSON",),
            )
        ]

    def release_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[ReleaseStep]:
        return [
            ReleaseStep(
                action="Deploy",
                description=f"Registers the release's task definition and deploys it to {naming.service(config)}.",
                steps=(
                    BuildStep(
                        "Register the task definition of the build (the stack's, with the new image) and\n"
                        "give the service exactly that revision: ECS starts the blue/green deployment.",
                        (
                            commands.register_task_definition("taskdef.json"),
                            'echo "registered $TASK_DEFINITION_ARN"',
                            commands.update_service("CLUSTER_NAME", "SERVICE_NAME"),
                        ),
                    ),
                    # ECS runs the blue/green deployment (test traffic, hook, production shift,
                    # bake time) and rolls back by itself; the step waits so the pipeline shows it.
                    BuildStep(
                        "Wait for ECS's verdict on the deployment.",
                        (commands.wait_for_ecs_deployment("CLUSTER_NAME", "SERVICE_NAME"),),
                        waits=True,
                    ),
                ),
                variables=(("CLUSTER_NAME", Ref("ClusterName")), ("SERVICE_NAME", Ref("ServiceName"))),
                # Traffic shift, validation and bake time, then the old tasks' drain.
                timeout_minutes=min(60 + config.service.termination_wait_minutes, CODEBUILD_MAX_TIMEOUT_MINUTES),
            )
        ]

    def release_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return [
            *actions.task_definition_statements(),
            actions.pass_task_roles([Ref("TaskRoleArn"), Ref("TaskExecutionRoleArn")]),
            # Give this service the new revision and watch its deployment.
            roles.allow(
                [awsecs.UpdateService, awsecs.DescribeServices],
                [Sub(ARN % ("ecs", "service/${ClusterName}/${ServiceName}"))],
            ),
        ]

    def deploy_actions(
        self,
        t: CfnTemplate,
        config: EnvironmentConfig,
        approval: bool,
        service: ServiceStack,
        release_projects: dict[str, codebuild.Project],
    ) -> list[codepipeline.Actions]:
        return [actions.codebuild_action("Deploy", release_projects["Deploy"])]

    def pipeline_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return []


def _listener_rules(t: CfnTemplate, shared: ServiceHandles) -> tuple[elb.ListenerRule, elb.ListenerRule]:
    rules = []
    for logical_id, listener in ((PRODUCTION_RULE, shared.production_listener), (TEST_RULE, shared.test_listener)):
        rules.append(
            t.add_resource(
                elb.ListenerRule(
                    logical_id,
                    ListenerArn=Ref(listener),
                    Priority=1,
                    Conditions=[
                        elb.Condition(Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=["*"]))
                    ],
                    # ECS rewrites these weights during a deployment; the template states the state at creation.
                    Actions=[
                        elb.ListenerRuleAction(
                            Type="forward",
                            ForwardConfig=elb.ForwardConfig(
                                TargetGroups=[
                                    elb.TargetGroupTuple(TargetGroupArn=Ref(shared.blue_target_group), Weight=100),
                                    elb.TargetGroupTuple(TargetGroupArn=Ref(shared.green_target_group), Weight=0),
                                ]
                            ),
                        )
                    ],
                )
            )
        )
    return rules[0], rules[1]


def _assume_by_ecs() -> PolicyDocument:
    # The trust policy AWS documents for the ECS infrastructure role has no aws:SourceAccount
    # condition, and nothing says ECS sends that key when it assumes the role; a condition on an
    # absent key would deny the assume-role and fail every deployment, so none is set:
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html
    return roles.trust("ecs.amazonaws.com", source_account=False)


def _load_balancer_role(
    t: CfnTemplate,
    config: EnvironmentConfig,
    shared: ServiceHandles,
    production_rule: elb.ListenerRule,
    test_rule: elb.ListenerRule,
) -> iam.Role:
    """The actions of AWS's AmazonECSInfrastructureRolePolicyForLoadBalancers that an ALB
    blue/green deployment uses, scoped to this stack's target groups, listeners and rules:
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSInfrastructureRolePolicyForLoadBalancers.html
    """
    statements = [
        # Elastic Load Balancing Describe* actions have no resource-level permissions: "*" only.
        roles.allow(
            [
                awselb.DescribeListeners,
                awselb.DescribeRules,
                awselb.DescribeTargetGroups,
                awselb.DescribeTargetHealth,
            ],
            ["*"],
        ),
        roles.allow(
            [awselb.RegisterTargets, awselb.DeregisterTargets],
            [Ref(shared.blue_target_group), Ref(shared.green_target_group)],
        ),
        roles.allow([awselb.ModifyListener], [Ref(shared.production_listener), Ref(shared.test_listener)]),
        roles.allow([awselb.ModifyRule], [Ref(production_rule), Ref(test_rule)]),
    ]
    return t.add_resource(
        iam.Role(
            LOAD_BALANCER_ROLE,
            Description=f"ECS blue/green of {config.prefix}: move its listener rules between its target groups.",
            AssumeRolePolicyDocument=_assume_by_ecs(),
            Policies=[roles.inline_policy("switch-listener-rules", statements)],
        )
    )


def _hook_invoke_role(t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> iam.Role:
    """ECS invokes the lifecycle hook with this role; AWS's example allows every function, this
    one only the stack's validation function."""
    return t.add_resource(
        iam.Role(
            HOOK_INVOKE_ROLE,
            Description=f"ECS blue/green of {config.prefix}: invoke its validation hook.",
            AssumeRolePolicyDocument=_assume_by_ecs(),
            Policies=[roles.inline_policy("invoke-validation-hook", [base.invoke_hook(shared)])],
        )
    )


ENGINE = register(EcsEngine())
