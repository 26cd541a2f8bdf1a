"""Pipeline stack, release side: what differs per blue/green engine (``service.deployment_engine``).

- ``codedeploy``: a CodeDeployToECS action hands taskdef.json, appspec.yaml and imageDetail.json
  to the service stack's CodeDeploy deployment group.
- ``ecs``: the ECS deploy action updates the service with imagedefinitions.json; ECS runs the
  blue/green deployment itself (the service's BLUE_GREEN strategy and lifecycle hook).
- ``cloudformation``: the service stack runs the deployment (AWS::CodeDeployBlueGreen). The Deploy
  stage creates a change set of the service stack from the template the stack runs now -- the
  reviewed template that scripts/deploy.py deployed from out/, read back by the build with
  ``get-template --template-stage Original`` -- with its current parameter values and only
  ImageUri overridden, then (after the manual approval, when on) executes it. The pipeline never
  regenerates a template, and a release cannot carry infrastructure changes (which the transform
  forbids in an update that starts a green deployment anyway); those go through deploy.py.

Values from the service stack (names of its cluster, service, task family, container, CodeDeploy
application and group, and its task roles) arrive as parameters: from its Outputs through the
manifest, or, for the cloudformation engine whose template may have no Outputs, as the deterministic
names of blueprints/naming.py, also written into the manifest. The pipeline template itself names
none of them.
"""
from __future__ import annotations

import json

from awacs import cloudformation as awscfn, codedeploy as awscodedeploy, ecs as awsecs
from awacs.aws import Allow, ArnEquals, Condition, Statement
from troposphere import Ref, Sub, codebuild, codepipeline

from . import naming, roles
from .config import EnvironmentConfig
from .pipeline_artifacts import FAMILY_VARIABLE, IMAGE_PARAMETER, ROLE_VARIABLES
from .template import CfnTemplate, capabilities

ARN = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:%s"
BUILD_OUTPUT = "BuildOutput"
BUILD_NAMESPACE = "BuildVariables"
SERVICE_GROUP = "Service stack"
CHANGE_SET = "pipeline-release"


def action(name: str, category: str, provider: str, configuration: dict, run_order: int = 1,
           inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = (), owner: str = "AWS", **extra):
    return codepipeline.Actions(
        Name=name, RunOrder=run_order, Configuration=configuration,
        ActionTypeId=codepipeline.ActionTypeId(Category=category, Owner=owner, Provider=provider, Version="1"),
        InputArtifacts=[codepipeline.InputArtifacts(Name=n) for n in inputs],
        OutputArtifacts=[codepipeline.OutputArtifacts(Name=n) for n in outputs], **extra)


def approval_action(run_order: int = 1):
    return action("Approve", "Approval", "Manual", {
        "CustomData": "Approve to release the image that passed the scan gate."}, run_order, owner="AWS")


def _pass_task_roles(resources) -> Statement:
    """Registering a task definition passes its roles to ECS tasks: exactly these, only to ECS."""
    return roles.pass_role(resources, "ecs-tasks.amazonaws.com")


def _task_definition_statements() -> list[Statement]:
    return [
        # RegisterTaskDefinition and DescribeTaskDefinition have no resource-level permissions.
        Statement(Effect=Allow, Action=[awsecs.RegisterTaskDefinition, awsecs.DescribeTaskDefinition],
                  Resource=["*"]),
        # The task definition carries tags: registering it tags the new revision of this family.
        Statement(Effect=Allow, Action=[awsecs.TagResource],
                  Resource=[Sub(ARN % ("ecs", "task-definition/${TaskDefinitionFamily}:*"))]),
    ]


# Service-stack outputs that both engines releasing through ECS task definitions need: the
# container that receives the image, the family new revisions belong to and the roles they run with.
TASK_OUTPUTS = {"ContainerName": "ContainerName", "TaskDefinitionFamily": "TaskDefinitionFamily",
                "TaskRoleArn": "TaskRoleArn", "TaskExecutionRoleArn": "TaskExecutionRoleArn"}


def _family_parameter(t) -> None:
    t.param("TaskDefinitionFamily", "Task definition family of the service; releases register new revisions "
                                    "of it (service stack output, or its deterministic name).", SERVICE_GROUP)


def _task_parameters(t) -> None:
    t.param("ContainerName", "Container that receives the new image (service stack output).", SERVICE_GROUP)
    _family_parameter(t)
    t.param("TaskRoleArn", "Role of the service's tasks (service stack output).", SERVICE_GROUP)
    t.param("TaskExecutionRoleArn", "Role ECS starts the service's tasks with (service stack output).",
            SERVICE_GROUP)


def _service_arns() -> tuple[Sub, Sub]:
    return (Sub(ARN % ("ecs", "service/${ClusterName}/${ServiceName}")),
            Sub(ARN % ("ecs", "task-set/${ClusterName}/${ServiceName}/*")))


# --- codedeploy -------------------------------------------------------------------------------

class CodeDeploy:
    outputs = {"CodeDeployApplicationName": "CodeDeployApplicationName",
               "DeploymentGroupName": "DeploymentGroupName", "DeploymentConfigName": "DeploymentConfigName",
               **TASK_OUTPUTS}

    @staticmethod
    def parameters(t) -> None:
        t.param("CodeDeployApplicationName", "CodeDeploy application of the service (service stack output).",
                SERVICE_GROUP)
        t.param("DeploymentGroupName", "CodeDeploy deployment group of the service (service stack output).",
                SERVICE_GROUP)
        t.param("DeploymentConfigName", "Traffic shift of each release (service stack output).", SERVICE_GROUP)
        _task_parameters(t)

    @staticmethod
    def build_variables() -> list:
        return [codebuild.EnvironmentVariable(Name=ROLE_VARIABLES["TaskRole"], Type="PLAINTEXT",
                                              Value=Ref("TaskRoleArn")),
                codebuild.EnvironmentVariable(Name=ROLE_VARIABLES["TaskExecutionRole"], Type="PLAINTEXT",
                                              Value=Ref("TaskExecutionRoleArn")),
                # taskdef.json's family (pipeline_artifacts.FAMILY_VARIABLE).
                codebuild.EnvironmentVariable(Name=FAMILY_VARIABLE, Type="PLAINTEXT",
                                              Value=Ref("TaskDefinitionFamily"))]

    @staticmethod
    def build_statements(config: EnvironmentConfig) -> list[Statement]:
        return []

    @staticmethod
    def deploy_actions(t, config: EnvironmentConfig, approval: bool, service_template: CfnTemplate) -> list:
        deploy = action("Deploy", "Deploy", "CodeDeployToECS", {
            "ApplicationName": Ref("CodeDeployApplicationName"),
            "DeploymentGroupName": Ref("DeploymentGroupName"),
            "TaskDefinitionTemplateArtifact": BUILD_OUTPUT, "TaskDefinitionTemplatePath": "taskdef.json",
            "AppSpecTemplateArtifact": BUILD_OUTPUT, "AppSpecTemplatePath": "appspec.yaml",
            "Image1ArtifactName": BUILD_OUTPUT, "Image1ContainerName": Ref("ContainerName"),
        }, inputs=(BUILD_OUTPUT,))
        return [deploy]

    @staticmethod
    def pipeline_statements(t, config: EnvironmentConfig) -> list[Statement]:
        return [
            # What the CodeDeployToECS action calls, on this application and deployment group only.
            Statement(Effect=Allow, Action=[awscodedeploy.CreateDeployment, awscodedeploy.GetDeployment],
                      Resource=[Sub(ARN % ("codedeploy", "deploymentgroup:${CodeDeployApplicationName}/"
                                                         "${DeploymentGroupName}"))]),
            Statement(Effect=Allow, Action=[awscodedeploy.GetApplication, awscodedeploy.GetApplicationRevision,
                                            awscodedeploy.RegisterApplicationRevision],
                      Resource=[Sub(ARN % ("codedeploy", "application:${CodeDeployApplicationName}"))]),
            Statement(Effect=Allow, Action=[awscodedeploy.GetDeploymentConfig],
                      Resource=[Sub(ARN % ("codedeploy", "deploymentconfig:${DeploymentConfigName}"))]),
            *_task_definition_statements(),
            _pass_task_roles([Ref("TaskRoleArn"), Ref("TaskExecutionRoleArn")]),
        ]


# --- ecs --------------------------------------------------------------------------------------

class Ecs:
    outputs = {"ClusterName": "ClusterName", "ServiceName": "ServiceName", **TASK_OUTPUTS}

    @staticmethod
    def parameters(t) -> None:
        t.param("ClusterName", "ECS cluster of the service (service stack output).", SERVICE_GROUP)
        t.param("ServiceName", "ECS service released by the pipeline (service stack output).", SERVICE_GROUP)
        _task_parameters(t)

    @staticmethod
    def build_variables() -> list:
        # imagedefinitions.json names the container that receives the image.
        return [codebuild.EnvironmentVariable(Name="CONTAINER_NAME", Type="PLAINTEXT", Value=Ref("ContainerName"))]

    @staticmethod
    def build_statements(config: EnvironmentConfig) -> list[Statement]:
        return []

    @staticmethod
    def deploy_actions(t, config: EnvironmentConfig, approval: bool, service_template: CfnTemplate) -> list:
        return [action("Deploy", "Deploy", "ECS", {
            "ClusterName": Ref("ClusterName"), "ServiceName": Ref("ServiceName"),
            "FileName": "imagedefinitions.json",
        }, inputs=(BUILD_OUTPUT,))]

    @staticmethod
    def pipeline_statements(t, config: EnvironmentConfig) -> list[Statement]:
        cluster_arn = Sub(ARN % ("ecs", "cluster/${ClusterName}"))
        return [
            # What the ECS deploy action calls: read and update this service only.
            Statement(Effect=Allow, Action=[awsecs.DescribeServices, awsecs.UpdateService],
                      Resource=[Sub(ARN % ("ecs", "service/${ClusterName}/${ServiceName}"))]),
            Statement(Effect=Allow, Action=[awsecs.DescribeTasks],
                      Resource=[Sub(ARN % ("ecs", "task/${ClusterName}/*"))]),
            # ListTasks is authorised on container instances, which Fargate has none of: "*",
            # limited to this cluster by its condition key.
            Statement(Effect=Allow, Action=[awsecs.ListTasks], Resource=["*"],
                      Condition=Condition(ArnEquals({"ecs:cluster": cluster_arn}))),
            *_task_definition_statements(),
            _pass_task_roles([Ref("TaskRoleArn"), Ref("TaskExecutionRoleArn")]),
        ]


# --- cloudformation -----------------------------------------------------------------------------

class CloudFormation:
    outputs: dict[str, str] = {}

    @staticmethod
    def static_values(config: EnvironmentConfig) -> dict[str, str]:
        # The names the service stack gives its stack, cluster, service and task family
        # (blueprints/service.py and engines/common.py use the same naming functions).
        return {"ServiceStackName": naming.stack(config, "service"), "ClusterName": naming.cluster(config),
                "ServiceName": naming.service(config), "TaskDefinitionFamily": naming.task_family(config)}

    @staticmethod
    def parameters(t) -> None:
        t.param("ServiceStackName", "Service stack the Deploy stage changes (its template has no Outputs, so "
                                    "the name is the deterministic one from the manifest).", SERVICE_GROUP)
        t.param("ClusterName", "ECS cluster of the service (deterministic name from the manifest).", SERVICE_GROUP)
        t.param("ServiceName", "ECS service a release deploys to (deterministic name from the manifest).",
                SERVICE_GROUP)
        _family_parameter(t)

    @staticmethod
    def build_variables() -> list:
        return [codebuild.EnvironmentVariable(Name="SERVICE_STACK", Type="PLAINTEXT", Value=Ref("ServiceStackName"))]

    @staticmethod
    def build_statements(config: EnvironmentConfig) -> list[Statement]:
        # The build reads the template and parameter values the service stack runs now.
        return [Statement(Effect=Allow, Action=[awscfn.DescribeStacks, awscfn.GetTemplate],
                          Resource=[Sub(ARN % ("cloudformation", "stack/${ServiceStackName}/*"))])]

    @staticmethod
    def deploy_actions(t, config: EnvironmentConfig, approval: bool, service_template: CfnTemplate) -> list:
        # No RoleArn on either action, on purpose. CloudFormation keeps the role an operation passes
        # and uses it for every later operation on the stack that passes none ("If you don't specify
        # a value, CloudFormation uses the role that was previously associated with the stack",
        # CreateChangeSet RoleARN, CloudFormation API Reference). A narrow release role passed here
        # would then run every infrastructure update scripts/deploy.py makes (it passes no role)
        # and fail them. Without it CloudFormation acts with the pipeline role's credentials, which
        # carry the release's least-privilege statements (pipeline_statements).
        create = action("CreateChangeSet", "Deploy", "CloudFormation", {
            "ActionMode": "CHANGE_SET_REPLACE", "StackName": Ref("ServiceStackName"), "ChangeSetName": CHANGE_SET,
            "TemplatePath": f"{BUILD_OUTPUT}::service-template.json",
            "TemplateConfiguration": f"{BUILD_OUTPUT}::service-configuration.json",
            # The only value a release changes: the digest-pinned image that passed the scan gate.
            "ParameterOverrides": json.dumps({IMAGE_PARAMETER: f"#{{{BUILD_NAMESPACE}.IMAGE_URI}}"}),
            "Capabilities": ",".join(capabilities(service_template.to_dict())),
        }, 1, inputs=(BUILD_OUTPUT,))
        actions = [create]
        if approval:
            actions.append(approval_action(2))
        actions.append(action("ExecuteChangeSet", "Deploy", "CloudFormation", {
            "ActionMode": "CHANGE_SET_EXECUTE", "StackName": Ref("ServiceStackName"), "ChangeSetName": CHANGE_SET,
        }, 3 if approval else 2))
        return actions

    @staticmethod
    def pipeline_statements(t, config: EnvironmentConfig) -> list[Statement]:
        return [
            Statement(Effect=Allow, Action=[awscfn.CreateChangeSet, awscfn.DescribeChangeSet, awscfn.DeleteChangeSet,
                                            awscfn.ExecuteChangeSet, awscfn.DescribeStacks],
                      Resource=[Sub(ARN % ("cloudformation", "stack/${ServiceStackName}/*"))]),
            # A change set of a template with a transform is also authorised on the transform.
            Statement(Effect=Allow, Action=[awscfn.CreateChangeSet], Resource=[Sub(
                "arn:${AWS::Partition}:cloudformation:${AWS::Region}:aws:transform/CodeDeployBlueGreen")]),
            *_release_statements(config),
        ]


def _release_statements(config: EnvironmentConfig) -> list[Statement]:
    """What CloudFormation does, with the pipeline role's credentials (no RoleArn: see
    ``CloudFormation.deploy_actions``), when a release changes the image: replace the task
    definition and run the green deployment, nothing else (other changes go through deploy.py,
    whose caller has the rights for them)."""
    service_arn, task_sets = _service_arns()
    role_arn = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/%s"
    return [
        # Whoever updates a stack with the AWS::CodeDeployBlueGreen transform needs codedeploy:Get*
        # and CreateCloudFormationDeployment (AWS CloudFormation User Guide, "blue-green" page); Get*
        # is spelled out here. The transform names the CodeDeploy application and deployment group
        # itself, so they are not known in advance: scoped to this account and region.
        Statement(Effect=Allow, Action=[awscodedeploy.CreateCloudFormationDeployment, awscodedeploy.GetApplication,
                                        awscodedeploy.GetApplicationRevision, awscodedeploy.GetDeployment,
                                        awscodedeploy.GetDeploymentConfig, awscodedeploy.GetDeploymentGroup,
                                        awscodedeploy.GetDeploymentInstance, awscodedeploy.GetDeploymentTarget,
                                        awscodedeploy.GetOnPremisesInstance],
                  Resource=[Sub(ARN % ("codedeploy", "*"))]),
        *_task_definition_statements(),
        # DeregisterTaskDefinition (the replaced revision) has no resource-level permissions either.
        Statement(Effect=Allow, Action=[awsecs.DeregisterTaskDefinition], Resource=["*"]),
        Statement(Effect=Allow, Action=[awsecs.DescribeServices, awsecs.CreateTaskSet, awsecs.DeleteTaskSet,
                                        awsecs.UpdateTaskSet, awsecs.DescribeTaskSets,
                                        awsecs.UpdateServicePrimaryTaskSet],
                  Resource=[service_arn, task_sets]),
        # The service template has no Outputs, so the task roles are matched by the names
        # CloudFormation gives unnamed roles: <stack name>-<logical ID>-<suffix>.
        _pass_task_roles([Sub(role_arn % naming.stack_role_pattern(config, logical_id))
                          for logical_id in ROLE_VARIABLES]),
        # The green deployment runs as the hook's ServiceRole (a role name in Hooks).
        roles.pass_role([Sub(role_arn % naming.bluegreen_hook_role(config))], "codedeploy.amazonaws.com"),
    ]


ENGINES = {"codedeploy": CodeDeploy, "ecs": Ecs, "cloudformation": CloudFormation}


def engine(config: EnvironmentConfig):
    return ENGINES[config.service.deployment_engine]


def parameter_sources(config: EnvironmentConfig) -> dict[str, tuple[str, str]]:
    """The pipeline template's service-stack parameters: ("output", <service output>) or ("value", <text>)."""
    chosen = engine(config)
    sources = {key: ("output", output) for key, output in chosen.outputs.items()}
    if chosen is CloudFormation:
        sources.update({key: ("value", value) for key, value in CloudFormation.static_values(config).items()})
    return sources
