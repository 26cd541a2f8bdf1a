"""Engine ``cloudformation``: CloudFormation runs each release blue/green through the
``AWS::CodeDeployBlueGreen`` transform and an ``AWS::CodeDeploy::BlueGreen`` hook in the
template's ``Hooks`` section.

A release is a stack update (a change set) that changes only the ``ImageUri`` parameter: the task
definition is replaced, which makes CloudFormation start a green deployment through CodeDeploy
(green task set on the green target group, test listener first, the AfterAllowTestTraffic hook,
then production traffic by the routing below) instead of updating the resources in place.

The pipeline's Deploy stage creates that change set from the template the stack runs now -- the
reviewed template that the deployer took from out/, read back by the build with ``get-template
--template-stage Original`` -- with its current parameter values and only ImageUri overridden,
then (after the manual approval, when on) executes it. The pipeline never regenerates a template,
and a release cannot carry infrastructure changes (which the transform forbids in an update that
starts a green deployment anyway); those go through the deployer.

AWS CloudFormation User Guide, "Perform ECS blue/green deployments through CodeDeploy using
CloudFormation" and its pages:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-hook-syntax.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-considerations.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-template-example.html

The transform's limits shape this template: no Outputs (``supports_outputs``), no Fn::ImportValue
(network values arrive as parameters), no NoEcho parameters or dynamic references, a single ECS
service, and literal values inside Hooks (hence the deterministic role and function names).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from awacs import cloudformation as awscfn
from awacs import codedeploy as awscodedeploy
from awacs import ecs as awsecs
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Ref, Sub, codebuild, codepipeline, ecs, iam

from .. import naming, roles
from ..stacks import pipeline_actions as actions
from ..stacks import pipeline_artifacts as artifacts
from ..template import capabilities
from . import base
from .base import ARN, BuildStep, ServiceHandles, ServiceStack
from .registry import register

if TYPE_CHECKING:
    from ..config import EnvironmentConfig
    from ..config.service import ServiceConfig
    from ..template import CfnTemplate

TRANSFORM = "AWS::CodeDeployBlueGreen"
HOOK_LOGICAL_ID = "CodeDeployBlueGreenHook"
BLUE_TASK_SET = "BlueTaskSet"
# Named only in the hook: CloudFormation creates the green resources during a deployment.
GREEN_TASK_DEFINITION = "GreenTaskDefinition"
GREEN_TASK_SET = "GreenTaskSet"
SERVICE_ROLE = "BlueGreenHookRole"
# The AWS::CodeDeploy::BlueGreen hook documents "The step percentage must be 14% or greater".
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-hook-syntax.html
HOOK_MIN_STEP_PERCENTAGE = 14


class TaskSetNetworkConfiguration(ecs.NetworkConfiguration):
    """AWS::ECS::TaskSet NetworkConfiguration as the CloudFormation schema spells it.

    troposphere 4.11.1 gives TaskSet the service's NetworkConfiguration class, which emits
    ``AwsvpcConfiguration``; the TaskSet schema names the key ``AwsVpcConfiguration`` (capital V)
    and CloudFormation (and cfn-lint, E3002) rejects the other spelling. A subclass (TaskSet
    accepts only that class) with the schema's key is the one place this is fixed.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-taskset-networkconfiguration.html
    """

    props: ClassVar[dict[str, tuple[type, bool]]] = {"AwsVpcConfiguration": (ecs.AwsVpcConfiguration, False)}


class CloudFormationEngine:
    name: ClassVar[str] = "cloudformation"
    hook_handler: ClassVar[str] = "codedeploy_handler"
    supports_outputs: ClassVar[bool] = False
    released_by_stack_update: ClassVar[bool] = True
    artifacts: ClassVar[tuple[str, ...]] = ("imageDetail.json", "service-template.json", "service-configuration.json")
    service_outputs: ClassVar[dict[str, str]] = {}
    approval_in_deploy_stage: ClassVar[bool] = True

    # --- service stack ------------------------------------------------------------------------

    def check_service(self, service: ServiceConfig) -> None:
        """The hook's traffic routing has no predefined CodeDeploy configurations and steps of at
        least HOOK_MIN_STEP_PERCENTAGE."""
        if service.deployment_config not in ("AllAtOnce", "custom"):
            raise ValueError(
                f"deployment_config {service.deployment_config} cannot be expressed by the cloudformation engine "
                f"(its hook needs steps of at least {HOOK_MIN_STEP_PERCENTAGE} percent): use AllAtOnce, or custom "
                f"with custom_deployment.percentage {HOOK_MIN_STEP_PERCENTAGE}-99"
            )
        if service.custom_deployment and service.custom_deployment.percentage < HOOK_MIN_STEP_PERCENTAGE:
            raise ValueError(
                f"custom_deployment.percentage {service.custom_deployment.percentage} is below "
                f"{HOOK_MIN_STEP_PERCENTAGE}, the smallest step the cloudformation engine's hook accepts "
                f"(allowed: {HOOK_MIN_STEP_PERCENTAGE}-99)"
            )

    def hook_statements(self, config: EnvironmentConfig) -> list[Statement]:
        """The hook reports to the deployment CodeDeploy runs for the transform. The transform creates
        that application and deployment group itself under names the documentation does not give, so
        the narrowest resource is any deployment group of this account and region."""
        return [
            Statement(
                Effect=Allow,
                Action=[awscodedeploy.PutLifecycleEventHookExecutionStatus],
                Resource=[Sub(ARN % ("codedeploy", "deploymentgroup:*"))],
            )
        ]

    def add_deployment(self, t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> ecs.Service:
        t.set_transform([TRANSFORM])
        service = t.add_resource(
            base.service(config, shared, DeploymentController=ecs.DeploymentController(Type="EXTERNAL"))
        )
        _task_sets(t, config, shared, service)
        _service_role(t, config, shared)
        t.add_hook(HOOK_LOGICAL_ID, _hook(config, shared, service))
        return service

    # --- pipeline stack -----------------------------------------------------------------------

    def pipeline_description(self) -> str:
        return (
            "blue/green deploy by cloudformation (change set of the service stack's deployed, reviewed "
            "template with only ImageUri changed)"
        )

    def static_service_values(self, config: EnvironmentConfig) -> dict[str, str]:
        # The names the service stack gives its stack, cluster, service and task family
        # (the service blueprint and engines/base.py use the same naming functions).
        return {
            "ServiceStackName": naming.stack(config, "service"),
            "ClusterName": naming.cluster(config),
            "ServiceName": naming.service(config),
            "TaskDefinitionFamily": naming.task_family(config),
        }

    def pipeline_parameters(self, t: CfnTemplate) -> None:
        group = actions.SERVICE_GROUP
        t.param(
            "ServiceStackName",
            "Service stack the Deploy stage changes (its template has no Outputs, so "
            "the name is the deterministic one from the manifest).",
            group,
        )
        t.param("ClusterName", "ECS cluster of the service (deterministic name from the manifest).", group)
        t.param("ServiceName", "ECS service a release deploys to (deterministic name from the manifest).", group)
        actions.family_parameter(t)

    def build_variables(self) -> list[codebuild.EnvironmentVariable]:
        return [codebuild.EnvironmentVariable(Name="SERVICE_STACK", Type="PLAINTEXT", Value=Ref("ServiceStackName"))]

    def build_statements(self, config: EnvironmentConfig) -> list[Statement]:
        # The build reads the template and parameter values the service stack runs now.
        return [
            Statement(
                Effect=Allow,
                Action=[awscfn.DescribeStacks, awscfn.GetTemplate],
                Resource=[Sub(ARN % ("cloudformation", "stack/${ServiceStackName}/*"))],
            )
        ]

    def build_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[BuildStep]:
        script = artifacts.render("service_configuration.py.j2", image_parameter=artifacts.IMAGE_PARAMETER)
        return [
            BuildStep(
                "The template the service stack runs now (the reviewed one deploy.py took from out/) and\n"
                "its current parameter values: the Deploy stage changes only ImageUri.",
                (
                    'aws cloudformation get-template --stack-name "$SERVICE_STACK" --template-stage Original --query '
                    "TemplateBody --output json > service-template.json",
                    'aws cloudformation describe-stacks --stack-name "$SERVICE_STACK" --query '
                    "'Stacks[0]' --output json > /tmp/service-stack.json",
                    f"python3 - <<'CONFIGURATION_PY'\n{script.rstrip(chr(10))}\nCONFIGURATION_PY",
                ),
            )
        ]

    def deploy_actions(
        self, t: CfnTemplate, config: EnvironmentConfig, approval: bool, service: ServiceStack
    ) -> list[codepipeline.Actions]:
        # No RoleArn on either action, on purpose. CloudFormation keeps the role an operation passes
        # and uses it for every later operation on the stack that passes none ("If you don't specify
        # a value, CloudFormation uses the role that was previously associated with the stack",
        # CreateChangeSet RoleARN, CloudFormation API Reference). A narrow release role passed here
        # would then run every infrastructure update the deployer makes (it passes no role)
        # and fail them. Without it CloudFormation acts with the pipeline role's credentials, which
        # carry the release's least-privilege statements (pipeline_statements).
        build_output = actions.BUILD_OUTPUT
        create = actions.action(
            "CreateChangeSet",
            "Deploy",
            "CloudFormation",
            {
                "ActionMode": "CHANGE_SET_REPLACE",
                "StackName": Ref("ServiceStackName"),
                "ChangeSetName": actions.CHANGE_SET,
                "TemplatePath": f"{build_output}::service-template.json",
                "TemplateConfiguration": f"{build_output}::service-configuration.json",
                # The only value a release changes: the digest-pinned image that passed the scan gate.
                "ParameterOverrides": json.dumps(
                    {artifacts.IMAGE_PARAMETER: f"#{{{actions.BUILD_NAMESPACE}.IMAGE_URI}}"}
                ),
                "Capabilities": ",".join(capabilities(service.template.to_dict())),
            },
            1,
            inputs=(build_output,),
        )
        stage = [create]
        if approval:
            stage.append(actions.approval_action(2))
        stage.append(
            actions.action(
                "ExecuteChangeSet",
                "Deploy",
                "CloudFormation",
                {
                    "ActionMode": "CHANGE_SET_EXECUTE",
                    "StackName": Ref("ServiceStackName"),
                    "ChangeSetName": actions.CHANGE_SET,
                },
                3 if approval else 2,
            )
        )
        return stage

    def pipeline_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return [
            Statement(
                Effect=Allow,
                Action=[
                    awscfn.CreateChangeSet,
                    awscfn.DescribeChangeSet,
                    awscfn.DeleteChangeSet,
                    awscfn.ExecuteChangeSet,
                    awscfn.DescribeStacks,
                ],
                Resource=[Sub(ARN % ("cloudformation", "stack/${ServiceStackName}/*"))],
            ),
            # A change set of a template with a transform is also authorised on the transform.
            Statement(
                Effect=Allow,
                Action=[awscfn.CreateChangeSet],
                Resource=[Sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:aws:transform/CodeDeployBlueGreen")],
            ),
            *_release_statements(config, service.handles),
        ]


def _task_sets(t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles, service: ecs.Service) -> None:
    """The blue task set serves at creation; the primary task set marks it as the one in service."""
    blue = t.add_resource(
        ecs.TaskSet(
            BLUE_TASK_SET,
            Cluster=Ref(shared.cluster),
            Service=Ref(service),
            TaskDefinition=Ref(shared.task_definition),
            LaunchType="FARGATE",
            # A target group can register tasks only once a listener ties it to the load balancer.
            DependsOn=[shared.production_listener, shared.test_listener],
            NetworkConfiguration=TaskSetNetworkConfiguration(
                AwsVpcConfiguration=base.private_subnets(shared, ecs.AwsVpcConfiguration)
            ),
            LoadBalancers=[base.blue_load_balancer(config, shared)],
            Scale=ecs.Scale(Unit="PERCENT", Value=100),
        )
    )
    t.add_resource(
        ecs.PrimaryTaskSet(
            "PrimaryTaskSet",
            Cluster=Ref(shared.cluster),
            Service=Ref(service),
            TaskSetId=GetAtt(blue, "Id"),
        )
    )


def _service_role(t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> None:
    """The hook's ServiceRole, which CodeDeploy assumes. AWS's managed policy for it,
    AWSCodeDeployRoleForCloudFormation, allows only lambda:InvokeFunction on any CodeDeployHook_*
    function; this inline policy allows the same action on this stack's hook function only.
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCodeDeployRoleForCloudFormation.html
    """
    t.add_resource(
        iam.Role(
            SERVICE_ROLE,
            RoleName=naming.bluegreen_hook_role(config),
            Description=f"CodeDeploy runs the blue/green hook of {config.prefix}: invoke its validation function only.",
            AssumeRolePolicyDocument=roles.trust("codedeploy.amazonaws.com"),
            Policies=[roles.inline_policy("invoke-validation-hook", [base.invoke_hook(shared)])],
        )
    )


def _traffic_routing(config: EnvironmentConfig) -> dict[str, Any]:
    """AllAtOnce, or the one block matching a canary or linear shift (params custom_deployment)."""
    custom = config.service.custom_deployment
    if config.service.deployment_config == "AllAtOnce" or custom is None:
        return {"Type": "AllAtOnce"}
    kind = "TimeBasedCanary" if custom.type == "canary" else "TimeBasedLinear"
    return {"Type": kind, kind: {"StepPercentage": custom.percentage, "BakeTimeMins": custom.interval_minutes}}


def _hook(config: EnvironmentConfig, shared: ServiceHandles, service: ecs.Service) -> dict[str, Any]:
    """The hook's properties, all literal (the transform does not resolve intrinsic functions)."""
    listener = "AWS::ElasticLoadBalancingV2::Listener"
    return {
        "Type": "AWS::CodeDeploy::BlueGreen",
        "Properties": {
            "TrafficRoutingConfig": _traffic_routing(config),
            "AdditionalOptions": {"TerminationWaitTimeInMinutes": config.service.termination_wait_minutes},
            "LifecycleEventHooks": {"AfterAllowTestTraffic": naming.hook_function(config)},
            "ServiceRole": naming.bluegreen_hook_role(config),
            "Applications": [
                {
                    "Target": {"Type": "AWS::ECS::Service", "LogicalID": service.title},
                    "ECSAttributes": {
                        "TaskDefinitions": [shared.task_definition.title, GREEN_TASK_DEFINITION],
                        "TaskSets": [BLUE_TASK_SET, GREEN_TASK_SET],
                        "TrafficRouting": {
                            "ProdTrafficRoute": {"Type": listener, "LogicalID": shared.production_listener.title},
                            "TestTrafficRoute": {"Type": listener, "LogicalID": shared.test_listener.title},
                            "TargetGroups": [shared.blue_target_group.title, shared.green_target_group.title],
                        },
                    },
                }
            ],
        },
    }


def _release_statements(config: EnvironmentConfig, shared: ServiceHandles) -> list[Statement]:
    """What CloudFormation does, with the pipeline role's credentials (no RoleArn: see
    ``deploy_actions``), when a release changes the image: replace the task definition and run the
    green deployment, nothing else (other changes go through the deployer, whose caller has the
    rights for them)."""
    service_arn, task_sets = actions.service_arns()
    role_arn = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/%s"
    return [
        # Whoever updates a stack with the AWS::CodeDeployBlueGreen transform needs codedeploy:Get*
        # and CreateCloudFormationDeployment (AWS CloudFormation User Guide, "blue-green" page); Get*
        # is spelled out here. The transform names the CodeDeploy application and deployment group
        # itself, so they are not known in advance: scoped to this account and region.
        Statement(
            Effect=Allow,
            Action=[
                awscodedeploy.CreateCloudFormationDeployment,
                awscodedeploy.GetApplication,
                awscodedeploy.GetApplicationRevision,
                awscodedeploy.GetDeployment,
                awscodedeploy.GetDeploymentConfig,
                awscodedeploy.GetDeploymentGroup,
                awscodedeploy.GetDeploymentInstance,
                awscodedeploy.GetDeploymentTarget,
                awscodedeploy.GetOnPremisesInstance,
            ],
            Resource=[Sub(ARN % ("codedeploy", "*"))],
        ),
        *actions.task_definition_statements(),
        # DeregisterTaskDefinition (the replaced revision) has no resource-level permissions either.
        Statement(Effect=Allow, Action=[awsecs.DeregisterTaskDefinition], Resource=["*"]),
        Statement(
            Effect=Allow,
            Action=[
                awsecs.DescribeServices,
                awsecs.CreateTaskSet,
                awsecs.DeleteTaskSet,
                awsecs.UpdateTaskSet,
                awsecs.DescribeTaskSets,
                awsecs.UpdateServicePrimaryTaskSet,
            ],
            Resource=[service_arn, task_sets],
        ),
        # The service template has no Outputs, so the task roles are matched by the names
        # CloudFormation gives unnamed roles: <stack name>-<logical ID>-<suffix>.
        actions.pass_task_roles(
            [
                Sub(role_arn % naming.stack_role_pattern(config, logical_id))
                for logical_id in (shared.task_role.title, shared.task_execution_role.title)
            ]
        ),
        # The green deployment runs as the hook's ServiceRole (a role name in Hooks).
        roles.pass_role([Sub(role_arn % naming.bluegreen_hook_role(config))], "codedeploy.amazonaws.com"),
    ]


ENGINE = register(CloudFormationEngine())
