"""The text the pipeline's build runs and writes, rendered with jinja2 from blueprints/assets/templates/:
the buildspec (which embeds blueprints/assets/scan_gate.py verbatim, then runs the engine's build
steps), and for the codedeploy engine the ``taskdef.json`` and ``appspec.yaml`` that CodeDeployToECS
reads.

``taskdef.json`` is not a second description of the task: it is the service stack's own
TaskDefinition resource (built by blueprints/service.py), turned into the ECS API's shape, so the
container, sizes, logs, environment, secrets and roles cannot drift from the service stack.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from .. import assets, naming
from ..config import EnvironmentConfig

if TYPE_CHECKING:
    from ..engines.base import BuildStep, Engine, ReleaseStep, ServiceHandles, ServiceStack

# CodeDeployToECS replaces "<Image1ContainerName>" in taskdef.json with the image: the action's
# Image1ContainerName is the placeholder's text, not a container name (CodePipeline action
# reference, "Amazon ECS and CodeDeploy blue-green deploy action"; AWS CDK's
# CodeDeployEcsContainerImageInput.taskDefinitionPlaceholder documents the same contract).
IMAGE_PLACEHOLDER_NAME = "IMAGE1_NAME"
IMAGE_PLACEHOLDER = f"<{IMAGE_PLACEHOLDER_NAME}>"
# Tag prefixes of the images the build pushes (build-<commit>) and of those that passed the scan
# gate (release-<commit>): the ECR lifecycle policy keeps released images and expires the others.
BUILD_TAG_PREFIX = "build-"
RELEASE_TAG_PREFIX = "release-"
IMAGE_PARAMETER = "ImageUri"  # the service stack's image parameter
# Role ARNs and the task family arrive at build time as CodeBuild environment variables (from the
# pipeline's parameters, which the manifest fills from the service stack's outputs), so
# taskdef.json is written by an unquoted heredoc that expands exactly these three.
TASK_ROLE_VARIABLE = "TASK_ROLE_ARN"
EXECUTION_ROLE_VARIABLE = "EXECUTION_ROLE_ARN"
FAMILY_VARIABLE = "TASK_FAMILY"
BUILD_VARIABLES = (TASK_ROLE_VARIABLE, EXECUTION_ROLE_VARIABLE, FAMILY_VARIABLE)
# Properties of the service's TaskDefinition that taskdef.json.j2 carries; anything else fails
# generation instead of silently going missing from releases.
TASKDEF_PROPERTIES = {
    "Family",
    "RequiresCompatibilities",
    "NetworkMode",
    "Cpu",
    "Memory",
    "RuntimePlatform",
    "ExecutionRoleArn",
    "TaskRoleArn",
    "ContainerDefinitions",
    "Tags",
}
# Maps whose keys are data, not property names (kept as written).
_FREE_FORM = {"Options", "DockerLabels"}


def _json(value: Any, indent: int | None = None) -> str:
    # Not jinja's tojson: that escapes < and >, and the placeholder must stay <IMAGE1_NAME>.
    return json.dumps(value, indent=indent, sort_keys=True, ensure_ascii=False)


_ENV = assets.templates()
_ENV.filters["json"] = _json


def render(name: str, **values: Any) -> str:
    """One of blueprints/assets/templates/, rendered."""
    return _ENV.get_template(name).render(**values)


def _token(variable: str) -> str:
    return f"__{variable}__"


def _resolve(value: Any, config: EnvironmentConfig, shared: ServiceHandles) -> Any:
    """Replace the intrinsic functions of the service's task definition by release-time values."""
    if isinstance(value, list):
        return [_resolve(v, config, shared) for v in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Ref"]:
        known = {
            IMAGE_PARAMETER: IMAGE_PLACEHOLDER,
            shared.log_group.title: naming.log_group(config),
            "AWS::Region": config.region,
        }
        if value["Ref"] in known:
            return known[value["Ref"]]
    elif list(value) == ["Fn::GetAtt"] and value["Fn::GetAtt"][1] == "Arn":
        roles = {shared.task_role.title: TASK_ROLE_VARIABLE, shared.task_execution_role.title: EXECUTION_ROLE_VARIABLE}
        if value["Fn::GetAtt"][0] in roles:
            return _token(roles[value["Fn::GetAtt"][0]])
    elif not any(key.startswith("Fn::") or key == "Ref" for key in value):
        return {key: _resolve(v, config, shared) for key, v in value.items()}
    raise ValueError(f"taskdef.json: no release-time value for {value} of the service's task definition")


def _api_shape(value: Any, free_form: bool = False) -> Any:
    """CloudFormation's PascalCase properties -> the ECS API's camelCase (RegisterTaskDefinition)."""
    if isinstance(value, list):
        return [_api_shape(v) for v in value]
    if not isinstance(value, dict):
        return value
    if free_form:
        return dict(value)
    return {key[0].lower() + key[1:]: _api_shape(v, key in _FREE_FORM) for key, v in value.items()}


def task_definition(config: EnvironmentConfig, service: ServiceStack) -> dict[str, Any]:
    """The service stack's TaskDefinition in the ECS API's shape, with the image placeholder and
    the role-ARN and family tokens (see ``taskdef_json``)."""
    properties = service.handles.task_definition.to_dict()["Properties"]
    extra = set(properties) - TASKDEF_PROPERTIES
    if extra:
        raise ValueError(f"taskdef.json.j2 does not carry the task definition properties {sorted(extra)}")
    shaped = _api_shape(_resolve(properties, config, service.handles))
    # The family the release registers a revision of is the service stack's (its
    # TaskDefinitionFamily output), not a name the pipeline derives itself.
    # The Name tag repeats the family (blueprints/service.py), so it follows the same value.
    shaped["family"] = _token(FAMILY_VARIABLE)
    shaped["tags"] = [
        {**tag, "value": shaped["family"]} if tag.get("value") == properties["Family"] else tag
        for tag in shaped.get("tags", [])
    ]
    return shaped


def taskdef_json(config: EnvironmentConfig, service: ServiceStack) -> str:
    """taskdef.json as CodeDeployToECS reads it, with ``__TASK_ROLE_ARN__`` style tokens for the
    role ARNs and the family (``buildspec`` turns them into shell variables)."""
    text = render("taskdef.json.j2", td=task_definition(config, service))
    json.loads(text)  # always valid JSON
    return text


def appspec_yaml(config: EnvironmentConfig) -> str:
    return render(
        "appspec.yaml.j2",
        container_name=naming.container(config),
        container_port=config.service.container_port,
        hook_function=naming.hook_function(config),
    )


def heredoc_body(text: str) -> str:
    """Text for an unquoted heredoc: escape what the shell would expand, then let the role tokens
    expand as variables."""
    escaped = text.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")
    for variable in BUILD_VARIABLES:
        escaped = escaped.replace(_token(variable), "${" + variable + "}")
    return escaped


def steps_yaml(steps: list[BuildStep]) -> list[str]:
    """Build steps as buildspec lines of the build phase: the comment, then each command (a
    multi-line one as a literal block)."""
    lines = []
    for step in steps:
        lines += [f"      # {line}" for line in step.comment.splitlines()]
        for command in step.commands:
            if "\n" not in command:
                lines.append(f"      - {command}")
                continue
            lines.append("      - |")
            lines += [f"        {line}" if line else "" for line in command.split("\n")]
    return lines


def buildspec(config: EnvironmentConfig, service: ServiceStack, engine: Engine) -> str:
    pipeline = config.pipeline
    assert pipeline is not None  # only environments with a pipeline section have a pipeline stack
    gate = assets.text(assets.SCAN_GATE)
    return render(
        "buildspec.yml.j2",
        project_name=naming.build_project(config),
        dockerfile=pipeline.dockerfile,
        build_context=pipeline.build_context,
        scan_max=pipeline.scan_max,
        scan_timeout=pipeline.scan_timeout_seconds,
        scan_gate=gate.rstrip("\n"),
        release_tag_prefix=RELEASE_TAG_PREFIX,
        build_tag_prefix=BUILD_TAG_PREFIX,
        scan_gate_sha256=hashlib.sha256(gate.encode("utf-8")).hexdigest(),
        artifacts=engine.artifacts,
        deploy_lines=steps_yaml(engine.build_steps(config, service)),
    )


def release_buildspec(project_name: str, step: ReleaseStep) -> str:
    """The buildspec of one release project: the engine's commands, on the build's output artifact."""
    return render("release.yml.j2", project_name=project_name, action=step.action, lines=steps_yaml(list(step.steps)))
