"""Engine ``cloudformation``: CloudFormation runs each release blue/green through the
``AWS::CodeDeployBlueGreen`` transform and an ``AWS::CodeDeploy::BlueGreen`` hook in the
template's ``Hooks`` section.

A release is a stack update (a change set) that changes only the ``ImageUri`` parameter: the task
definition is replaced, which makes CloudFormation start a green deployment through CodeDeploy
(green task set on the green target group, test listener first, the AfterAllowTestTraffic hook,
then production traffic by the routing below) instead of updating the resources in place.

The pipeline's Deploy stage creates that change set from the template the stack runs now (read
back by the build) with only ImageUri overridden, then executes it (see ``deploy_actions``).

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

from typing import TYPE_CHECKING, Any, ClassVar

from awacs import cloudformation as awscfn
from awacs import codedeploy as awscodedeploy
from awacs.aws import Statement
from troposphere import GetAtt, Ref, Sub, codebuild, codepipeline, ecs, iam

from .. import naming, roles
from ..stacks import pipeline_actions as actions
from ..stacks import pipeline_artifacts as artifacts
from ..template import TaskSetNetworkConfiguration, capabilities
from . import base
from . import release_commands as commands
from .base import ARN, CODEBUILD_MAX_TIMEOUT_MINUTES, BuildStep, ReleaseStep, ServiceHandles, ServiceStack
from .cloudformation_release import green_deployment_statements
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


class CloudFormationEngine:
    name: ClassVar[str] = "cloudformation"
    hook_handler: ClassVar[str] = "codedeploy_handler"
    supports_outputs: ClassVar[bool] = False
    released_by_stack_update: ClassVar[bool] = True
    # The hook routes by listener (TrafficRouting ProdTrafficRoute/TestTrafficRoute are listeners).
    shares_listeners: ClassVar[bool] = False
    artifacts: ClassVar[tuple[str, ...]] = (
        "imageDetail.json",
        "service-template.json",
        "service-parameters.json",
        "service-tags.json",
    )
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
            roles.allow(
                [awscodedeploy.PutLifecycleEventHookExecutionStatus], [Sub(ARN % ("codedeploy", "deploymentgroup:*"))]
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
            roles.allow(
                [awscfn.DescribeStacks, awscfn.GetTemplate],
                [Sub(ARN % ("cloudformation", "stack/${ServiceStackName}/*"))],
            )
        ]

    def build_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[BuildStep]:
        script = artifacts.render("service_configuration.py.j2", image_parameter=artifacts.IMAGE_PARAMETER)
        return [
            BuildStep(
                "The template the service stack runs now (the reviewed one the deployer took from out/) and\n"
                "its current parameter values and tags, with only ImageUri replaced: a release never\n"
                "carries infrastructure changes (the transform forbids them in an update that starts a\n"
                "green deployment).",
                (
                    'aws cloudformation get-template --stack-name "$SERVICE_STACK" --template-stage Original --query '
                    "TemplateBody --output json > /tmp/service-template.json",
                    'aws cloudformation describe-stacks --stack-name "$SERVICE_STACK" --query '
                    "'Stacks[0]' --output json > /tmp/service-stack.json",
                    f"python3 - <<'CONFIGURATION_PY'\n{script.rstrip(chr(10))}\nCONFIGURATION_PY",
                ),
            )
        ]

    def release_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[ReleaseStep]:
        name = f"{actions.CHANGE_SET}-$EXECUTION_ID"
        change_set = commands.change_set_args("SERVICE_STACK", name)
        variables = (("SERVICE_STACK", Ref("ServiceStackName")), ("ARTIFACT_BUCKET", Ref("ArtifactBucket")))
        create = commands.create_change_set(
            change_set,
            "service-parameters.json",
            "service-tags.json",
            capabilities(service.template.to_dict()),
            "release of $(cat imageDetail.json)",
        )
        timeout = min(60 + config.service.termination_wait_minutes, CODEBUILD_MAX_TIMEOUT_MINUTES)
        stack = naming.stack(config, "service")
        return [
            ReleaseStep(
                action="CreateChangeSet",
                description=f"Change set of {stack} that changes only {artifacts.IMAGE_PARAMETER}.",
                steps=(
                    BuildStep(
                        "The deployed template, parameter values and tags the build read, with the new image.",
                        (
                            commands.template_source(
                                "service-template.json", "SERVICE_STACK", "ARTIFACT_BUCKET", "$EXECUTION_ID"
                            ),
                            create,
                            commands.wait_for_change_set(change_set),
                            commands.show_change_set(change_set),
                        ),
                    ),
                    BuildStep(
                        "Change sets of earlier releases that were never executed (a rejected approval)\n"
                        "go: they would only pile up on the stack.",
                        (commands.delete_other_change_sets("SERVICE_STACK", f"{actions.CHANGE_SET}-", name),),
                    ),
                ),
                variables=variables,
            ),
            ReleaseStep(
                action="ExecuteChangeSet",
                description=f"Executes the release change set of {stack}.",
                steps=(
                    BuildStep(
                        "CloudFormation replaces the task definition and runs the green deployment.",
                        (commands.execute_change_set(change_set),),
                    ),
                    BuildStep(
                        "Wait for the stack update (the whole blue/green deployment).",
                        (commands.wait_for_stack_update("SERVICE_STACK"),),
                        waits=True,
                    ),
                ),
                variables=variables,
                timeout_minutes=timeout,
            ),
        ]

    def release_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return [
            roles.allow(
                [
                    awscfn.CreateChangeSet,
                    awscfn.DescribeChangeSet,
                    awscfn.DeleteChangeSet,
                    awscfn.ExecuteChangeSet,
                    awscfn.DescribeStacks,
                    awscfn.DescribeStackEvents,
                    awscfn.ListChangeSets,
                ],
                [Sub(ARN % ("cloudformation", "stack/${ServiceStackName}/*"))],
            ),
            # A change set of a template with a transform is also authorised on the transform
            # (AWS CloudFormation User Guide, "Template macros" permissions / blue-green page).
            roles.allow(
                [awscfn.CreateChangeSet],
                [Sub("arn:${AWS::Partition}:cloudformation:${AWS::Region}:aws:transform/CodeDeployBlueGreen")],
            ),
            *green_deployment_statements(config, service.handles),
        ]

    def deploy_actions(
        self,
        t: CfnTemplate,
        config: EnvironmentConfig,
        approval: bool,
        service: ServiceStack,
        release_projects: dict[str, codebuild.Project],
    ) -> list[codepipeline.Actions]:
        # Both steps run in CodeBuild under the release role, not as CloudFormation actions: those
        # need a RoleArn in CHANGE_SET_REPLACE mode (CodePipeline action reference, "AWS
        # CloudFormation"), and a role given to a change set becomes the stack's role for every
        # later operation that names none ("If you don't specify a value, CloudFormation uses the
        # role that was previously associated with the stack", CreateChangeSet RoleARN): a narrow
        # release role would then run, and fail, every infrastructure update the deployer makes.
        # So the service stack stays role-less and CloudFormation acts with the caller's
        # credentials: the release role's for a release, the operator's for the deployer.
        execution = {"EXECUTION_ID": "#{codepipeline.PipelineExecutionId}"}
        stage = [actions.codebuild_action("CreateChangeSet", release_projects["CreateChangeSet"], 1, execution)]
        if approval:
            stage.append(actions.approval_action(2))
        stage.append(
            actions.codebuild_action(
                "ExecuteChangeSet", release_projects["ExecuteChangeSet"], 3 if approval else 2, execution
            )
        )
        return stage

    def pipeline_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return []


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


ENGINE = register(CloudFormationEngine())
