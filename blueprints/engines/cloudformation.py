"""Engine ``cloudformation``: CloudFormation runs each release blue/green through the
``AWS::CodeDeployBlueGreen`` transform and an ``AWS::CodeDeploy::BlueGreen`` hook in the
template's ``Hooks`` section.

A release is a stack update (a change set) that changes only the ``ImageUri`` parameter: the task
definition is replaced, which makes CloudFormation start a green deployment through CodeDeploy
(green task set on the green target group, test listener first, the AfterAllowTestTraffic hook,
then production traffic by the routing below) instead of updating the resources in place.

AWS CloudFormation User Guide, "Perform ECS blue/green deployments through CodeDeploy using
CloudFormation" and its pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-hook-syntax.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-considerations.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-template-example.html

The transform's limits shape this template: no Outputs (SUPPORTS_OUTPUTS), no Fn::ImportValue
(network values arrive as parameters), no NoEcho parameters or dynamic references, a single ECS
service, and literal values inside Hooks (hence the deterministic role and function names).
"""
from __future__ import annotations

from awacs import codedeploy as awscodedeploy
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Ref, Sub, ecs, iam

from .. import naming, roles
from ..config import EnvironmentConfig
from . import SharedResources, common
from .common import ARN

HOOK_HANDLER = "codedeploy_handler"
SUPPORTS_OUTPUTS = False
RELEASED_BY_STACK_UPDATE = True
TRANSFORM = "AWS::CodeDeployBlueGreen"
HOOK_LOGICAL_ID = "CodeDeployBlueGreenHook"
BLUE_TASK_SET = "BlueTaskSet"
# Named only in the hook: CloudFormation creates the green resources during a deployment.
GREEN_TASK_DEFINITION = "GreenTaskDefinition"
GREEN_TASK_SET = "GreenTaskSet"
SERVICE_ROLE = "BlueGreenHookRole"


class TaskSetNetworkConfiguration(ecs.NetworkConfiguration):
    """AWS::ECS::TaskSet NetworkConfiguration as the CloudFormation schema spells it.

    troposphere 4.11.1 gives TaskSet the service's NetworkConfiguration class, which emits
    ``AwsvpcConfiguration``; the TaskSet schema names the key ``AwsVpcConfiguration`` (capital V)
    and CloudFormation (and cfn-lint, E3002) rejects the other spelling. A subclass (TaskSet
    accepts only that class) with the schema's key is the one place this is fixed.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-taskset-networkconfiguration.html
    """

    props = {"AwsVpcConfiguration": (ecs.AwsVpcConfiguration, False)}


def hook_statements(config: EnvironmentConfig) -> list[Statement]:
    """The hook reports to the deployment CodeDeploy runs for the transform. The transform creates
    that application and deployment group itself under names the documentation does not give, so
    the narrowest resource is any deployment group of this account and region."""
    return [Statement(Effect=Allow, Action=[awscodedeploy.PutLifecycleEventHookExecutionStatus],
                      Resource=[Sub(ARN % ("codedeploy", "deploymentgroup:*"))])]


def add_deployment(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    t.set_transform([TRANSFORM])
    t.add_resource(common.service(config, shared, DeploymentController=ecs.DeploymentController(Type="EXTERNAL")))
    _task_sets(t, config, shared)
    _service_role(t, config, shared)
    t.add_hook(HOOK_LOGICAL_ID, _hook(config, shared))


def _task_sets(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    """The blue task set serves at creation; the primary task set marks it as the one in service."""
    t.add_resource(ecs.TaskSet(
        BLUE_TASK_SET, Cluster=Ref(shared.cluster), Service=Ref(shared.service),
        TaskDefinition=Ref(shared.task_definition), LaunchType="FARGATE",
        # A target group can register tasks only once a listener ties it to the load balancer.
        DependsOn=[shared.production_listener, shared.test_listener],
        NetworkConfiguration=TaskSetNetworkConfiguration(
            AwsVpcConfiguration=common.private_subnets(shared, ecs.AwsVpcConfiguration)),
        LoadBalancers=[common.blue_load_balancer(config, shared)],
        Scale=ecs.Scale(Unit="PERCENT", Value=100),
    ))
    t.add_resource(ecs.PrimaryTaskSet(
        "PrimaryTaskSet", Cluster=Ref(shared.cluster), Service=Ref(shared.service),
        TaskSetId=GetAtt(BLUE_TASK_SET, "Id"),
    ))


def _service_role(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    """The hook's ServiceRole, which CodeDeploy assumes. AWS's managed policy for it,
    AWSCodeDeployRoleForCloudFormation, allows only lambda:InvokeFunction on any CodeDeployHook_*
    function; this inline policy allows the same action on this stack's hook function only.
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCodeDeployRoleForCloudFormation.html
    """
    t.add_resource(iam.Role(
        SERVICE_ROLE, RoleName=naming.bluegreen_hook_role(config),
        Description=f"CodeDeploy runs the blue/green hook of {config.prefix}: invoke its validation function only.",
        AssumeRolePolicyDocument=roles.trust("codedeploy.amazonaws.com"),
        Policies=[roles.inline_policy("invoke-validation-hook", [common.invoke_hook(shared)])],
    ))


def _traffic_routing(config: EnvironmentConfig) -> dict:
    """AllAtOnce, or the one block matching a canary or linear shift (params custom_deployment)."""
    custom = config.service.custom_deployment
    if config.service.deployment_config == "AllAtOnce" or custom is None:
        return {"Type": "AllAtOnce"}
    kind = "TimeBasedCanary" if custom.type == "canary" else "TimeBasedLinear"
    return {"Type": kind, kind: {"StepPercentage": custom.percentage, "BakeTimeMins": custom.interval_minutes}}


def _hook(config: EnvironmentConfig, shared: SharedResources) -> dict:
    """The hook's properties, all literal (the transform does not resolve intrinsic functions)."""
    listener = "AWS::ElasticLoadBalancingV2::Listener"
    return {
        "Type": "AWS::CodeDeploy::BlueGreen",
        "Properties": {
            "TrafficRoutingConfig": _traffic_routing(config),
            "AdditionalOptions": {"TerminationWaitTimeInMinutes": config.service.termination_wait_minutes},
            "LifecycleEventHooks": {"AfterAllowTestTraffic": naming.hook_function(config)},
            "ServiceRole": naming.bluegreen_hook_role(config),
            "Applications": [{
                "Target": {"Type": "AWS::ECS::Service", "LogicalID": shared.service},
                "ECSAttributes": {
                    "TaskDefinitions": [shared.task_definition, GREEN_TASK_DEFINITION],
                    "TaskSets": [BLUE_TASK_SET, GREEN_TASK_SET],
                    "TrafficRouting": {
                        "ProdTrafficRoute": {"Type": listener, "LogicalID": shared.production_listener},
                        "TestTrafficRoute": {"Type": listener, "LogicalID": shared.test_listener},
                        "TargetGroups": [shared.blue_target_group, shared.green_target_group],
                    },
                },
            }],
        },
    }
