"""Engine ``ecs``: ECS's own blue/green deployments (DeploymentController ECS; strategy BLUE_GREEN
for ``deployment_config: AllAtOnce``, CANARY or LINEAR for the canary and linear configurations).

On a release (the pipeline's ECS deploy action updates the service with a new task definition
revision) ECS starts the green revision on the alternate target group, moves the test listener
rule to it, invokes the validation hook at POST_TEST_TRAFFIC_SHIFT, moves the production listener
rule (at once with BLUE_GREEN; with CANARY one step, the canary bake time, then the rest; with
LINEAR equal steps with a step bake time after each but the last), keeps both revisions for the
bake time (``termination_wait_minutes``), and rolls back on a FAILED hook or an alarm.
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/canary-deployment.html
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-linear.html

ECS shifts traffic by rewriting listener *rules*, so this engine adds one rule per listener
(forwarding to blue at weight 100 and green at 0). On a service's own listeners the rule matches
every path and the listeners' default action (forward to blue) is never reached; on the shared
listeners of a several-services environment the rule carries the service's route, and ECS may
rewrite only these two rules.
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
from .ecs_shifts import (
    CFN_MAX_SHIFT_MINUTES,
    ECS_CANARY_PERCENT,
    ECS_MAX_BAKE_TIME_MINUTES,
    ECS_STEP_BAKE_MINUTES,
    ECS_STEP_PERCENT,
    PREDEFINED_SHIFTS,
    Shift,
    deployment_shift,
)
from .registry import register

if TYPE_CHECKING:
    from ..config import EnvironmentConfig
    from ..config.service import ServiceConfig
    from ..template import CfnTemplate

LOAD_BALANCER_ROLE = "EcsLoadBalancerRole"
HOOK_INVOKE_ROLE = "EcsHookInvokeRole"
# The release step's wait gives up this long before the project's timeout, so it says why it stopped
# (the register and update commands and the build's provisioning run first).
RELEASE_WAIT_MARGIN_MINUTES = 10

__all__ = [
    "CFN_MAX_SHIFT_MINUTES",
    "ECS_CANARY_PERCENT",
    "ECS_MAX_BAKE_TIME_MINUTES",
    "ECS_STEP_BAKE_MINUTES",
    "ECS_STEP_PERCENT",
    "ENGINE",
    "PREDEFINED_SHIFTS",
    "EcsEngine",
    "Shift",
    "deployment_shift",
]


class EcsEngine:
    name: ClassVar[str] = "ecs"
    hook_handler: ClassVar[str] = "ecs_handler"
    supports_outputs: ClassVar[bool] = True
    released_by_stack_update: ClassVar[bool] = False
    # ECS rewrites the rules named in AdvancedConfiguration (ProductionListenerRule, TestListenerRule).
    shares_listeners: ClassVar[bool] = True
    artifacts: ClassVar[tuple[str, ...]] = ("imageDetail.json", "taskdef.json")
    service_outputs: ClassVar[dict[str, str]] = {
        "ClusterName": "ClusterName",
        "ServiceName": "ServiceName",
        **actions.TASK_OUTPUTS,
    }
    approval_in_deploy_stage: ClassVar[bool] = False

    # --- service stack ------------------------------------------------------------------------

    def check_service(self, service: ServiceConfig) -> None:
        """Every deployment_config maps to BLUE_GREEN, CANARY or LINEAR; the bake time, a custom
        shift's percent and step bake time have ECS's ranges, and bake time plus shift time must stay
        within what CloudFormation accepts."""
        bake = service.termination_wait_minutes
        if bake > ECS_MAX_BAKE_TIME_MINUTES:
            raise ValueError(
                f"termination_wait_minutes {bake} is the ecs engine's bake time, which "
                f"is at most {ECS_MAX_BAKE_TIME_MINUTES} minutes (allowed: 0-{ECS_MAX_BAKE_TIME_MINUTES})"
            )
        shift = deployment_shift(service)
        if shift is None:
            return
        custom = service.custom_deployment
        if custom is not None:
            linear = shift.strategy == "LINEAR"
            low, high = ECS_STEP_PERCENT if linear else ECS_CANARY_PERCENT
            if not low <= shift.percent <= high:
                allowed_low, allowed_high = max(low, custom.PERCENTAGES[0]), min(high, custom.PERCENTAGES[1])
                raise ValueError(
                    f"custom_deployment.percentage {custom.percentage} is the ecs engine's "
                    f"{'StepPercent' if linear else 'CanaryPercent'}, which is {low:g}-{high:g} with its "
                    f"{shift.strategy} strategy (allowed: {allowed_low:g}-{allowed_high:g})"
                )
            low_minutes, high_minutes = ECS_STEP_BAKE_MINUTES
            if not low_minutes <= shift.step_bake_minutes <= high_minutes:
                raise ValueError(
                    f"custom_deployment.interval_minutes {custom.interval_minutes} is the ecs engine's "
                    f"{'StepBakeTimeInMinutes' if linear else 'CanaryBakeTimeInMinutes'}, which is at most "
                    f"{high_minutes} minutes (allowed: {max(low_minutes, custom.INTERVALS[0])}-{high_minutes})"
                )
        if bake + shift.minutes > CFN_MAX_SHIFT_MINUTES:
            raise ValueError(
                f"deployment_config {service.deployment_config} with termination_wait_minutes {bake} takes "
                f"{shift.minutes} + {bake} = {bake + shift.minutes} minutes by CloudFormation's count, which rejects "
                f"an ecs engine {shift.strategy} deployment of more than {CFN_MAX_SHIFT_MINUTES} minutes (33 hours) "
                f"(allowed: termination_wait_minutes 0-{max(CFN_MAX_SHIFT_MINUTES - shift.minutes, 0)} with this "
                "shift, or a shorter shift)"
            )

    def hook_statements(self, config: EnvironmentConfig) -> list[Statement]:
        """Nothing to report to: ECS reads the hook's answer from the function's return value."""
        return []

    def add_deployment(self, t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> ecs.Service:
        production_rule, test_rule = _listener_rules(t, config, shared)
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
                DeploymentConfiguration=_deployment_configuration(config, shared, hook_invoke_role),
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
        # Traffic shift (a canary's or linear shift's step bake times), validation and bake time, then
        # the old tasks' drain.
        timeout_minutes = min(
            60 + _shift_minutes(config.service) + config.service.termination_wait_minutes,
            CODEBUILD_MAX_TIMEOUT_MINUTES,
        )
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
                        "Wait for ECS's verdict on the service deployment of that task definition.",
                        (
                            commands.wait_for_ecs_deployment(
                                "CLUSTER_NAME", "SERVICE_NAME", timeout_minutes - RELEASE_WAIT_MARGIN_MINUTES
                            ),
                        ),
                        waits=True,
                    ),
                ),
                variables=(("CLUSTER_NAME", Ref("ClusterName")), ("SERVICE_NAME", Ref("ServiceName"))),
                timeout_minutes=timeout_minutes,
            )
        ]

    def release_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return [
            *actions.task_definition_statements(),
            actions.pass_task_roles([Ref("TaskRoleArn"), Ref("TaskExecutionRoleArn")]),
            # Give this service the new revision. DescribeServices is kept although the wait now reads
            # service deployments: a release that started before this stack update runs the earlier
            # buildspec, whose wait calls it, and must not fail half-way on AccessDenied (day 2).
            roles.allow(
                [awsecs.UpdateService, awsecs.DescribeServices],
                [Sub(ARN % ("ecs", "service/${ClusterName}/${ServiceName}"))],
            ),
            # Watch its service deployment: the actions and resources of AWS's example policy, limited
            # to this service ("Permissions required for viewing Amazon ECS service deployments"):
            # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment-permissions.html
            roles.allow(
                [awsecs.ListServiceDeployments, awsecs.DescribeServiceDeployments, awsecs.DescribeServiceRevisions],
                [
                    Sub(ARN % ("ecs", "service/${ClusterName}/${ServiceName}")),
                    Sub(ARN % ("ecs", "service-deployment/${ClusterName}/${ServiceName}/*")),
                    Sub(ARN % ("ecs", "service-revision/${ClusterName}/${ServiceName}/*")),
                ],
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


def _listener_rules(
    t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles
) -> tuple[elb.ListenerRule, elb.ListenerRule]:
    # ECS moves traffic by rewriting the weights of a rule that forwards to both target groups.
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/alb-resources-for-blue-green.html
    return base.listener_rules(t, config, shared, weighted=True)


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
        # AWS's managed policy grants ModifyListener beside ModifyRule (ALBModifyListeners); no page says
        # ECS leaves it unused when the service names rules, so it stays, scoped to the two listeners:
        # on the platform's shared ones it reaches their default action, not another service's rules
        # (those change only through ModifyRule, granted on this service's two rules alone).
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


def _shift_minutes(service: ServiceConfig) -> int:
    shift = deployment_shift(service)
    return 0 if shift is None else shift.minutes


def _deployment_configuration(
    config: EnvironmentConfig, shared: ServiceHandles, hook_invoke_role: iam.Role
) -> ecs.DeploymentConfiguration:
    """BLUE_GREEN for AllAtOnce; CANARY or LINEAR with its one configuration block otherwise. Bake
    time, hook and alarms are the same for the three strategies.

    The hook checks green through the test listener, which serves green alone from
    POST_TEST_TRAFFIC_SHIFT on, before any production traffic moves; the stages are the same for
    canary and linear deployments (PRE_PRODUCTION_TRAFFIC_SHIFT and PRODUCTION_TRAFFIC_SHIFT run
    before and at every step; AWS's guides list hooks as optional). The hook is not added there: it
    would repeat the same test-listener check at every step, and ECS reruns PRODUCTION_TRAFFIC_SHIFT
    hooks during a rollback. The alarms (Rollback) watch every step and the bake times.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-deploymentlifecyclehook.html
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html

    Day 2: changing the strategy of a deployed service (e.g. BLUE_GREEN to CANARY) is an in-place
    UpdateService: DeploymentConfiguration is not among AWS::ECS::Service's createOnlyProperties
    (tests/test_ecs_shifts.py reads the schema bundled with cfn-lint).
    """
    shift = deployment_shift(config.service)
    blocks: dict[str, ecs.CanaryConfiguration | ecs.LinearConfiguration] = {}
    if shift is not None and shift.strategy == "CANARY":
        blocks["CanaryConfiguration"] = ecs.CanaryConfiguration(
            CanaryPercent=shift.percent, CanaryBakeTimeInMinutes=shift.step_bake_minutes
        )
    elif shift is not None:
        blocks["LinearConfiguration"] = ecs.LinearConfiguration(
            StepPercent=shift.percent, StepBakeTimeInMinutes=shift.step_bake_minutes
        )
    return ecs.DeploymentConfiguration(
        Strategy="BLUE_GREEN" if shift is None else shift.strategy,
        BakeTimeInMinutes=config.service.termination_wait_minutes,
        **blocks,
        LifecycleHooks=[
            ecs.DeploymentLifecycleHook(
                HookTargetArn=GetAtt(shared.hook_function, "Arn"),
                RoleArn=GetAtt(hook_invoke_role, "Arn"),
                LifecycleStages=["POST_TEST_TRAFFIC_SHIFT"],
            )
        ],
        Alarms=ecs.DeploymentAlarms(AlarmNames=[Ref(alarm) for alarm in shared.alarms], Enable=True, Rollback=True),
    )


ENGINE = register(EcsEngine())
