"""What the project's cfn-lint rules know about the AWS::CodeDeployBlueGreen transform.

The rule modules import it; it defines no rules itself.

Source for every fact here: AWS CloudFormation User Guide, "Perform ECS blue/green deployments
through CodeDeploy using CloudFormation" with its pages "AWS::CodeDeploy::BlueGreen hook syntax"
(property list with Required and valid values), "Considerations when managing ECS blue/green
deployments using CloudFormation" and "Blue/green deployment template example":
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green.html
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

TRANSFORM = "AWS::CodeDeployBlueGreen"
HOOK_TYPE = "AWS::CodeDeploy::BlueGreen"
SERVICE = "AWS::ECS::Service"
TASK_DEFINITION = "AWS::ECS::TaskDefinition"
TASK_SET = "AWS::ECS::TaskSet"
LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
NESTED_STACK = "AWS::CloudFormation::Stack"

TRAFFIC_ROUTING_TYPES = ("AllAtOnce", "TimeBasedCanary", "TimeBasedLinear")
LIFECYCLE_EVENTS = ("BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic")
# "The step percentage must be 14% or greater" (hook syntax page, both TimeBasedCanary and TimeBasedLinear).
MIN_STEP_PERCENTAGE = 14
# The hook page gives no range for TerminationWaitTimeInMinutes. The hook runs a CodeDeploy ECS
# deployment, whose BlueInstanceTerminationOption.terminationWaitTimeInMinutes is documented as
# "The maximum setting is 2880 minutes (2 days)" (CodeDeploy API reference); 0 is CodeDeploy's minimum.
MAX_TERMINATION_WAIT = 2880


def transforms(template: dict) -> list:
    declared = template.get("Transform", [])
    return declared if isinstance(declared, list) else [declared]


def declares_transform(template: dict) -> bool:
    return TRANSFORM in [t for t in transforms(template) if isinstance(t, str)]


def in_scope(template: Any) -> bool:
    """The rules look only at templates that use the transform or carry a Hooks section."""
    return isinstance(template, dict) and ("Hooks" in template or declares_transform(template))


def bluegreen_hooks(template: Any) -> Iterator[tuple[str, dict]]:
    """(logical ID, hook) of every blue/green hook; nothing for a template without a Hooks object."""
    hooks = template.get("Hooks") if isinstance(template, dict) else None
    if isinstance(hooks, dict):
        for logical_id, hook in hooks.items():
            if isinstance(hook, dict) and hook.get("Type") == HOOK_TYPE:
                yield str(logical_id), hook


def resources(template: dict) -> dict:
    found = template.get("Resources")
    return found if isinstance(found, dict) else {}


def resource_type(template: dict, logical_id: str) -> str | None:
    resource = resources(template).get(logical_id)
    if not isinstance(resource, dict):
        return None
    kind = resource.get("Type")
    return kind if isinstance(kind, str) else None


def walk(node: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) in a template, depth first, in document order."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, path + (index,))


def where(path) -> str:
    return "/".join(str(p) for p in path)


def field(node: Any, *keys) -> Any:
    """node[k1][k2]... or None when any step is missing or of the wrong kind."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(node, list) or len(node) <= key:
                return None
        elif not isinstance(node, dict):
            return None
        node = node[key] if isinstance(key, int) else node.get(key)
    return node
