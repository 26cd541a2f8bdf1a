"""E9103: the AWS::CodeDeployBlueGreen transform and the AWS::CodeDeploy::BlueGreen hook come together.

Only the transform reads the Hooks section, and the transform has nothing to do without the hook
(bluegreen_facts.py: "Perform ECS blue/green deployments through CodeDeploy using CloudFormation").
"""

from __future__ import annotations

from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import bluegreen_facts as bg
from .template_helpers import bluegreen_hooks, declares_transform, in_scope


class BlueGreenTransformDeclared(CloudFormationLintRule):
    """Hooks needs the transform to be processed, and the transform needs the hook."""

    id = "E9103"
    shortdesc = "AWS::CodeDeployBlueGreen transform and hook together"
    description = (
        f"A template with an {bg.HOOK_TYPE} hook must declare the {bg.TRANSFORM} transform "
        '(Transform: ["AWS::CodeDeployBlueGreen"]), and a template declaring the transform must '
        "have that hook"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green.html"
    tags: ClassVar[list[str]] = ["hooks", "blue-green", "transform", "project"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        template = cfn.template
        if not in_scope(template):
            return []
        if "Hooks" in template and not declares_transform(template):
            return [
                RuleMatch(
                    ["Hooks"],
                    f"Hooks: the Hooks section is only read by the {bg.TRANSFORM} transform, "
                    f'which the template does not declare (add "Transform": ["{bg.TRANSFORM}"])',
                )
            ]
        if declares_transform(template) and not any(bluegreen_hooks(template)):
            return [
                RuleMatch(
                    ["Transform"],
                    f"Transform: {bg.TRANSFORM} is declared but the template has no "
                    f"Hooks section with an {bg.HOOK_TYPE} hook",
                )
            ]
        return []
