"""EMULATOR SUPPORT, gap 29 of deployer.emulator: moto 5.2.5 ignores a listener rule's new Priority.

moto's CloudFormation model of AWS::ElasticLoadBalancingV2::ListenerRule updates a rule's conditions
and actions (ModifyRule) but not its priority, so a stack update that moves a rule leaves it where it
was; CloudFormation sets it (SetRulePriorities, which fails with PriorityInUse when another rule of the
listener holds it). After each execution, the rules of the stack are set to the priorities its template
gives them, as CloudFormation would have; a PriorityInUse is reported as the failure it is on AWS (where
the update fails and rolls back). moto itself enforces unique priorities (CreateRule, a rule created by
a stack, SetRulePriorities). None of this code runs against AWS.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .aws import Aws, error_code, error_message, physical_ids
from .routing import RULE
from .template_values import resolve
from .update_rules import effective_parameters


def set_priorities(aws: Aws, region: str, stack: dict[str, Any], template: dict[str, Any]) -> tuple[list[str], bool]:
    """Gap 29: each listener rule of the stack at the priority its template gives it; (lines, ok)."""
    wanted = {
        logical_id: (resource.get("Properties") or {}).get("Priority")
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == RULE
    }
    if not wanted:
        return [], True
    cfn, elbv2 = aws.cfn(region), aws.client("elbv2", region)
    given = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters") or []}
    parameters = effective_parameters(template, given)
    physical = physical_ids(cfn, stack["StackId"], RULE)
    moved = []
    for logical_id, value in sorted(wanted.items()):
        priority = str(resolve(value, parameters))
        if logical_id not in physical or not priority.isdigit():
            continue
        [rule] = elbv2.describe_rules(RuleArns=[physical[logical_id]])["Rules"]
        if rule["Priority"] == priority:
            continue
        try:
            elbv2.set_rule_priorities(RulePriorities=[{"RuleArn": physical[logical_id], "Priority": int(priority)}])
        except ClientError as exc:
            return [
                f"  emulator: moto ignores a listener rule's new Priority in a stack update (gap 29); setting "
                f"{logical_id} {rule['Priority']} → {priority} as CloudFormation would failed: {error_code(exc)}: "
                f"{error_message(exc)} (on AWS the update fails on it and rolls back; on the emulator the stack "
                "stays updated with the rule at its old priority)"
            ], False
        moved.append(f"{logical_id} {rule['Priority']} → {priority}")
    if not moved:
        return [], True
    return [
        f"  emulator: moto ignores a listener rule's new Priority in a stack update (gap 29); set now with "
        f"SetRulePriorities, as CloudFormation does: {', '.join(moved)}"
    ], True
