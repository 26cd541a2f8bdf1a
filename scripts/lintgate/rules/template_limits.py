"""E9104: the documented limits of a template using the AWS::CodeDeployBlueGreen transform.

No Outputs, no Fn::ImportValue, no NoEcho parameters, no dynamic references, no nested stacks and
exactly one ECS service (bluegreen_facts.py: "Considerations when managing ECS blue/green
deployments using CloudFormation"). Templates without the transform or a Hooks section are not
this rule's business.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import bluegreen_facts as bg
from .template_helpers import Problem, in_scope, resources, rule_matches, walk, where

LIMIT = bg.LIMITED_TEMPLATE


def outputs_problems(template: dict) -> list[Problem]:
    return [(("Outputs",), f"Outputs: {LIMIT} cannot declare output values")] if "Outputs" in template else []


def no_echo_problems(template: dict) -> list[Problem]:
    parameters = template.get("Parameters")
    found = []
    for name, parameter in parameters.items() if isinstance(parameters, dict) else []:
        no_echo = parameter.get("NoEcho") if isinstance(parameter, dict) else None
        if no_echo is True or str(no_echo).lower() == "true":
            path = ("Parameters", name, "NoEcho")
            found.append(
                (
                    path,
                    f"{where(path)}: {LIMIT} cannot have NoEcho parameters "
                    "(CodeDeploy cannot update obfuscated values during a green deployment)",
                )
            )
    return found


def value_problems(template: dict) -> list[Problem]:
    """Imports and dynamic references, wherever they are in the template."""
    found: list[Problem] = []
    for path, value in walk(template):
        if isinstance(value, dict) and "Fn::ImportValue" in value:
            at = (*path, "Fn::ImportValue")
            found.append((at, f"{where(at)}: {LIMIT} cannot import values from other stacks"))
        elif isinstance(value, str) and "{{resolve:" in value:
            found.append(
                (
                    path,
                    f"{where(path)}: {LIMIT} cannot use dynamic references ({value!r}); "
                    "CodeDeploy cannot update them during a green deployment",
                )
            )
    return found


def resource_problems(template: dict) -> list[Problem]:
    """Nested stacks, and other than exactly one ECS service."""
    found: list[Problem] = []
    services = []
    for logical_id, resource in resources(template).items():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind == bg.NESTED_STACK:
            found.append(
                (
                    ("Resources", logical_id, "Type"),
                    f"Resources/{logical_id}: {LIMIT} cannot include nested stacks ({bg.NESTED_STACK})",
                )
            )
        elif kind == bg.SERVICE:
            services.append(logical_id)
    if not services:
        found.append((("Resources",), f"Resources: {LIMIT} needs exactly one {bg.SERVICE}; found none"))
    for logical_id in services[1:]:
        found.append(
            (
                ("Resources", logical_id, "Type"),
                f"Resources/{logical_id}: {LIMIT} may have only one {bg.SERVICE}; found "
                f"{len(services)} ({', '.join(services)})",
            )
        )
    return found


class BlueGreenTemplateLimits(CloudFormationLintRule):
    """The documented limits of the AWS::CodeDeployBlueGreen transform."""

    id = "E9104"
    shortdesc = "AWS::CodeDeployBlueGreen template limits"
    description = (
        f"In {LIMIT}: no Outputs section, no Fn::ImportValue, no NoEcho parameters, no dynamic "
        "references ({{resolve:...}}), no nested stacks (AWS::CloudFormation::Stack) and exactly one "
        "AWS::ECS::Service"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-considerations.html"
    tags: ClassVar[list[str]] = ["hooks", "blue-green", "limits", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        if not in_scope(template):
            return []
        found = outputs_problems(template) + no_echo_problems(template)
        found += value_problems(template) + resource_problems(template)
        return rule_matches(found)
