"""Pipeline stack, release side: the pieces every engine's Deploy stage is made of.

Each engine (``blueprints.engines``) builds its own Deploy stage, build steps and permissions from
these: CodePipeline action declarations, the manual approval, the task-definition permissions of
engines that register revisions, and the parameters that name the service stack's resources.

Values from the service stack (names of its cluster, service, task family, container, CodeDeploy
application and group, and its task roles) arrive as parameters: from its Outputs through the
manifest, or, for the cloudformation engine whose template may have no Outputs, as the deterministic
names of blueprints/naming.py, also written into the manifest. The pipeline template itself names
none of them.
"""

from __future__ import annotations

import json
from typing import Any

from awacs import ecs as awsecs
from awacs.aws import Allow, Statement
from troposphere import Ref, Sub, codebuild, codepipeline

from .. import roles
from ..engines.base import ARN
from . import pipeline_artifacts

BUILD_OUTPUT = "BuildOutput"
BUILD_NAMESPACE = "BuildVariables"
SERVICE_GROUP = "Service stack"
CHANGE_SET = "pipeline-release"


def action(
    name: str,
    category: str,
    provider: str,
    configuration: dict,
    run_order: int = 1,
    inputs: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
    owner: str = "AWS",
    **extra: Any,
) -> codepipeline.Actions:
    return codepipeline.Actions(
        Name=name,
        RunOrder=run_order,
        Configuration=configuration,
        ActionTypeId=codepipeline.ActionTypeId(Category=category, Owner=owner, Provider=provider, Version="1"),
        InputArtifacts=[codepipeline.InputArtifacts(Name=n) for n in inputs],
        OutputArtifacts=[codepipeline.OutputArtifacts(Name=n) for n in outputs],
        **extra,
    )


def approval_action(run_order: int = 1) -> codepipeline.Actions:
    return action(
        "Approve",
        "Approval",
        "Manual",
        {"CustomData": "Approve to release the image that passed the scan gate."},
        run_order,
        owner="AWS",
    )


def pass_task_roles(resources: list[Any]) -> Statement:
    """Registering a task definition passes its roles to ECS tasks: exactly these, only to ECS."""
    return roles.pass_role(resources, "ecs-tasks.amazonaws.com")


def task_definition_statements() -> list[Statement]:
    """Registering revisions of the service's family: RegisterTaskDefinition and TagResource (the
    revision carries tags) accept the task-definition resource type; DescribeTaskDefinition has
    no resource-level permissions (IAM authorization data bundled with cfn-lint)."""
    family_revisions = Sub(ARN % ("ecs", "task-definition/${TaskDefinitionFamily}:*"))
    return [
        Statement(
            Effect=Allow, Action=[awsecs.RegisterTaskDefinition, awsecs.TagResource], Resource=[family_revisions]
        ),
        Statement(Effect=Allow, Action=[awsecs.DescribeTaskDefinition], Resource=["*"]),
    ]


# Service-stack outputs that both engines releasing ECS task definitions through the pipeline need:
# the family new revisions belong to and the roles they run with.
TASK_OUTPUTS = {
    "TaskDefinitionFamily": "TaskDefinitionFamily",
    "TaskRoleArn": "TaskRoleArn",
    "TaskExecutionRoleArn": "TaskExecutionRoleArn",
}


def family_parameter(t: Any) -> None:
    t.param(
        "TaskDefinitionFamily",
        "Task definition family of the service; releases register new revisions "
        "of it (service stack output, or its deterministic name).",
        SERVICE_GROUP,
    )


def task_parameters(t: Any) -> None:
    family_parameter(t)
    t.param("TaskRoleArn", "Role of the service's tasks (service stack output).", SERVICE_GROUP)
    t.param("TaskExecutionRoleArn", "Role ECS starts the service's tasks with (service stack output).", SERVICE_GROUP)


def task_build_variables() -> list[codebuild.EnvironmentVariable]:
    """The values taskdef.json is written with at build time (pipeline_artifacts.BUILD_VARIABLES)."""
    values = {
        pipeline_artifacts.TASK_ROLE_VARIABLE: Ref("TaskRoleArn"),
        pipeline_artifacts.EXECUTION_ROLE_VARIABLE: Ref("TaskExecutionRoleArn"),
        pipeline_artifacts.FAMILY_VARIABLE: Ref("TaskDefinitionFamily"),
    }
    return [codebuild.EnvironmentVariable(Name=name, Type="PLAINTEXT", Value=value) for name, value in values.items()]


def codebuild_action(
    name: str, project: codebuild.Project, run_order: int = 1, variables: dict[str, str] | None = None
) -> codepipeline.Actions:
    """A release step: the project of that name runs on the build's output artifact, with
    ``variables`` (pipeline variables such as #{codepipeline.PipelineExecutionId}) in its environment."""
    configuration: dict[str, Any] = {"ProjectName": Ref(project)}
    if variables:
        configuration["EnvironmentVariables"] = json.dumps(
            [{"name": key, "type": "PLAINTEXT", "value": value} for key, value in sorted(variables.items())]
        )
    return action(name, "Build", "CodeBuild", configuration, run_order, inputs=(BUILD_OUTPUT,))


def service_arns() -> tuple[Sub, Sub]:
    return (
        Sub(ARN % ("ecs", "service/${ClusterName}/${ServiceName}")),
        Sub(ARN % ("ecs", "task-set/${ClusterName}/${ServiceName}/*")),
    )
