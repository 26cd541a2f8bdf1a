"""W9105: an AWS::CodeDeploy::BlueGreen hook without ServiceRole or without TestTrafficRoute.

A warning, not an error: the hook syntax reference marks both as required, but AWS's own template
example omits them (so E9101 accepts their absence). Without a test route the AfterAllowTestTraffic
validation hook has no test listener to test the green version through.
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from .template_helpers import Problem, TemplatePath, bluegreen_hooks, field, rule_matches, where


def missing_service_role(properties: dict, path: TemplatePath) -> list[Problem]:
    if "ServiceRole" in properties:
        return []
    return [
        (
            path,
            f"{where(path)}: no ServiceRole; the hook reference marks it required (name the IAM role "
            "CodeDeploy uses for the deployment)",
        )
    ]


def missing_test_routes(properties: dict, path: TemplatePath) -> list[Problem]:
    applications = properties.get("Applications")
    found = []
    for index, application in enumerate(applications if isinstance(applications, list) else []):
        routing = field(application, "ECSAttributes", "TrafficRouting")
        if isinstance(routing, dict) and "TestTrafficRoute" not in routing:
            at = (*path, "Applications", index, "ECSAttributes", "TrafficRouting")
            found.append(
                (
                    at,
                    f"{where(at)}: no TestTrafficRoute; the hook reference marks it required, and without a "
                    "test listener the AfterAllowTestTraffic validation hook has nothing to test",
                )
            )
    return found


class BlueGreenHookRecommendedKeys(CloudFormationLintRule):
    """ServiceRole and TestTrafficRoute: required by the reference, omitted by AWS's own example."""

    id = "W9105"
    shortdesc = "AWS::CodeDeploy::BlueGreen hook without ServiceRole or TestTrafficRoute"
    description = (
        "Warn when an AWS::CodeDeploy::BlueGreen hook has no ServiceRole or an application has no "
        "TestTrafficRoute: the hook syntax reference marks both as required (AWS's template example "
        "omits them, so E9101 accepts their absence), and without a test route the "
        "AfterAllowTestTraffic validation hook has no test listener to test the green version through"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-hook-syntax.html"
    tags: ClassVar[list[str]] = ["hooks", "blue-green", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        found: list[Problem] = []
        for hook_id, hook in bluegreen_hooks(cfn.template):
            properties = hook.get("Properties")
            if isinstance(properties, dict):  # anything else is E9101's
                path = ("Hooks", hook_id, "Properties")
                found += missing_service_role(properties, path) + missing_test_routes(properties, path)
        return rule_matches(found)
