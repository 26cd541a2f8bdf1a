"""E9102: every logical ID an AWS::CodeDeploy::BlueGreen hook names exists with the right type.

The blue resources must exist with the documented types; the green task definition and task set
must not be declared ("CloudFormation only creates the blue resources"); and the ECS service must
use the EXTERNAL deployment controller (bluegreen_facts.py: blue/green template example).
Missing or malformed IDs are left to E9101 (a missing test route to W9105).
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import bluegreen_facts as bg
from .template_helpers import (
    Problem,
    TemplatePath,
    bluegreen_hooks,
    field,
    resource_type,
    resources,
    rule_matches,
    where,
)

# Which resource type each logical ID in an application must name; None: must not be a resource at all.
REFERENCES: tuple[tuple[TemplatePath, str | None, str], ...] = (
    (("Target", "LogicalID"), bg.SERVICE, "the ECS service"),
    (("ECSAttributes", "TaskDefinitions", 0), bg.TASK_DEFINITION, "the blue task definition"),
    (("ECSAttributes", "TaskDefinitions", 1), None, "the green task definition"),
    (("ECSAttributes", "TaskSets", 0), bg.TASK_SET, "the blue task set"),
    (("ECSAttributes", "TaskSets", 1), None, "the green task set"),
    (("ECSAttributes", "TrafficRouting", "ProdTrafficRoute", "LogicalID"), bg.LISTENER, "the production listener"),
    (("ECSAttributes", "TrafficRouting", "TestTrafficRoute", "LogicalID"), bg.LISTENER, "the test listener"),
    (("ECSAttributes", "TrafficRouting", "TargetGroups", 0), bg.TARGET_GROUP, "the blue target group"),
    (("ECSAttributes", "TrafficRouting", "TargetGroups", 1), bg.TARGET_GROUP, "the green target group"),
)


def reference_problem(
    template: dict, logical_id: str, expected: str | None, role: str, path: TemplatePath
) -> str | None:
    """What is wrong with the resource a logical ID names, or None."""
    exists = logical_id in resources(template)
    if expected is None:
        if exists:
            return (
                f"{where(path)}: '{logical_id}' is {role}, which CloudFormation creates during a green "
                "deployment; it must not be declared in Resources"
            )
        return None
    if not exists:
        return f"{where(path)}: '{logical_id}' ({role}) does not exist in Resources; expected a {expected}"
    found = resource_type(template, logical_id)
    if found != expected:
        return f"{where(path)}: '{logical_id}' ({role}) is a {found}, expected a {expected}"
    return None


def deployment_controller_problem(template: dict, application: Any) -> Problem | None:
    service = field(application, "Target", "LogicalID")
    if not isinstance(service, str) or resource_type(template, service) != bg.SERVICE:
        return None
    controller = field(resources(template)[service], "Properties", "DeploymentController", "Type")
    if controller == "EXTERNAL":
        return None
    return (
        ("Resources", service, "Properties"),
        f"Resources/{service}: the ECS service targeted by the blue/green hook must use DeploymentController "
        f"Type EXTERNAL, not {controller!r}",
    )


def application_problems(template: dict, application: Any, base: TemplatePath) -> list[Problem]:
    found = []
    for keys, expected, role in REFERENCES:
        logical_id = field(application, *keys)
        if not isinstance(logical_id, str) or not logical_id:
            continue
        message = reference_problem(template, logical_id, expected, role, base + keys)
        if message:
            found.append((base + keys, message))
    controller = deployment_controller_problem(template, application)
    return found + ([controller] if controller else [])


class BlueGreenHookReferences(CloudFormationLintRule):
    """Every logical ID in the hook names a resource of the right type."""

    id = "E9102"
    shortdesc = "AWS::CodeDeploy::BlueGreen hook logical IDs"
    description = (
        "Validate that the service, blue task definition and task set, listeners and target groups named "
        "by an AWS::CodeDeploy::BlueGreen hook exist with the right resource type, that the green task "
        "definition and task set are not declared as resources, and that the service uses the EXTERNAL "
        "deployment controller"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-template-example.html"
    tags: ClassVar[list[str]] = ["hooks", "blue-green", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        found: list[Problem] = []
        for hook_id, hook in bluegreen_hooks(template):
            applications = field(hook, "Properties", "Applications")
            for index, application in enumerate(applications if isinstance(applications, list) else []):
                found += application_problems(
                    template, application, ("Hooks", hook_id, "Properties", "Applications", index)
                )
        return rule_matches(found)
