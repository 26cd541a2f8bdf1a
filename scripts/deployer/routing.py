"""Live routing of the listeners and listener rules an update touches, against the template's.

A stack update that touches a listener (or a listener rule) sends its actions as the template
writes them. After a blue/green release they are no longer what is deployed: CodeDeploy leaves the
production listener forwarding to the other target group than the template names, and ECS-native
blue/green owns its rules' weights the same way (see ../shared/reference/aws-facts.md, "Release path
and day-2 facts"). Such an update would send production traffic to a target group that serves
nothing. ``read`` fetches what is live (DescribeStackResources, DescribeListeners, DescribeRules,
DescribeTargetHealth); ``misroutes`` is the pure check over it.

https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeListeners.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeRules.html
https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetHealth.html
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .aws import error_code, error_message, physical_ids
from .plans import PlannedRule
from .template_values import resolve

LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
ROUTING_TYPES = (LISTENER, RULE)


@dataclass(frozen=True)
class Misroute:
    """A listener or rule whose template actions would send traffic to target groups that serve nothing."""

    logical_id: str
    template_targets: tuple[str, ...]  # target groups receiving traffic as the template writes it
    live_targets: tuple[str, ...]  # those receiving it now
    idle: tuple[str, ...]  # template targets with no healthy target


def _actions(resource: Mapping[str, Any]) -> list[Any]:
    properties = resource.get("Properties") or {}
    return list(properties.get("DefaultActions") or properties.get("Actions") or [])


def weights(actions: Iterable[Mapping[str, Any]]) -> dict[Any, int]:
    """Target group -> weight of the forward actions (a plain TargetGroupArn has weight 1; an omitted
    ForwardConfig weight is 1, as in the ELB API reference, TargetGroupTuple)."""
    found: dict[Any, int] = {}
    for action in actions:
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            for group in groups:
                key = group.get("TargetGroupArn")
                found[_key(key)] = found.get(_key(key), 0) + int(group.get("Weight", 1))
        elif action.get("TargetGroupArn"):
            found[_key(action["TargetGroupArn"])] = 1
    return found


def _key(value: Any) -> Any:
    """A target group reference as a hashable key: an ARN, or the logical ID a Ref names."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return value["Ref"]
    return value if isinstance(value, str) else repr(value)


def _receiving(found: Mapping[Any, int]) -> set[Any]:
    return {k for k, w in found.items() if w > 0}


def target_groups(template: Mapping[str, Any], touched: Iterable[str]) -> list[str]:
    """Logical IDs of the target groups the touched listeners and rules forward to in the template."""
    resources = template.get("Resources") or {}
    found = set()
    for logical_id in touched:
        for key in weights(_actions(resources.get(logical_id) or {})):
            if isinstance(key, str) and resources.get(key, {}).get("Type") == TARGET_GROUP:
                found.add(key)
    return sorted(found)


def misroutes(template: Mapping[str, Any], touched: Iterable[str], live: Mapping[str, Any]) -> list[Misroute]:
    """Touched listeners and rules whose template actions send traffic elsewhere than the live ones do,
    to a target group without a healthy target. ``live`` is what ``read`` returns."""
    resources = template.get("Resources") or {}
    physical: Mapping[str, str] = live.get("physical") or {}
    names = {arn: logical for logical, arn in physical.items()}
    found = []
    for logical_id in sorted(touched):
        arn = physical.get(logical_id)
        if arn not in (live.get("actions") or {}):
            continue  # not deployed yet (added by this update): nothing is routed through it
        wanted = {physical.get(k, k) for k in _receiving(weights(_actions(resources.get(logical_id) or {})))}
        now = _receiving(weights(live["actions"][arn]))
        if not wanted or wanted == now:
            continue
        healthy: Mapping[str, int] = live.get("healthy") or {}
        idle = sorted(k for k in wanted - now if not healthy.get(k))
        if idle:
            found.append(
                Misroute(
                    logical_id,
                    tuple(sorted(names.get(k, k) for k in wanted)),
                    tuple(sorted(names.get(k, k) for k in now)),
                    tuple(names.get(k, k) for k in idle),
                )
            )
    return found


def planned_rules(stack_name: str, template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[PlannedRule]:
    """The template's listener rules whose ``ListenerArn`` is a parameter (a listener another stack
    owns, such as the platform's shared listeners), with the listener ARN and the priority resolved
    against ``parameters`` (the values the stack gets, template defaults included). A rule whose
    listener or priority does not resolve (an upstream not deployed yet) is left out: no live rule
    can hold a priority on a listener that does not exist."""
    resources = template.get("Resources") or {}
    found = []
    for logical_id, parameter in shared_rules(template).items():
        arn = parameters.get(parameter)
        priority = resolve((resources[logical_id].get("Properties") or {}).get("Priority"), parameters)
        if not arn or isinstance(priority, (dict, list, bool)) or priority is None:
            continue
        try:
            number = int(str(priority))
        except ValueError:
            continue
        found.append(PlannedRule(stack_name, logical_id, parameter, arn, number))
    return found


def shared_rules(template: Mapping[str, Any]) -> dict[str, str]:
    """Logical ID -> the parameter its ``ListenerArn`` is a ``Ref`` to, for each listener rule of the
    template on a listener given as a parameter (a listener another stack owns), in logical-ID order."""
    declared = template.get("Parameters") or {}
    found = {}
    for logical_id, resource in sorted((template.get("Resources") or {}).items()):
        listener = (resource.get("Properties") or {}).get("ListenerArn")
        if resource.get("Type") != RULE or not (isinstance(listener, dict) and set(listener) == {"Ref"}):
            continue
        if listener["Ref"] in declared:
            found[logical_id] = listener["Ref"]
    return found


def stack_rules(cfn: Any, stack: str) -> dict[str, str]:
    """Logical ID -> rule ARN of the stack's listener rules (ListStackResources, every page); none when
    the stack does not exist."""
    try:
        return physical_ids(cfn, stack, RULE)
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in error_message(exc):
            return {}
        raise


def read(aws: Any, region: str, stack_name: str, template: Mapping[str, Any], touched: list[str]) -> dict[str, Any]:
    """What is live for the touched listeners and rules: physical IDs of the stack's resources, the
    deployed actions by ARN, and the healthy-target count of each target group they may forward to."""
    cfn, elbv2 = aws.cfn(region), aws.client("elbv2", region)
    resources = template.get("Resources") or {}
    described = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in described if "LogicalResourceId" in r}
    deployed = {lid: physical[lid] for lid in touched if physical.get(lid)}
    listeners = [arn for lid, arn in deployed.items() if resources.get(lid, {}).get("Type") == LISTENER]
    rules = [arn for lid, arn in deployed.items() if resources.get(lid, {}).get("Type") == RULE]
    actions: dict[str, list[Any]] = {}
    if listeners:
        for listener in elbv2.describe_listeners(ListenerArns=listeners)["Listeners"]:
            actions[listener["ListenerArn"]] = listener.get("DefaultActions", [])
    if rules:
        for rule in elbv2.describe_rules(RuleArns=rules)["Rules"]:
            actions[rule["RuleArn"]] = rule.get("Actions", [])
    groups = {physical[k] for k in target_groups(template, touched) if physical.get(k)}
    for arns in actions.values():
        groups |= {k for k in weights(arns) if isinstance(k, str)}
    healthy = {}
    for arn in sorted(groups):
        described_health = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        healthy[arn] = sum(1 for t in described_health if t.get("TargetHealth", {}).get("State") == "healthy")
    return {"physical": physical, "actions": actions, "healthy": healthy}
