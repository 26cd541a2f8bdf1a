"""The few things every blueprint needs from troposphere, in one place.

``CfnTemplate`` adds the top-level ``Hooks`` section that troposphere lacks (CloudFormation
uses it for the AWS::CodeDeployBlueGreen transform). ``render`` is the only way a template
becomes text, so every file in out/ has the same byte-stable layout.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from troposphere import Output, Parameter, Template, ecs


class CfnTemplate(Template):
    """A troposphere Template that can also carry a top-level ``Hooks`` section."""

    def __init__(self, description: str):
        super().__init__(Description=description)
        self.set_version("2010-09-09")
        self.hooks: dict[str, dict[str, Any]] = {}
        self._groups: list[dict[str, Any]] = []

    def add_hook(self, logical_id: str, hook: dict[str, Any]) -> None:
        if logical_id in self.hooks:
            raise ValueError(f"duplicate hook {logical_id}")
        self.hooks[logical_id] = hook

    def param(self, logical_id: str, description: str, group: str, type: str = "String", **kwargs: Any) -> Parameter:
        """Add a Parameter; a Description is mandatory and every parameter sits in a console group."""
        if not description:
            raise ValueError(f"parameter {logical_id} needs a Description")
        parameter = self.add_parameter(Parameter(logical_id, Type=type, Description=description, **kwargs))
        for entry in self._groups:
            if entry["Label"]["default"] == group:
                entry["Parameters"].append(logical_id)
                break
        else:
            self._groups.append({"Label": {"default": group}, "Parameters": [logical_id]})
        return parameter

    def output(self, logical_id: str, value: Any, description: str) -> Output:
        return self.add_output(Output(logical_id, Value=value, Description=description))

    def to_dict(self) -> dict[str, Any]:
        if self._groups:
            self.metadata["AWS::CloudFormation::Interface"] = {"ParameterGroups": self._groups}
        body = super().to_dict()
        if self.hooks:
            body["Hooks"] = self.hooks
        return body


class TaskSetNetworkConfiguration(ecs.NetworkConfiguration):
    """AWS::ECS::TaskSet NetworkConfiguration as the CloudFormation schema spells it.

    troposphere 4.11.1 gives TaskSet the service's NetworkConfiguration class, which emits
    ``AwsvpcConfiguration``; the TaskSet schema names the key ``AwsVpcConfiguration`` (capital V)
    and CloudFormation (and cfn-lint, E3002) rejects the other spelling. A subclass (TaskSet
    accepts only that class) with the schema's key is the one place this is fixed.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-taskset-networkconfiguration.html
    """

    props: ClassVar[dict[str, tuple[type, bool]]] = {"AwsVpcConfiguration": (ecs.AwsVpcConfiguration, False)}


# IAM resource types and the property that gives them a custom name (needs CAPABILITY_NAMED_IAM).
_IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
}


def capabilities(body: dict[str, Any]) -> list[str]:
    """The capabilities CloudFormation will demand for this template, worked out from its contents."""
    needed = set()
    for resource in body.get("Resources", {}).values():
        kind = resource.get("Type", "")
        if kind.startswith("AWS::IAM::"):
            needed.add("CAPABILITY_IAM")
            if _IAM_NAME_PROPERTIES.get(kind) in resource.get("Properties", {}):
                needed.add("CAPABILITY_NAMED_IAM")
        if kind in ("AWS::CloudFormation::Stack", "AWS::Serverless::Application"):
            needed.add("CAPABILITY_AUTO_EXPAND")
    if body.get("Transform"):
        needed.add("CAPABILITY_AUTO_EXPAND")
    return sorted(needed)


def checkov_skip(*checks: tuple[str, str]) -> dict:
    """Resource Metadata that skips checkov checks, each ``(check id, reason a reviewer accepts)``."""
    return {"checkov": {"skip": [{"id": check_id, "comment": reason} for check_id, reason in checks]}}


def render(body: dict[str, Any] | list[Any]) -> str:
    """Serialise a template (or any JSON document in out/): two-space indent, sorted keys, final newline."""
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
