"""E9101: the Hooks section holds one AWS::CodeDeploy::BlueGreen hook with its documented shape.

The shape (keys, required keys, enums, ranges, list shapes) is hook_schema.HOOK; this rule adds
what a shape cannot say: one hook only, alphanumeric logical IDs, and the traffic-routing block
that must match the routing type. AWS's own template example, which omits ServiceRole and
TestTrafficRoute, passes (W9105 warns about those).
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import bluegreen_facts as bg
from .hook_schema import HOOK
from .template_helpers import Problem, TemplatePath, field, rule_matches, where


def traffic_routing_blocks(config: Any, path: TemplatePath) -> list[Problem]:
    """Only the block that matches Type, and that block when Type needs one (hook syntax page)."""
    if not isinstance(config, dict) or config.get("Type") not in bg.TRAFFIC_ROUTING_TYPES:
        return []
    routing = config["Type"]
    found = []
    if routing != "AllAtOnce" and routing not in config:
        found.append(
            (
                path,
                f"{where(path)}: Type is {routing} but the {routing} block (StepPercentage, BakeTimeMins) is missing",
            )
        )
    for block in ("TimeBasedCanary", "TimeBasedLinear"):
        if block in config and block != routing:
            at = (*path, block)
            found.append(
                (
                    at,
                    f"{where(at)}: a {block} block does not match Type {routing}; "
                    "declare only the block matching the type",
                )
            )
    return found


def hook_problems(logical_id: Any, hook: Any) -> list[Problem]:
    path: TemplatePath = ("Hooks", logical_id)
    found = []
    if not str(logical_id).isalnum() or not str(logical_id).isascii():
        found.append((path, f"Hooks/{logical_id}: a hook's logical ID must be alphanumeric (A-Za-z0-9)"))
    found += HOOK.problems(hook, path)
    routing_path = (*path, "Properties", "TrafficRoutingConfig")
    found += traffic_routing_blocks(field(hook, "Properties", "TrafficRoutingConfig"), routing_path)
    return found


class BlueGreenHookStructure(CloudFormationLintRule):
    """The Hooks section holds one AWS::CodeDeploy::BlueGreen hook with its documented shape."""

    id = "E9101"
    shortdesc = "AWS::CodeDeploy::BlueGreen hook structure"
    description = (
        "Validate the Hooks section used by the AWS::CodeDeployBlueGreen transform: one hook of type "
        "AWS::CodeDeploy::BlueGreen, its documented keys (unknown keys are errors), required keys "
        "(those AWS's own example has; ServiceRole and TestTrafficRoute are W9105), traffic-routing "
        "type and matching block, ranges and list shapes"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-hook-syntax.html"
    tags: ClassVar[list[str]] = ["hooks", "blue-green", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        if not isinstance(template, dict) or "Hooks" not in template:
            return []
        hooks = template["Hooks"]
        if not isinstance(hooks, dict) or not hooks:
            return [RuleMatch(["Hooks"], f"Hooks: expected an object with one {bg.HOOK_TYPE} hook")]
        found: list[Problem] = []
        if len(hooks) > 1:
            found.append(
                (
                    ("Hooks",),
                    f"Hooks: {len(hooks)} hooks ({', '.join(map(str, hooks))}); declare exactly "
                    f"one {bg.HOOK_TYPE} hook (the transform deploys a single ECS service)",
                )
            )
        for logical_id, hook in hooks.items():
            found += hook_problems(logical_id, hook)
        return rule_matches(found)
