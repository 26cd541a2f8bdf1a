"""Project cfn-lint rules for templates that use the AWS::CodeDeployBlueGreen transform.

E9103: the transform and the AWS::CodeDeploy::BlueGreen hook come together.
E9104: the transform's documented limits: no Outputs, no Fn::ImportValue, no NoEcho parameters,
       no dynamic references, no nested stacks, exactly one ECS service.

Both look only at templates that declare the transform or carry a Hooks section.
Facts and sources: bluegreen_facts.py ("Considerations when managing ECS blue/green deployments
using CloudFormation" in the AWS CloudFormation User Guide).
"""

from __future__ import annotations

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import bluegreen_facts as bg

LIMIT = f"a template using the {bg.TRANSFORM} transform"


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
    tags = ["hooks", "blue-green", "transform", "project"]

    def match(self, cfn):
        template = cfn.template
        if not bg.in_scope(template):
            return []
        has_hook = any(True for _ in bg.bluegreen_hooks(template))
        if "Hooks" in template and not bg.declares_transform(template):
            return [
                RuleMatch(
                    ["Hooks"],
                    f"Hooks: the Hooks section is only read by the {bg.TRANSFORM} transform, "
                    f'which the template does not declare (add "Transform": ["{bg.TRANSFORM}"])',
                )
            ]
        if bg.declares_transform(template) and not has_hook:
            return [
                RuleMatch(
                    ["Transform"],
                    f"Transform: {bg.TRANSFORM} is declared but the template has no "
                    f"Hooks section with an {bg.HOOK_TYPE} hook",
                )
            ]
        return []


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
    tags = ["hooks", "blue-green", "limits", "project"]

    def match(self, cfn):
        template = cfn.template
        if not bg.in_scope(template):
            return []
        problems = []
        if "Outputs" in template:
            problems.append((("Outputs",), f"Outputs: {LIMIT} cannot declare output values"))
        problems += self._parameters(template)
        problems += self._everywhere(template)
        problems += self._resources(template)
        return [RuleMatch(list(path), message) for path, message in problems]

    @staticmethod
    def _parameters(template: dict) -> list:
        parameters = template.get("Parameters")
        problems = []
        for name, parameter in parameters.items() if isinstance(parameters, dict) else []:
            no_echo = parameter.get("NoEcho") if isinstance(parameter, dict) else None
            if no_echo is True or str(no_echo).lower() == "true":
                path = ("Parameters", name, "NoEcho")
                problems.append(
                    (
                        path,
                        f"{bg.where(path)}: {LIMIT} cannot have NoEcho parameters "
                        "(CodeDeploy cannot update obfuscated values during a green deployment)",
                    )
                )
        return problems

    @staticmethod
    def _everywhere(template: dict) -> list:
        problems = []
        for path, value in bg.walk(template):
            if isinstance(value, dict) and "Fn::ImportValue" in value:
                at = path + ("Fn::ImportValue",)
                problems.append((at, f"{bg.where(at)}: {LIMIT} cannot import values from other stacks"))
            elif isinstance(value, str) and "{{resolve:" in value:
                problems.append(
                    (
                        path,
                        f"{bg.where(path)}: {LIMIT} cannot use dynamic references "
                        f"({value!r}); CodeDeploy cannot update them during a green deployment",
                    )
                )
        return problems

    @staticmethod
    def _resources(template: dict) -> list:
        problems = []
        services = []
        for logical_id, resource in bg.resources(template).items():
            kind = resource.get("Type") if isinstance(resource, dict) else None
            path = ("Resources", logical_id, "Type")
            if kind == bg.NESTED_STACK:
                problems.append(
                    (path, f"Resources/{logical_id}: {LIMIT} cannot include nested stacks ({bg.NESTED_STACK})")
                )
            elif kind == bg.SERVICE:
                services.append(logical_id)
        if len(services) > 1:
            for logical_id in services[1:]:
                problems.append(
                    (
                        ("Resources", logical_id, "Type"),
                        f"Resources/{logical_id}: {LIMIT} may have only one {bg.SERVICE}; found "
                        f"{len(services)} ({', '.join(services)})",
                    )
                )
        elif not services:
            problems.append((("Resources",), f"Resources: {LIMIT} needs exactly one {bg.SERVICE}; found none"))
        return problems
