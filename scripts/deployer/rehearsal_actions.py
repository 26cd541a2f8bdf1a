"""The release's state while it is rehearsed, and the interpreters of the pipeline's Source,
CodeBuild and manual approval actions (the deploy providers are in deployer.rehearsal_deploy).
Each interpreter's docstring states the contract it follows and the AWS page it is taken from."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from .aws import Aws, error_message
from .manifest import StackEntry
from .rehearsal_build import BuildFailedError, Workspace, parse_buildspec, run_buildspec
from .rehearsal_model import Action, DeployedStack, Journal, RehearsalInputError, StepFailedError
from .template_values import literal_text

# The scan gate's invocation in a buildspec (scripts/scan_gate.py embedded and run by python3).
SCAN_GATE = re.compile(r"\bpython3?\s+\S*scan_gate\.py\b")
VARIABLE = re.compile(r"#\{([A-Za-z0-9@_-]+)\.([A-Za-z0-9@_.-]+)\}")


@dataclass
class Release:
    """One pipeline execution being rehearsed."""

    ws: Workspace
    aws: Aws
    pipeline: DeployedStack
    service: DeployedStack
    journal: Journal
    say: Callable[[str], None]
    commit: str
    execution_id: str
    artifacts: dict[str, Path] = field(default_factory=dict)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    # The last action that changed the service, and the document it follows: a final check that
    # fails names it.
    last_change: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        self.namespaces["codepipeline"] = {"PipelineExecutionId": self.execution_id}

    def client(self, service: str) -> Any:
        return self.aws.client(service, self.service.region)

    def executed(self, line: str) -> None:
        self.journal.executed.append(line)
        self.say(line)

    def checked(self, line: str) -> None:
        self.journal.checked.append(line)
        self.say(f"checked against contract: {line}")

    def emulated(self, line: str) -> None:
        self.journal.emulated.append(line)
        self.say(f"emulated: {line}")

    def value(self, action: Action, key: str, default: str | None = None) -> str | None:
        """A configuration value of the action: template intrinsics resolved against the deployed
        pipeline stack, then pipeline variables (#{Namespace.Variable}) substituted."""
        raw = action.configuration.get(key)
        if raw is None:
            return default
        return self.substitute(self.pipeline.resolve(raw, f"{action.label} {key}"), action)

    def substitute(self, text: str, action: Action) -> str:
        """CodePipeline resolves #{Namespace.Variable} in action configuration before the action
        runs; a variable that is not set fails the action (Variables reference)."""

        def one(match: re.Match[str]) -> str:
            namespace, name = match.groups()
            if name in self.namespaces.get(namespace, {}):
                return self.namespaces[namespace][name]
            raise StepFailedError(action.label, f"pipeline variable #{{{namespace}.{name}}} is not set", "variables")

        return VARIABLE.sub(one, text)

    def artifact(self, action: Action, name: str) -> Path:
        if name not in self.artifacts:
            raise StepFailedError(
                action.label, f"input artifact {name!r} was not produced by an earlier action", action.provider
            )
        return self.artifacts[name]


def source(release: Release, action: Action) -> None:
    """Any Source action: emulated. The application repository is not part of out/, so its output
    artifact is a stand-in source tree holding the Dockerfiles the buildspecs name, and its
    variables are those CodePipeline documents for a source action (Variables reference: CommitId,
    BranchName, FullRepositoryName, ConnectionArn, ...) with a fake commit id."""
    folder = release.ws.root / "source"
    for name in action.outputs:
        release.artifacts[name] = folder
    if action.namespace:
        release.namespaces[action.namespace] = {
            "CommitId": release.commit,
            "BranchName": str(action.configuration.get("BranchName", "main")),
            "FullRepositoryName": str(action.configuration.get("FullRepositoryId", "")),
            "ConnectionArn": "arn:aws:codestar-connections:rehearsal",
            "CommitMessage": "release rehearsal",
            "AuthorDate": "2026-01-01T00:00:00Z",
            "ProviderType": "GitHub",
        }
    release.emulated(f"{action.label}: stand-in application source (a Dockerfile), commit {release.commit}")


def manual_approval(release: Release, action: Action) -> None:
    """Manual approval (Approval/Manual): the pipeline waits until someone approves or rejects it
    (Manage approval actions in CodePipeline). The rehearsal approves."""
    release.emulated(f"{action.label}: approved (the rehearsal approves every manual approval)")


def codebuild_project(template: dict[str, Any], action: Action) -> tuple[str, dict[str, Any]]:
    """The AWS::CodeBuild::Project the action's ProjectName names (a Ref, or the project's Name)."""
    raw = action.configuration.get("ProjectName")
    resources = template.get("Resources", {})
    projects = {k: v for k, v in resources.items() if v.get("Type") == "AWS::CodeBuild::Project"}
    if isinstance(raw, dict) and raw.get("Ref") in projects:
        return raw["Ref"], projects[raw["Ref"]].get("Properties", {})
    for logical_id, resource in projects.items():
        if isinstance(raw, str) and resource.get("Properties", {}).get("Name") == raw:
            return logical_id, resource["Properties"]
    raise RehearsalInputError(
        f"{action.label}: ProjectName {raw!r} names no AWS::CodeBuild::Project of the pipeline template"
    )


def project_buildspec(pipeline: StackEntry, action: Action) -> dict[str, Any]:
    """The project's inline buildspec, parsed (RehearsalInputError when it has none or it is not 0.2)."""
    logical_id, project = codebuild_project(pipeline.template, action)
    # out/ writes a long buildspec one line per element of an Fn::Join; CloudFormation joins them.
    text = literal_text(project.get("Source", {}).get("BuildSpec"))
    if not isinstance(text, str) or not text.strip():
        raise RehearsalInputError(
            f"{action.label}: project {logical_id} has no inline Source.BuildSpec (a buildspec in the "
            "application repository is not part of out/)"
        )
    return parse_buildspec(text, f"{pipeline.template_path}: {logical_id}")


def _project_variables(release: Release, action: Action, project: dict[str, Any]) -> dict[str, str]:
    """The project's Environment.EnvironmentVariables: PLAINTEXT as resolved against the deployed
    pipeline stack; PARAMETER_STORE and SECRETS_MANAGER read from the emulator, as CodeBuild reads
    them at build start (a missing one fails the build)."""
    found: dict[str, str] = {}
    for variable in project.get("Environment", {}).get("EnvironmentVariables", []):
        name = str(variable["Name"])
        value = release.pipeline.resolve(variable.get("Value", ""), f"{action.label} variable {name}")
        kind = variable.get("Type", "PLAINTEXT")
        try:
            if kind == "PARAMETER_STORE":
                value = release.client("ssm").get_parameter(Name=value, WithDecryption=True)["Parameter"]["Value"]
            elif kind == "SECRETS_MANAGER":
                value = release.client("secretsmanager").get_secret_value(SecretId=value)["SecretString"]
        except ClientError as exc:
            raise StepFailedError(action.label, f"{kind} variable {name}: {error_message(exc)}", "buildspec") from None
        found[name] = value
    return found


def _buildspec_stores(release: Release, action: Action, spec: dict[str, Any]) -> dict[str, str]:
    """The buildspec's env.parameter-store and env.secrets-manager variables, read from the
    emulator at build start (buildspec reference: secret-id[:json-key[:version-stage[:version-id]]])."""
    env = spec.get("env") or {}
    found: dict[str, str] = {}
    try:
        for name, parameter in (env.get("parameter-store") or {}).items():
            reply = release.client("ssm").get_parameter(Name=str(parameter), WithDecryption=True)
            found[str(name)] = reply["Parameter"]["Value"]
        for name, reference in (env.get("secrets-manager") or {}).items():
            secret_id, _, key = str(reference).partition(":")
            if str(reference).startswith("arn:"):  # an ARN holds colons itself: secret-id is its first 7 parts
                parts = str(reference).split(":")
                secret_id, key = ":".join(parts[:7]), parts[7] if len(parts) > 7 else ""
            value = release.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
            found[str(name)] = str(json.loads(value)[key]) if key else value
    except (ClientError, KeyError, ValueError) as exc:
        reason = error_message(exc) if isinstance(exc, ClientError) else f"no such key ({exc})"
        raise StepFailedError(action.label, f"buildspec env store: {reason}", "buildspec") from None
    return found


def _action_variables(release: Release, action: Action) -> dict[str, str]:
    """The CodeBuild action's EnvironmentVariables configuration: a JSON list of name/value/type,
    with pipeline variables resolved (CodeBuild action reference)."""
    raw = release.value(action, "EnvironmentVariables")
    if not raw:
        return {}
    try:
        items = json.loads(raw)
    except json.JSONDecodeError:
        raise StepFailedError(action.label, "EnvironmentVariables is not a JSON list", "codebuild-action") from None
    return {str(item["name"]): str(item.get("value", "")) for item in items}


def codebuild(release: Release, action: Action) -> None:
    """AWS CodeBuild action (CodePipeline User Guide, AWS CodeBuild build and test action
    reference): runs the project named by ProjectName on the input artifact (the primary source,
    CODEBUILD_SRC_DIR) with the project's environment variables overridden by the action's
    EnvironmentVariables; its output artifact is the buildspec's ``artifacts`` and, with a
    Namespace, its variables are the buildspec's ``env.exported-variables``. The buildspec runs as
    deployer.rehearsal_build describes, its AWS CLI calls for real on the emulator."""
    logical_id, project = codebuild_project(release.pipeline.template, action)
    spec = project_buildspec(release.pipeline.entry, action)
    if not action.inputs:
        raise RehearsalInputError(f"{action.label}: a CodeBuild action needs an input artifact")
    primary = release.value(action, "PrimarySource") or action.inputs[0]
    variables = _buildspec_stores(release, action, spec)
    variables.update(_project_variables(release, action, project))
    variables.update(_action_variables(release, action))
    variables.update(
        CODEBUILD_RESOLVED_SOURCE_VERSION=release.commit,
        CODEBUILD_INITIATOR=f"codepipeline/{release.pipeline.entry.stack_name}",
    )
    for name in action.inputs:
        if name != primary:
            variables[f"CODEBUILD_SRC_DIR_{name}"] = str(release.artifact(action, name))
    output = release.ws.artifact(action.outputs[0]) if action.outputs else None
    pushed_before = len(release.ws.pushes())
    commands = _commands(spec)
    if any("describe-service-deployments" in c for c in commands):
        release.emulated(
            f"{action.label}: ECS service deployments (moto models none, gap 13): UpdateService records one, "
            "ListServiceDeployments, DescribeServiceRevisions and DescribeServiceDeployments answer it as the "
            "ECS API reference documents, its status moving one step per DescribeServiceDeployments"
        )
    minutes = float(project.get("TimeoutInMinutes", 60))
    try:
        result = run_buildspec(
            release.ws,
            spec,
            release.artifact(action, primary),
            variables,
            action.label,
            output,
            timeout=min(minutes * 60, 900),
        )
    except BuildFailedError as exc:
        _report_pushes(release, pushed_before)
        if SCAN_GATE.search(exc.command):
            release.say("scan gate: FAILED — the release stops here")
            raise StepFailedError(
                f"{action.label}, scan gate", f"{exc.reason}; the scan gate stopped the release:\n{exc.tail}", "scan"
            ) from None
        release.say(f"{action.label}: FAILED ({exc.reason})\n{exc.tail}")
        raise
    release.executed(f"{action.label}: ran {result.commands} commands on the emulator (project {logical_id})")
    if action.stage != "Build":  # a release step: a final check that fails names the last one
        release.last_change = (action.label, "codebuild-action")
    _report_pushes(release, pushed_before)
    if any(SCAN_GATE.search(c) for c in commands):
        release.say("scan gate: passed")
        release.journal.executed.append("scan gate: scripts/scan_gate.py on the pushed digest (passed)")
    if output is not None:
        release.artifacts[action.outputs[0]] = output
        release.say(f"  artifact {action.outputs[0]}: {', '.join(result.files)}")
    if action.namespace:
        release.namespaces[action.namespace] = result.exported
        shown = ", ".join(f"{action.namespace}.{k}" for k in sorted(result.exported)) or "none"
        release.say(f"  variables: {shown}")


def _commands(spec: dict[str, Any]) -> list[str]:
    """Every command of the buildspec's phases."""
    return [str(c) for phase in (spec.get("phases") or {}).values() for c in (phase or {}).get("commands") or []]


def _report_pushes(release: Release, before: int) -> None:
    for push in release.ws.pushes()[before:]:
        release.executed(f"build: docker push → ECR (emulator): {push['repository']}:{push['tag']} ({push['digest']})")
        if push["scan_on_push"]:
            release.emulated("ECR scan on push (moto ignores ScanOnPush, gap 14): aws ecr start-image-scan")
            if push["findings"] == "clean":
                release.emulated("scan result: clean, severity counts {} (posted to moto's API, gap 15)")
            else:
                release.emulated("scan result: moto's static HIGH finding left in place (--scan-findings high)")
