"""Engine ``codedeploy``: an ECS service with the CODE_DEPLOY deployment controller and a
CodeDeploy application and deployment group that run each release blue/green.

The pipeline starts deployments (CodeDeployToECS action) with taskdef.json, appspec.yaml and
imageDetail.json; CodeDeploy starts the new task set on the green target group, moves the test
listener to it, runs the AfterAllowTestTraffic hook, shifts production traffic by the deployment
configuration, and rolls back on failure or alarm.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from awacs import cloudwatch as awscw
from awacs import codedeploy as awscodedeploy
from awacs import ecs as awsecs
from awacs import elasticloadbalancing as awselb
from awacs.aws import Statement
from troposphere import GetAtt, Ref, Sub, codebuild, codedeploy, codepipeline, ecs, iam
from troposphere import elasticloadbalancingv2 as elb

from .. import naming, roles
from ..config.service import PREDEFINED_DEPLOYMENTS
from ..stacks import pipeline_actions as actions
from ..stacks import pipeline_artifacts as artifacts
from . import base
from .base import ARN, BuildStep, ReleaseStep, ServiceHandles, ServiceStack
from .registry import register

if TYPE_CHECKING:
    from ..config import EnvironmentConfig
    from ..config.service import ServiceConfig
    from ..template import CfnTemplate


class CodeDeployEngine:
    name: ClassVar[str] = "codedeploy"
    hook_handler: ClassVar[str] = "codedeploy_handler"
    supports_outputs: ClassVar[bool] = True
    released_by_stack_update: ClassVar[bool] = False
    # CodeDeploy rewrites the listener rules that forward to its target groups.
    shares_listeners: ClassVar[bool] = True
    artifacts: ClassVar[tuple[str, ...]] = ("imageDetail.json", "taskdef.json", "appspec.yaml")
    service_outputs: ClassVar[dict[str, str]] = {
        "CodeDeployApplicationName": "CodeDeployApplicationName",
        "DeploymentGroupName": "DeploymentGroupName",
        "DeploymentConfigName": "DeploymentConfigName",
        **actions.TASK_OUTPUTS,
    }
    approval_in_deploy_stage: ClassVar[bool] = False

    # --- service stack ------------------------------------------------------------------------

    def check_service(self, service: ServiceConfig) -> None:
        """Every deployment_config is a CodeDeploy configuration: nothing to refuse."""

    def hook_statements(self, config: EnvironmentConfig) -> list[Statement]:
        """The hook reports to deployments of this deployment group only."""
        return [roles.allow([awscodedeploy.PutLifecycleEventHookExecutionStatus], [_deployment_group_arn(config)])]

    def add_deployment(self, t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> ecs.Service:
        routes = _routes(t, config, shared)
        service = t.add_resource(
            base.service(
                config,
                shared,
                # By family, not by revision: CloudFormation cannot change the task definition of a
                # CODE_DEPLOY service, so the reference must not change when the template does.
                TaskDefinition=naming.task_family(config),
                # The target group must be behind a listener before the service registers tasks in it.
                DependsOn=[shared.task_definition, *routes],
                LaunchType="FARGATE",
                DeploymentController=ecs.DeploymentController(Type="CODE_DEPLOY"),
                LoadBalancers=[base.blue_load_balancer(config, shared)],
                NetworkConfiguration=ecs.NetworkConfiguration(AwsvpcConfiguration=base.private_subnets(shared)),
            )
        )
        role = _service_role(t, config, shared, routes)
        config_name = _deployment_config(t, config)
        application, group = _deployment_group(t, config, shared, service, role, config_name)
        t.output("CodeDeployApplicationName", Ref(application), "CodeDeploy application.")
        t.output("DeploymentGroupName", Ref(group), "CodeDeploy deployment group.")
        t.output("DeploymentConfigName", config_name, "Traffic shift of each release.")
        return service

    # --- pipeline stack -----------------------------------------------------------------------

    def pipeline_description(self) -> str:
        return "blue/green deploy by codedeploy"

    def static_service_values(self, config: EnvironmentConfig) -> dict[str, str]:
        return {}

    def pipeline_parameters(self, t: CfnTemplate) -> None:
        group = actions.SERVICE_GROUP
        t.param("CodeDeployApplicationName", "CodeDeploy application of the service (service stack output).", group)
        t.param("DeploymentGroupName", "CodeDeploy deployment group of the service (service stack output).", group)
        t.param("DeploymentConfigName", "Traffic shift of each release (service stack output).", group)
        actions.task_parameters(t)

    def build_variables(self) -> list[codebuild.EnvironmentVariable]:
        return actions.task_build_variables()

    def build_statements(self, config: EnvironmentConfig) -> list[Statement]:
        return []

    def build_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[BuildStep]:
        taskdef = artifacts.heredoc_body(artifacts.taskdef_json(config, service).rstrip("\n"))
        appspec = artifacts.appspec_yaml(config).rstrip("\n")
        return [
            BuildStep(
                "Task definition of the service stack (same container, sizes and roles); CodeDeployToECS\n"
                f"replaces {artifacts.IMAGE_PLACEHOLDER} with the image of imageDetail.json.",
                (
                    f"cat > taskdef.json <<TASKDEF_JSON\n{taskdef}\nTASKDEF_JSON",
                    f"cat > appspec.yaml <<'APPSPEC_YAML'\n{appspec}\nAPPSPEC_YAML",
                ),
            )
        ]

    def release_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[ReleaseStep]:
        return []

    def release_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return []

    def deploy_actions(
        self,
        t: CfnTemplate,
        config: EnvironmentConfig,
        approval: bool,
        service: ServiceStack,
        release_projects: dict[str, codebuild.Project],
    ) -> list[codepipeline.Actions]:
        configuration = {
            "ApplicationName": Ref("CodeDeployApplicationName"),
            "DeploymentGroupName": Ref("DeploymentGroupName"),
            "TaskDefinitionTemplateArtifact": actions.BUILD_OUTPUT,
            "TaskDefinitionTemplatePath": "taskdef.json",
            "AppSpecTemplateArtifact": actions.BUILD_OUTPUT,
            "AppSpecTemplatePath": "appspec.yaml",
            "Image1ArtifactName": actions.BUILD_OUTPUT,
            # The placeholder's text in taskdef.json (without the angle brackets), not the
            # container's name: the action replaces "<IMAGE1_NAME>" with imageDetail.json's ImageURI.
            "Image1ContainerName": artifacts.IMAGE_PLACEHOLDER_NAME,
        }
        return [actions.action("Deploy", "Deploy", "CodeDeployToECS", configuration, inputs=(actions.BUILD_OUTPUT,))]

    def pipeline_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return [
            # What the CodeDeployToECS action calls, on this application and deployment group only.
            roles.allow(
                [awscodedeploy.CreateDeployment, awscodedeploy.GetDeployment],
                [Sub(ARN % ("codedeploy", "deploymentgroup:${CodeDeployApplicationName}/${DeploymentGroupName}"))],
            ),
            roles.allow(
                [
                    awscodedeploy.GetApplication,
                    awscodedeploy.GetApplicationRevision,
                    awscodedeploy.RegisterApplicationRevision,
                ],
                [Sub(ARN % ("codedeploy", "application:${CodeDeployApplicationName}"))],
            ),
            roles.allow(
                [awscodedeploy.GetDeploymentConfig],
                [Sub(ARN % ("codedeploy", "deploymentconfig:${DeploymentConfigName}"))],
            ),
            *actions.task_definition_statements(),
            actions.pass_task_roles([Ref("TaskRoleArn"), Ref("TaskExecutionRoleArn")]),
        ]


def _deployment_group_arn(config: EnvironmentConfig) -> Sub:
    return Sub(
        ARN
        % ("codedeploy", f"deploymentgroup:{naming.codedeploy_application(config)}/{naming.deployment_group(config)}")
    )


def _routes(t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> list[elb.Listener | elb.ListenerRule]:
    """What sends traffic to blue: the listeners' default actions, or on the platform's shared
    listeners the service's own rules (CodeDeploy rewrites the rules forwarding to its target groups)."""
    if shared.on_platform:
        return list(base.listener_rules(t, config, shared, weighted=False))
    return [cast(elb.Listener, shared.production_listener), cast(elb.Listener, shared.test_listener)]


def _modified_rules(shared: ServiceHandles, routes: list[elb.Listener | elb.ListenerRule]) -> list[Any]:
    """Rules the deployment may rewrite: on shared listeners only this service's two rules, so that a
    release cannot change another service's routing."""
    if shared.on_platform:
        return [Ref(rule) for rule in routes]
    return [Sub(ARN % ("elasticloadbalancing", f"listener-rule/{shared.load_balancer_full_name_sub()}/*"))]


def _service_role(
    t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles, routes: list[elb.Listener | elb.ListenerRule]
) -> iam.Role:
    """What CodeDeploy needs for an ECS blue/green deployment (the actions of the managed policy
    AWSCodeDeployRoleForECSLimited), scoped to this service, its listeners, alarms and hook:
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/codedeploy_IAM_role.html
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCodeDeployRoleForECSLimited.html
    """
    cluster, service = naming.cluster(config), naming.service(config)
    statements = [
        roles.allow(
            [
                awsecs.DescribeServices,
                awsecs.CreateTaskSet,
                awsecs.UpdateServicePrimaryTaskSet,
                awsecs.DeleteTaskSet,
            ],
            [
                Sub(ARN % ("ecs", f"service/{cluster}/{service}")),
                Sub(ARN % ("ecs", f"task-set/{cluster}/{service}/*")),
            ],
        ),
        # Elastic Load Balancing Describe* actions have no resource-level permissions: "*" only.
        roles.allow([awselb.DescribeTargetGroups, awselb.DescribeListeners, awselb.DescribeRules], ["*"]),
        roles.allow([awselb.ModifyListener], [Ref(shared.production_listener), Ref(shared.test_listener)]),
        roles.allow([awselb.ModifyRule], _modified_rules(shared, routes)),
        roles.allow([awscw.DescribeAlarms], [GetAtt(alarm, "Arn") for alarm in shared.alarms]),
        base.invoke_hook(shared),
        # New task sets run with the task definition's roles.
        roles.pass_role(
            [GetAtt(shared.task_execution_role, "Arn"), GetAtt(shared.task_role, "Arn")], "ecs-tasks.amazonaws.com"
        ),
    ]
    return t.add_resource(
        iam.Role(
            "CodeDeployServiceRole",
            Description=f"CodeDeploy blue/green deployments of {config.prefix} only (not AWSCodeDeployRoleForECS).",
            AssumeRolePolicyDocument=roles.trust("codedeploy.amazonaws.com"),
            Policies=[roles.inline_policy("ecs-blue-green", statements)],
        )
    )


def _deployment_config(t: CfnTemplate, config: EnvironmentConfig) -> str | Ref:
    svc = config.service
    if svc.deployment_config != "custom":
        return PREDEFINED_DEPLOYMENTS[svc.deployment_config]
    custom = svc.custom_deployment
    assert custom is not None  # the config requires custom_deployment with deployment_config custom
    if custom.type == "canary":
        routing = codedeploy.TrafficRoutingConfig(
            Type="TimeBasedCanary",
            TimeBasedCanary=codedeploy.TimeBasedCanary(
                CanaryPercentage=custom.percentage, CanaryInterval=custom.interval_minutes
            ),
        )
    else:
        routing = codedeploy.TrafficRoutingConfig(
            Type="TimeBasedLinear",
            TimeBasedLinear=codedeploy.TimeBasedLinear(
                LinearPercentage=custom.percentage, LinearInterval=custom.interval_minutes
            ),
        )
    # Unnamed: a changed shift replaces the config, which a fixed name would block.
    deployment_config = t.add_resource(
        codedeploy.DeploymentConfig("DeploymentConfig", ComputePlatform="ECS", TrafficRoutingConfig=routing)
    )
    return Ref(deployment_config)


def _deployment_group(
    t: CfnTemplate,
    config: EnvironmentConfig,
    shared: ServiceHandles,
    service: ecs.Service,
    role: iam.Role,
    config_name: str | Ref,
) -> tuple[codedeploy.Application, codedeploy.DeploymentGroup]:
    svc = config.service
    application = t.add_resource(
        codedeploy.Application(
            "CodeDeployApplication", ApplicationName=naming.codedeploy_application(config), ComputePlatform="ECS"
        )
    )
    group = t.add_resource(
        codedeploy.DeploymentGroup(
            "DeploymentGroup",
            ApplicationName=Ref(application),
            DeploymentGroupName=naming.deployment_group(config),
            ServiceRoleArn=GetAtt(role, "Arn"),
            DeploymentConfigName=config_name,
            DeploymentStyle=codedeploy.DeploymentStyle(
                DeploymentType="BLUE_GREEN", DeploymentOption="WITH_TRAFFIC_CONTROL"
            ),
            ECSServices=[codedeploy.ECSService(ClusterName=Ref(shared.cluster), ServiceName=GetAtt(service, "Name"))],
            LoadBalancerInfo=codedeploy.LoadBalancerInfo(
                TargetGroupPairInfoList=[
                    codedeploy.TargetGroupPairInfo(
                        TargetGroups=[
                            codedeploy.TargetGroupInfo(Name=GetAtt(tg, "TargetGroupName"))
                            for tg in (shared.blue_target_group, shared.green_target_group)
                        ],
                        ProdTrafficRoute=codedeploy.TrafficRoute(ListenerArns=[Ref(shared.production_listener)]),
                        TestTrafficRoute=codedeploy.TrafficRoute(ListenerArns=[Ref(shared.test_listener)]),
                    )
                ]
            ),
            BlueGreenDeploymentConfiguration=codedeploy.BlueGreenDeploymentConfiguration(
                DeploymentReadyOption=codedeploy.DeploymentReadyOption(ActionOnTimeout="CONTINUE_DEPLOYMENT"),
                TerminateBlueInstancesOnDeploymentSuccess=codedeploy.BlueInstanceTerminationOption(
                    Action="TERMINATE", TerminationWaitTimeInMinutes=svc.termination_wait_minutes
                ),
            ),
            AutoRollbackConfiguration=codedeploy.AutoRollbackConfiguration(
                Enabled=True, Events=["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]
            ),
            AlarmConfiguration=codedeploy.AlarmConfiguration(
                Enabled=True, Alarms=[codedeploy.Alarm(Name=Ref(alarm)) for alarm in shared.alarms]
            ),
        )
    )
    return application, group


ENGINE = register(CodeDeployEngine())
