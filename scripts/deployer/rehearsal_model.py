"""What the rehearsal's parts share: the failure of a step, the journal of what ran where, the
deployed stacks (with a resolver for the intrinsic functions the pipeline template uses) and the
pipeline's stages and actions as the template declares them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .manifest import StackEntry
from .rehearsal_emulator import ACCOUNT

# AWS documents each step follows; a failure names the one its step follows.
DOCS = {
    "buildspec": "AWS CodeBuild User Guide, Build specification reference "
    "(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html)",
    "codebuild-action": "AWS CodePipeline User Guide, AWS CodeBuild build and test action reference "
    "(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodeBuild.html)",
    "codedeploy-ecs": "AWS CodePipeline User Guide, Amazon Elastic Container Service and CodeDeploy blue-green "
    "deploy action reference (https://docs.aws.amazon.com/codepipeline/latest/userguide/"
    "action-reference-ECSbluegreen.html); tutorial “Create a pipeline with an Amazon ECR source and "
    "ECS-to-CodeDeploy deployment”",
    "ecs": "AWS CodePipeline User Guide, Amazon Elastic Container Service deploy action reference "
    "(https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-ECS.html)",
    "cloudformation": "AWS CloudFormation User Guide, CodePipeline action configuration reference "
    "(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/continuous-delivery-codepipeline-action-reference.html)",
    "approval": "AWS CodePipeline User Guide, Manage approval actions in CodePipeline "
    "(https://docs.aws.amazon.com/codepipeline/latest/userguide/approvals.html)",
    "variables": "AWS CodePipeline User Guide, Variables reference "
    "(https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html)",
    "scan": "Amazon ECR User Guide, Scan images for OS vulnerabilities (basic scanning) "
    "(https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-basic.html)",
    "service": "Amazon ECS API Reference, DescribeServices and DescribeTaskDefinition",
}


class StepFailedError(Exception):
    """A step of the release failed: exit 1, naming the step (stage/action/command) and the AWS
    document it follows."""

    def __init__(self, step: str, reason: str, doc: str):
        super().__init__(f"{step}: {reason}")
        self.step, self.reason, self.doc = step, reason, DOCS.get(doc, doc)


class RehearsalInputError(Exception):
    """The input cannot be rehearsed (bad usage or bad input): exit 2, one line."""


@dataclass
class Journal:
    """Every step, by what it was: executed on the emulator, checked against a contract, or emulated."""

    executed: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    emulated: list[str] = field(default_factory=list)


@dataclass
class Action:
    stage: str
    name: str
    category: str
    provider: str
    configuration: dict[str, Any]
    inputs: list[str]
    outputs: list[str]
    namespace: str | None
    run_order: int

    @property
    def label(self) -> str:
        return f"{self.stage}/{self.name} ({self.provider})"


def pipeline_actions(template: dict[str, Any]) -> list[Action]:
    """Every action of the template's AWS::CodePipeline::Pipeline, stage by stage in RunOrder."""
    pipelines = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::CodePipeline::Pipeline"]
    if len(pipelines) != 1:
        raise RehearsalInputError(
            f"the pipeline template declares {len(pipelines)} AWS::CodePipeline::Pipeline resources"
        )
    actions: list[Action] = []
    for stage in pipelines[0].get("Properties", {}).get("Stages", []):
        declared = []
        for raw in stage.get("Actions", []):
            kind = raw.get("ActionTypeId", {})
            declared.append(
                Action(
                    stage=stage.get("Name", "?"),
                    name=raw.get("Name", "?"),
                    category=kind.get("Category", ""),
                    provider=kind.get("Provider", ""),
                    configuration=dict(raw.get("Configuration", {})),
                    inputs=[a["Name"] for a in raw.get("InputArtifacts", [])],
                    outputs=[a["Name"] for a in raw.get("OutputArtifacts", [])],
                    namespace=raw.get("Namespace"),
                    run_order=int(raw.get("RunOrder", 1)),
                )
            )
        actions.extend(sorted(declared, key=lambda a: a.run_order))
    return actions


@dataclass
class DeployedStack:
    """A stack as out/ declares it (``entry.template``, not the emulator's copy) and as it is
    deployed: parameter values, physical IDs and outputs, for resolving the template's values."""

    entry: StackEntry
    region: str
    parameters: dict[str, str]
    resources: dict[str, str]  # logical ID → physical ID
    outputs: dict[str, str]
    aws: Any  # deployer.aws.Aws of the emulator

    @property
    def template(self) -> dict[str, Any]:
        return self.entry.template

    def resource(self, logical_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.template.get("Resources", {}).get(logical_id, {})
        return found

    def resolve(self, value: Any, where: str) -> str:
        """A template value as CloudFormation resolved it for this stack (the subset of intrinsic
        functions the pipeline templates use). Raises RehearsalInputError naming ``where``."""
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" and isinstance(argument, str):
                return self._ref(argument, where)
            if function == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self._get_att(name, attribute, where)
            if function == "Fn::Sub":
                return self._sub(argument, where)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(self.resolve(item, where) for item in self._list(items, where))
            if function == "Fn::Select":
                index, items = argument
                return self._list(items, where)[int(self.resolve(index, where))]
        raise RehearsalInputError(f"{where}: cannot resolve {value!r} against stack {self.entry.stack_name}")

    def _list(self, items: Any, where: str) -> list[str]:
        if isinstance(items, list):
            return [self.resolve(item, where) for item in items]
        if isinstance(items, dict) and set(items) == {"Fn::Split"}:
            separator, text = items["Fn::Split"]
            return self.resolve(text, where).split(separator)
        return self.resolve(items, where).split(",")

    def _ref(self, name: str, where: str) -> str:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws"}
        pseudo["AWS::StackName"] = self.entry.stack_name
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name]
        raise RehearsalInputError(
            f"{where}: Ref {name} is neither a parameter nor a deployed resource of {self.entry.stack_name}"
        )

    def _get_att(self, name: str, attribute: str, where: str) -> str:
        # An output with exactly this value is what CloudFormation resolved (e.g. RepositoryUri).
        for key, output in self.template.get("Outputs", {}).items():
            if output.get("Value") == {"Fn::GetAtt": [name, attribute]} and key in self.outputs:
                return self.outputs[key]
        physical = self.resources.get(name)
        kind = self.resource(name).get("Type")
        if physical and kind == "AWS::ECR::Repository" and attribute == "RepositoryUri":
            return f"{ACCOUNT}.dkr.ecr.{self.region}.amazonaws.com/{physical}"
        if physical and kind == "AWS::IAM::Role" and attribute == "Arn":
            arn: str = self.aws.client("iam", self.region).get_role(RoleName=physical)["Role"]["Arn"]
            return arn
        if physical and kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{physical}"
        raise RehearsalInputError(f"{where}: cannot resolve Fn::GetAtt {name}.{attribute} on the emulator")

    def _sub(self, argument: Any, where: str) -> str:
        text, extra = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return self.resolve(extra[name], where)
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self._get_att(resource, attribute, where)
            return self._ref(name, where)

        return re.sub(r"\$\{([^}]+)\}", one, text)


def read_stack(aws: Any, provider: Any, entry: StackEntry) -> DeployedStack:
    """The deployed state of one stack of the manifest, read from the emulator."""
    cfn = aws.cfn(entry.region)
    stack = provider.describe_stack(cfn, entry.stack_name) or {}
    resources = {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for r in cfn.describe_stack_resources(StackName=entry.stack_name)["StackResources"]
        if r.get("LogicalResourceId")
    }
    return DeployedStack(
        entry=entry,
        region=entry.region,
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        resources=resources,
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        aws=aws,
    )
