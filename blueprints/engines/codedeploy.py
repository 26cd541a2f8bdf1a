"""Engine ``codedeploy``: an ECS service with the CODE_DEPLOY deployment controller and a
CodeDeploy application and deployment group that run each release blue/green.

The pipeline starts deployments (CodeDeployToECS action); CodeDeploy starts the new task set
on the green target group, moves the test listener to it, runs the AfterAllowTestTraffic hook,
shifts production traffic by the deployment configuration, and rolls back on failure or alarm.
"""
from __future__ import annotations

from awacs import cloudwatch as awscw, ecs as awsecs, elasticloadbalancing as awselb
from awacs import codedeploy as awscodedeploy
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Ref, Sub, codedeploy, ecs, iam

from .. import naming, roles
from ..config import EnvironmentConfig
from ..config.service import PREDEFINED_DEPLOYMENTS
from . import SharedResources, common
from .common import ARN as _ARN

HOOK_HANDLER = "codedeploy_handler"
SUPPORTS_OUTPUTS = True
RELEASED_BY_STACK_UPDATE = False


def deployment_group_arn(config: EnvironmentConfig) -> Sub:
    return Sub(_ARN % ("codedeploy", f"deploymentgroup:{naming.codedeploy_application(config)}/"
                                     f"{naming.deployment_group(config)}"))


def hook_statements(config: EnvironmentConfig) -> list[Statement]:
    """The hook reports to deployments of this deployment group only."""
    return [Statement(Effect=Allow, Action=[awscodedeploy.PutLifecycleEventHookExecutionStatus],
                      Resource=[deployment_group_arn(config)])]


def add_deployment(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    _service(t, config, shared)
    _service_role(t, config, shared)
    config_name = _deployment_config(t, config)
    _deployment_group(t, config, shared, config_name)
    t.output("CodeDeployApplicationName", Ref("CodeDeployApplication"), "CodeDeploy application.")
    t.output("DeploymentGroupName", Ref("DeploymentGroup"), "CodeDeploy deployment group.")
    t.output("DeploymentConfigName", config_name, "Traffic shift of each release.")


def _service(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    t.add_resource(common.service(
        config, shared,
        # By family, not by revision: CloudFormation cannot change the task definition of a
        # CODE_DEPLOY service, so the reference must not change when the template does.
        TaskDefinition=naming.task_family(config), DependsOn=[shared.task_definition, shared.production_listener,
                                                              shared.test_listener],
        LaunchType="FARGATE", DeploymentController=ecs.DeploymentController(Type="CODE_DEPLOY"),
        LoadBalancers=[common.blue_load_balancer(config, shared)],
        NetworkConfiguration=ecs.NetworkConfiguration(AwsvpcConfiguration=common.private_subnets(shared)),
    ))


def _service_role(t, config: EnvironmentConfig, shared: SharedResources) -> None:
    """What CodeDeploy needs for an ECS blue/green deployment (the actions of the managed policy
    AWSCodeDeployRoleForECSLimited), scoped to this service, its listeners, alarms and hook:
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/codedeploy_IAM_role.html
    https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCodeDeployRoleForECSLimited.html
    """
    cluster, service = naming.cluster(config), naming.service(config)
    statements = [
        Statement(Effect=Allow, Action=[awsecs.DescribeServices, awsecs.CreateTaskSet,
                                        awsecs.UpdateServicePrimaryTaskSet, awsecs.DeleteTaskSet],
                  Resource=[Sub(_ARN % ("ecs", f"service/{cluster}/{service}")),
                            Sub(_ARN % ("ecs", f"task-set/{cluster}/{service}/*"))]),
        # Elastic Load Balancing Describe* actions have no resource-level permissions: "*" only.
        Statement(Effect=Allow, Action=[awselb.DescribeTargetGroups, awselb.DescribeListeners,
                                        awselb.DescribeRules], Resource=["*"]),
        Statement(Effect=Allow, Action=[awselb.ModifyListener],
                  Resource=[Ref(shared.production_listener), Ref(shared.test_listener)]),
        Statement(Effect=Allow, Action=[awselb.ModifyRule], Resource=[Sub(
            _ARN % ("elasticloadbalancing", "listener-rule/${LoadBalancer.LoadBalancerFullName}/*"))]),
        Statement(Effect=Allow, Action=[awscw.DescribeAlarms],
                  Resource=[GetAtt(alarm, "Arn") for alarm in shared.alarms]),
        common.invoke_hook(shared),
        # New task sets run with the task definition's roles.
        roles.pass_role([GetAtt(shared.task_execution_role, "Arn"), GetAtt(shared.task_role, "Arn")],
                        "ecs-tasks.amazonaws.com"),
    ]
    t.add_resource(iam.Role(
        "CodeDeployServiceRole",
        Description=f"CodeDeploy blue/green deployments of {config.prefix} only (not AWSCodeDeployRoleForECS).",
        AssumeRolePolicyDocument=roles.trust("codedeploy.amazonaws.com"),
        Policies=[roles.inline_policy("ecs-blue-green", statements)],
    ))


def _deployment_config(t, config: EnvironmentConfig):
    svc = config.service
    if svc.deployment_config != "custom":
        return PREDEFINED_DEPLOYMENTS[svc.deployment_config]
    custom = svc.custom_deployment
    if custom.type == "canary":
        routing = codedeploy.TrafficRoutingConfig(Type="TimeBasedCanary", TimeBasedCanary=codedeploy.TimeBasedCanary(
            CanaryPercentage=custom.percentage, CanaryInterval=custom.interval_minutes))
    else:
        routing = codedeploy.TrafficRoutingConfig(Type="TimeBasedLinear", TimeBasedLinear=codedeploy.TimeBasedLinear(
            LinearPercentage=custom.percentage, LinearInterval=custom.interval_minutes))
    # Unnamed: a changed shift replaces the config, which a fixed name would block.
    t.add_resource(codedeploy.DeploymentConfig("DeploymentConfig", ComputePlatform="ECS",
                                               TrafficRoutingConfig=routing))
    return Ref("DeploymentConfig")


def _deployment_group(t, config: EnvironmentConfig, shared: SharedResources, config_name) -> None:
    svc = config.service
    t.add_resource(codedeploy.Application(
        "CodeDeployApplication", ApplicationName=naming.codedeploy_application(config), ComputePlatform="ECS"))
    t.add_resource(codedeploy.DeploymentGroup(
        "DeploymentGroup", ApplicationName=Ref("CodeDeployApplication"),
        DeploymentGroupName=naming.deployment_group(config), ServiceRoleArn=GetAtt("CodeDeployServiceRole", "Arn"),
        DeploymentConfigName=config_name,
        DeploymentStyle=codedeploy.DeploymentStyle(DeploymentType="BLUE_GREEN",
                                                   DeploymentOption="WITH_TRAFFIC_CONTROL"),
        ECSServices=[codedeploy.ECSService(ClusterName=Ref(shared.cluster),
                                           ServiceName=GetAtt(shared.service, "Name"))],
        LoadBalancerInfo=codedeploy.LoadBalancerInfo(TargetGroupPairInfoList=[codedeploy.TargetGroupPairInfo(
            TargetGroups=[codedeploy.TargetGroupInfo(Name=GetAtt(tg, "TargetGroupName"))
                          for tg in (shared.blue_target_group, shared.green_target_group)],
            ProdTrafficRoute=codedeploy.TrafficRoute(ListenerArns=[Ref(shared.production_listener)]),
            TestTrafficRoute=codedeploy.TrafficRoute(ListenerArns=[Ref(shared.test_listener)]),
        )]),
        BlueGreenDeploymentConfiguration=codedeploy.BlueGreenDeploymentConfiguration(
            DeploymentReadyOption=codedeploy.DeploymentReadyOption(ActionOnTimeout="CONTINUE_DEPLOYMENT"),
            TerminateBlueInstancesOnDeploymentSuccess=codedeploy.BlueInstanceTerminationOption(
                Action="TERMINATE", TerminationWaitTimeInMinutes=svc.termination_wait_minutes)),
        AutoRollbackConfiguration=codedeploy.AutoRollbackConfiguration(
            Enabled=True, Events=["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"]),
        AlarmConfiguration=codedeploy.AlarmConfiguration(
            Enabled=True, Alarms=[codedeploy.Alarm(Name=Ref(alarm)) for alarm in shared.alarms]),
    ))
