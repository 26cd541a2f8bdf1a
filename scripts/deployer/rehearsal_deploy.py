"""Interpreters of the deploy providers a pipeline may use: CodeDeployToECS, ECS (standard) and
CloudFormation. Each follows its CodePipeline action reference, quoted in its docstring; a
configuration or artifact that breaks the contract fails the step, naming the field or file."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import yaml
from botocore.exceptions import ClientError, ParamValidationError

from .aws import describe_stack, error_message
from .rehearsal_actions import Release
from .rehearsal_model import Action, StepFailedError

# RegisterTaskDefinition's request fields, the ones a revision is copied with.
REGISTER_FIELDS = (
    "family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions", "volumes",
    "placementConstraints", "requiresCompatibilities", "cpu", "memory", "pidMode", "ipcMode",
    "proxyConfiguration", "inferenceAccelerators", "ephemeralStorage", "runtimePlatform",
)  # fmt: skip


def service_of(release: Release) -> tuple[str, str]:
    """(cluster, service ARN) of the service stack's AWS::ECS::Service, as deployed."""
    stack = release.service
    for logical_id, resource in stack.template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::ECS::Service":
            cluster = stack.resolve(resource.get("Properties", {}).get("Cluster", "default"), f"{logical_id}.Cluster")
            return cluster, stack.resources[logical_id]
    raise StepFailedError("service", f"{stack.entry.stack_name} has no AWS::ECS::Service", "service")


def register(release: Release, label: str, doc: str, definition: dict[str, Any]) -> str:
    """RegisterTaskDefinition on the emulator (a real call); the new revision's ARN."""
    try:
        registered = release.client("ecs").register_task_definition(**definition)["taskDefinition"]
    except (ClientError, ParamValidationError) as exc:
        reason = error_message(exc) if isinstance(exc, ClientError) else str(exc)
        raise StepFailedError(label, f"RegisterTaskDefinition refused the task definition: {reason}", doc) from None
    arn: str = registered["taskDefinitionArn"]
    return arn


def _revision(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _read(release: Release, action: Action, artifact: str, path: str, doc: str) -> str:
    file = release.artifact(action, artifact) / path
    if not file.is_file():
        raise StepFailedError(action.label, f"{path} is not in input artifact {artifact}", doc)
    return file.read_text()


def codedeploy_to_ecs(release: Release, action: Action) -> None:
    """Amazon ECS and CodeDeploy blue-green deploy action (CodePipeline action reference, and the
    tutorial "Create a pipeline with an Amazon ECR source and ECS-to-CodeDeploy deployment"):
    reads TaskDefinitionTemplatePath (default taskdef.json) and AppSpecTemplatePath (default
    appspec.yaml) from their artifacts and imageDetail.json's ImageURI from Image1ArtifactName; in
    the task definition it replaces the placeholder ``<VALUE>``, VALUE being Image1ContainerName
    (placeholder text such as IMAGE1_NAME, not a container name), with that URI; registers the
    result, puts its ARN in the AppSpec's ``TaskDefinition: <TASK_DEFINITION>``, and starts a
    CodeDeploy deployment of the AppSpec. Its LoadBalancerInfo must name a container and a port
    mapping of the task definition. Checked: every rule above. Executed: RegisterTaskDefinition.
    Emulated: the deployment (moto runs no CodeDeploy deployments) as its end state, the service
    running the new revision (UpdateService)."""
    doc, label = "codedeploy-ecs", action.label
    taskdef_artifact = release.value(action, "TaskDefinitionTemplateArtifact") or action.inputs[0]
    taskdef_path = release.value(action, "TaskDefinitionTemplatePath") or "taskdef.json"
    appspec_artifact = release.value(action, "AppSpecTemplateArtifact") or action.inputs[0]
    appspec_path = release.value(action, "AppSpecTemplatePath") or "appspec.yaml"
    text = _read(release, action, taskdef_artifact, taskdef_path, doc)
    checks = []
    for number in range(1, 5):
        image_artifact = release.value(action, f"Image{number}ArtifactName")
        placeholder_name = release.value(action, f"Image{number}ContainerName")
        if not image_artifact and not placeholder_name:
            continue
        if not image_artifact or not placeholder_name:
            raise StepFailedError(label, f"Image{number}ArtifactName and Image{number}ContainerName go together", doc)
        try:
            image = json.loads(_read(release, action, image_artifact, "imageDetail.json", doc))["ImageURI"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise StepFailedError(label, f"imageDetail.json of {image_artifact} has no ImageURI", doc) from None
        placeholder = f"<{placeholder_name}>"
        if placeholder not in text:
            present = sorted(set(re.findall(r"<([A-Z0-9_]+)>", text)))
            raise StepFailedError(
                label,
                f"Image{number}ContainerName is {placeholder_name!r}, so the action replaces the placeholder "
                f"{placeholder} in {taskdef_path}, which has none"
                + (f" (it has {', '.join('<' + p + '>' for p in present)})" if present else "")
                + ": the action would register the task definition with the placeholder text as the image. "
                "Image1ContainerName is the placeholder text (IMAGE1_NAME for <IMAGE1_NAME>), not the container's name",
                doc,
            )
        text = text.replace(placeholder, image)
        checks.append(f"{placeholder} in {taskdef_path} → imageDetail.json's ImageURI")
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StepFailedError(label, f"{taskdef_path} is not JSON after the substitution ({exc})", doc) from None
    left = sorted(set(re.findall(r"<([A-Z0-9_]+)>", json.dumps(definition))))
    if left:
        raise StepFailedError(label, f"{taskdef_path} keeps placeholders no Image<N> setting replaces: {left}", doc)
    containers = {c.get("name"): c for c in definition.get("containerDefinitions", [])}
    try:
        appspec = yaml.safe_load(_read(release, action, appspec_artifact, appspec_path, doc))
        target = appspec["Resources"][0]["TargetService"]["Properties"]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        raise StepFailedError(label, f"{appspec_path} has no Resources[0].TargetService.Properties", doc) from None
    if target.get("TaskDefinition") != "<TASK_DEFINITION>":
        raise StepFailedError(
            label,
            f"{appspec_path}: TaskDefinition must stay <TASK_DEFINITION>, not {target.get('TaskDefinition')!r}",
            doc,
        )
    lb = target.get("LoadBalancerInfo") or {}
    name, port = lb.get("ContainerName"), lb.get("ContainerPort")
    ports = {int(p.get("containerPort", -1)) for p in (containers.get(name) or {}).get("portMappings", [])}
    if name not in containers or port is None or int(port) not in ports:
        declared = [f"{n}:{p.get('containerPort')}" for n, c in containers.items() for p in c.get("portMappings", [])]
        raise StepFailedError(
            label,
            f"{appspec_path}: LoadBalancerInfo {name}:{port} is not a container and port mapping of "
            f"{taskdef_path} (it has {', '.join(declared) or 'none'})",
            doc,
        )
    checks.append(f"{appspec_path} keeps <TASK_DEFINITION>; LoadBalancerInfo {name}:{port} is in {taskdef_path}")
    checks += _hooks(release, label, appspec_path, appspec.get("Hooks") or [])
    release.checked(f"{label}: " + "; ".join(checks))
    arn = register(release, label, doc, definition)
    release.executed(f"{label}: RegisterTaskDefinition {_revision(arn)} (real call on the emulator)")
    cluster, service = service_of(release)
    release.client("ecs").update_service(cluster=cluster, service=service, taskDefinition=arn)
    release.emulated(
        f"{label}: the CodeDeploy blue/green deployment (moto runs none) — its end state, UpdateService giving "
        f"{service.rsplit('/', 1)[-1]} {_revision(arn)}"
    )
    release.last_change = (label, doc)


# The lifecycle events of an ECS deployment's AppSpec (CodeDeploy User Guide, "AppSpec 'hooks'
# section for an Amazon ECS deployment"); each names a Lambda function CodeDeploy invokes.
ECS_HOOK_EVENTS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")


def _hooks(release: Release, label: str, appspec_path: str, hooks: list[Any]) -> list[str]:
    named = []
    for hook in hooks:
        for event, function in (hook or {}).items():
            if event not in ECS_HOOK_EVENTS:
                raise StepFailedError(label, f"{appspec_path}: {event} is not an ECS lifecycle event", "codedeploy-ecs")
            try:
                release.client("lambda").get_function(FunctionName=str(function))
            except ClientError:
                raise StepFailedError(
                    label,
                    f"{appspec_path}: {event} names {function}, which is not a deployed function",
                    "codedeploy-ecs",
                ) from None
            named.append(f"{event} → {function}")
    return [f"{appspec_path} hooks exist on the emulator ({', '.join(named)})"] if named else []


def ecs_standard(release: Release, action: Action) -> None:
    """Amazon ECS deploy action (CodePipeline User Guide, Amazon Elastic Container Service deploy
    action reference): "creates its own revision of the task definition based on the revision used
    by the Amazon ECS service. If you create new revisions for the task definition without updating
    the Amazon ECS service, the deployment action will ignore those revisions." Configuration
    ClusterName and ServiceName (required), FileName (default imagedefinitions.json: a JSON list of
    {name, imageUri}). Executed: DescribeServices → DescribeTaskDefinition → RegisterTaskDefinition
    of that revision with only the named containers' images replaced → UpdateService."""
    doc, label = "ecs", action.label
    for required in ("ClusterName", "ServiceName"):
        if not action.configuration.get(required):
            raise StepFailedError(label, f"configuration {required} is required", doc)
    cluster, service = release.value(action, "ClusterName") or "", release.value(action, "ServiceName") or ""
    file_name = release.value(action, "FileName") or "imagedefinitions.json"
    try:
        entries = json.loads(_read(release, action, action.inputs[0], file_name, doc))
        images = {str(e["name"]): str(e["imageUri"]) for e in entries}
    except (json.JSONDecodeError, KeyError, TypeError):
        raise StepFailedError(label, f"{file_name} is not a JSON list of {{name, imageUri}}", doc) from None
    ecs = release.client("ecs")
    found = ecs.describe_services(cluster=cluster, services=[service])["services"]
    if not found:
        raise StepFailedError(label, f"service {service} is not in cluster {cluster}", doc)
    current = found[0]["taskDefinition"]
    described = ecs.describe_task_definition(taskDefinition=current, include=["TAGS"])
    definition = {k: v for k, v in described["taskDefinition"].items() if k in REGISTER_FIELDS}
    if described.get("tags"):
        definition["tags"] = described["tags"]
    containers = {c["name"]: c for c in definition.get("containerDefinitions", [])}
    unknown = sorted(set(images) - set(containers))
    if unknown:
        raise StepFailedError(
            label, f"{file_name} names containers {unknown} that {_revision(current)} does not have", doc
        )
    for name, uri in images.items():
        containers[name]["image"] = uri
    arn = register(release, label, doc, definition)
    ecs.update_service(cluster=cluster, service=service, taskDefinition=arn)
    release.executed(
        f"{label}: registered {_revision(arn)} from the revision the service ran ({_revision(current)}) with "
        f"the image of {', '.join(sorted(images))} replaced; UpdateService (real calls on the emulator)"
    )
    release.last_change = (label, doc)


# CodePipeline's CloudFormation action: which configuration each ActionMode requires (AWS
# CloudFormation User Guide, CodePipeline action configuration reference; AWS CodePipeline User
# Guide, AWS CloudFormation deploy action reference).
CFN_REQUIRED = {
    "CHANGE_SET_REPLACE": ("StackName", "ChangeSetName", "TemplatePath", "RoleArn"),
    "CHANGE_SET_EXECUTE": ("StackName", "ChangeSetName"),
    "CREATE_UPDATE": ("StackName", "TemplatePath", "RoleArn"),
    "REPLACE_ON_FAILURE": ("StackName", "TemplatePath", "RoleArn"),
    "DELETE_ONLY": ("StackName", "RoleArn"),
}


def cloudformation(release: Release, action: Action) -> None:
    """AWS CloudFormation deploy action (CloudFormation User Guide, CodePipeline action
    configuration reference): ActionMode and StackName are required; ChangeSetName in the change-set
    modes; TemplatePath (ARTIFACT::PATH) in CHANGE_SET_REPLACE, CREATE_UPDATE and
    REPLACE_ON_FAILURE; RoleArn, the role CloudFormation assumes, in CHANGE_SET_REPLACE,
    CREATE_UPDATE, REPLACE_ON_FAILURE and DELETE_ONLY. ParameterOverrides (JSON) override
    TemplateConfiguration's Parameters. Checked: the required fields. Executed: the change set
    (create, or execute and wait) with the parameters, capabilities and role the action names."""
    doc, label = "cloudformation", action.label
    mode = release.value(action, "ActionMode")
    if mode not in CFN_REQUIRED:
        raise StepFailedError(label, f"ActionMode {mode!r} is not one of {', '.join(CFN_REQUIRED)}", doc)
    missing = [key for key in CFN_REQUIRED[mode] if not action.configuration.get(key)]
    if missing:
        raise StepFailedError(label, f"{', '.join(missing)} is required in {mode} mode and the action has none", doc)
    release.checked(f"{label}: {mode} has {', '.join(CFN_REQUIRED[mode])}")
    cfn = release.aws.cfn(release.service.region)
    stack = release.value(action, "StackName") or ""
    change_set = release.value(action, "ChangeSetName") or ""
    if mode == "CHANGE_SET_EXECUTE":
        try:
            cfn.execute_change_set(StackName=stack, ChangeSetName=change_set)
        except ClientError as exc:
            raise StepFailedError(label, f"ExecuteChangeSet: {error_message(exc)}", doc) from None
        _wait_stack(release, label, stack)
        release.executed(f"{label}: executed change set {change_set} of {stack} (real call on the emulator)")
        release.last_change = (label, doc)
        return
    if mode != "CHANGE_SET_REPLACE":
        raise StepFailedError(label, f"{mode} is checked but not rehearsed (the release path uses change sets)", doc)
    body = _artifact_file(release, action, release.value(action, "TemplatePath") or "")
    parameters: dict[str, str] = {}
    tags: list[dict[str, str]] = []
    configuration = release.value(action, "TemplateConfiguration")
    if configuration:
        loaded = json.loads(_artifact_file(release, action, configuration))
        parameters.update(loaded.get("Parameters", {}))
        tags = [{"Key": k, "Value": v} for k, v in loaded.get("Tags", {}).items()]
    overrides = release.value(action, "ParameterOverrides")
    if overrides:
        parameters.update(json.loads(overrides))
    capabilities = [c for c in (release.value(action, "Capabilities") or "").split(",") if c]
    try:
        # "Creates the change set if it doesn't exist ... If the change set exists, AWS CloudFormation
        # deletes it, and then creates a new one" (for a stack that does not exist yet, a CREATE one).
        exists = _exists(release, stack)
        if exists:
            summaries = cfn.list_change_sets(StackName=stack)["Summaries"]
            if any(s["ChangeSetName"] == change_set for s in summaries):
                cfn.delete_change_set(StackName=stack, ChangeSetName=change_set)
        cfn.create_change_set(
            StackName=stack, ChangeSetName=change_set, ChangeSetType="UPDATE" if exists else "CREATE",
            TemplateBody=body, Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Capabilities=capabilities, RoleARN=release.value(action, "RoleArn") or "", Tags=tags,
        )  # fmt: skip
    except ClientError as exc:
        raise StepFailedError(label, f"CreateChangeSet: {error_message(exc)}", doc) from None
    release.executed(f"{label}: created change set {change_set} of {stack} (real call on the emulator)")


def _exists(release: Release, stack: str) -> bool:
    return describe_stack(release.aws.cfn(release.service.region), stack) is not None


def _artifact_file(release: Release, action: Action, reference: str) -> str:
    artifact, _, path = reference.partition("::")
    return _read(release, action, artifact, path, "cloudformation")


def _wait_stack(release: Release, label: str, stack: str) -> None:
    cfn = release.aws.cfn(release.service.region)
    deadline = time.monotonic() + 300
    while True:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise StepFailedError(label, f"{stack} still {status} after 300 s", "cloudformation")
        time.sleep(0.2)
    if not status.endswith("_COMPLETE") or "ROLLBACK" in status:
        raise StepFailedError(label, f"{stack} ended {status}", "cloudformation")


def bluegreen_transform(release: Release, label: str, before: dict[str, str]) -> None:
    """The AWS::CodeDeployBlueGreen transform (CloudFormation User Guide, "Perform ECS blue/green
    deployments through CodeDeploy using CloudFormation"): a stack update that replaces the task
    definition makes CloudFormation run a green deployment — a green task set on the new revision,
    traffic shifted, the green task set made primary. moto ignores the transform and models no task
    sets (gap 7), and the emulator's copy of the service names the task definition instead (gap 12).
    Emulated: the deployment's end state, the service given the stack's new revision."""
    stack = release.service
    if "AWS::CodeDeployBlueGreen" not in json.dumps(stack.template.get("Transform", "")):
        return
    for logical_id, resource in stack.template.get("Resources", {}).items():
        new = stack.resources.get(logical_id)
        if resource.get("Type") == "AWS::ECS::TaskDefinition" and new and before.get(logical_id) != new:
            cluster, service = service_of(release)
            release.client("ecs").update_service(cluster=cluster, service=service, taskDefinition=new)
            release.emulated(
                f"{label}: the green deployment of the AWS::CodeDeployBlueGreen transform (moto ignores the "
                f"transform) — its end state, the primary task set on the stack's new {_revision(new)}"
            )
