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

from awacs import elasticloadbalancing as awselb
from awacs.aws import Allow, PolicyDocument, Statement
from troposphere import GetAtt, Ref, ecs, iam
from troposphere import elasticloadbalancingv2 as elb

from .. import naming, roles
from ..config import EnvironmentConfig
from . import SharedResources, common

HOOK_HANDLER = "ecs_handler"
SUPPORTS_OUTPUTS = True
RELEASED_BY_STACK_UPDATE = False
PRODUCTION_RULE = "ProductionListenerRule"
TEST_RULE = "TestListenerRule"
LOAD_BALANCER_ROLE = "EcsLoadBalancerRole"
HOOK_INVOKE_ROLE = "EcsHookInvokeRole"


def hook_statements(config: EnvironmentConfig) -> list[Statement]:
    """Nothing to report to: ECS reads the hook's answer from the function's return value."""
    return []


def add_deployment(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    _listener_rules(t, shared)
    _load_balancer_role(t, config, shared)
    _hook_invoke_role(t, config, shared)
    _service(t, config, shared)


def _listener_rules(t, shared: SharedResources) -> None:
    for logical_id, listener in ((PRODUCTION_RULE, shared.production_listener), (TEST_RULE, shared.test_listener)):
        t.add_resource(elb.ListenerRule(
            logical_id, ListenerArn=Ref(listener), Priority=1,
            Conditions=[elb.Condition(Field="path-pattern", PathPatternConfig=elb.PathPatternConfig(Values=["*"]))],
            # ECS rewrites these weights during a deployment; the template states the state at creation.
            Actions=[elb.ListenerRuleAction(Type="forward", ForwardConfig=elb.ForwardConfig(TargetGroups=[
                elb.TargetGroupTuple(TargetGroupArn=Ref(shared.blue_target_group), Weight=100),
                elb.TargetGroupTuple(TargetGroupArn=Ref(shared.green_target_group), Weight=0),
            ]))],
        ))


def _assume_by_ecs() -> PolicyDocument:
    # The trust policy AWS documents for the ECS infrastructure role has no aws:SourceAccount
    # condition, and nothing says ECS sends that key when it assumes the role; a condition on an
    # absent key would deny the assume-role and fail every deployment, so none is set:
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/AmazonECSInfrastructureRolePolicyForLoadBalancers.html
    return roles.trust("ecs.amazonaws.com", source_account=False)


def _load_balancer_role(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    """The actions of AWS's AmazonECSInfrastructureRolePolicyForLoadBalancers that an ALB
    blue/green deployment uses, scoped to this stack's target groups, listeners and rules:
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonECSInfrastructureRolePolicyForLoadBalancers.html
    """
    statements = [
        # Elastic Load Balancing Describe* actions have no resource-level permissions: "*" only.
        Statement(Effect=Allow, Action=[awselb.DescribeListeners, awselb.DescribeRules, awselb.DescribeTargetGroups,
                                        awselb.DescribeTargetHealth], Resource=["*"]),
        Statement(Effect=Allow, Action=[awselb.RegisterTargets, awselb.DeregisterTargets],
                  Resource=[Ref(shared.blue_target_group), Ref(shared.green_target_group)]),
        Statement(Effect=Allow, Action=[awselb.ModifyListener],
                  Resource=[Ref(shared.production_listener), Ref(shared.test_listener)]),
        Statement(Effect=Allow, Action=[awselb.ModifyRule], Resource=[Ref(PRODUCTION_RULE), Ref(TEST_RULE)]),
    ]
    t.add_resource(iam.Role(
        LOAD_BALANCER_ROLE,
        Description=f"ECS blue/green of {config.prefix}: move its listener rules between its target groups.",
        AssumeRolePolicyDocument=_assume_by_ecs(),
        Policies=[roles.inline_policy("switch-listener-rules", statements)],
    ))


def _hook_invoke_role(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    """ECS invokes the lifecycle hook with this role; AWS's example allows every function, this
    one only the stack's validation function."""
    t.add_resource(iam.Role(
        HOOK_INVOKE_ROLE, Description=f"ECS blue/green of {config.prefix}: invoke its validation hook.",
        AssumeRolePolicyDocument=_assume_by_ecs(),
        Policies=[roles.inline_policy("invoke-validation-hook", [common.invoke_hook(shared)])],
    ))


def _service(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    t.add_resource(common.service(
        config, shared,
        # By family, as with the codedeploy engine: releases register revisions outside the
        # stack, and a stack update must not roll the service back to the template's image.
        TaskDefinition=naming.task_family(config), DependsOn=[shared.task_definition],
        LaunchType="FARGATE", DeploymentController=ecs.DeploymentController(Type="ECS"),
        DeploymentConfiguration=ecs.DeploymentConfiguration(
            Strategy="BLUE_GREEN", BakeTimeInMinutes=config.service.termination_wait_minutes,
            LifecycleHooks=[ecs.DeploymentLifecycleHook(
                HookTargetArn=GetAtt(shared.hook_function, "Arn"), RoleArn=GetAtt(HOOK_INVOKE_ROLE, "Arn"),
                LifecycleStages=["POST_TEST_TRAFFIC_SHIFT"])],
            Alarms=ecs.DeploymentAlarms(AlarmNames=[Ref(alarm) for alarm in shared.alarms], Enable=True,
                                        Rollback=True)),
        LoadBalancers=[common.blue_load_balancer(config, shared, AdvancedConfiguration=ecs.AdvancedConfiguration(
            AlternateTargetGroupArn=Ref(shared.green_target_group), ProductionListenerRule=Ref(PRODUCTION_RULE),
            TestListenerRule=Ref(TEST_RULE), RoleArn=GetAtt(LOAD_BALANCER_ROLE, "Arn")))],
        NetworkConfiguration=ecs.NetworkConfiguration(AwsvpcConfiguration=common.private_subnets(shared)),
    ))
