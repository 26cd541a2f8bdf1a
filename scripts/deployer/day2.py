"""What an update is judged on besides its change set: the deployed template and the live routing.

``inspect`` runs after planning an update with changes and fills the plan's day-2 facts (AWS calls
only here); the policy then judges them with the pure rules of ``update_rules`` and ``routing``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import routing, update_rules
from .plans import ChangeKind, Plan, PlanState

if TYPE_CHECKING:
    from .context import Context


def deployed_template(cfn: Any, stack_name: str) -> dict[str, Any]:
    """The template the stack runs, as submitted (Original: before transforms such as
    AWS::CodeDeployBlueGreen are processed), parsed. botocore parses a JSON TemplateBody itself.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html"""
    body = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    parsed: dict[str, Any] = json.loads(body) if isinstance(body, str) else dict(body)
    return parsed


def new_parameters(plan: Plan) -> dict[str, str]:
    """The parameter values the change set gives the stack (UsePreviousValue: the deployed one)."""
    deployed = plan.deployed_parameters or {}
    values = {}
    for p in plan.api_parameters:
        key = p["ParameterKey"]
        value = deployed.get(key) if p.get("UsePreviousValue") else p.get("ParameterValue")
        if value is not None:
            values[key] = value
    return values


def parameters(plan: Plan, overrides: Mapping[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(deployed, planned) parameter values of an update with both templates; ``overrides`` replace
    planned values (parameters wired to upstream outputs that the same apply changes)."""
    old, new = plan.deployed_template or {}, plan.sent_template or {}
    return (
        update_rules.effective_parameters(old, plan.deployed_parameters or {}),
        update_rules.effective_parameters(new, {**new_parameters(plan), **(overrides or {})}),
    )


def template_updates(plan: Plan, overrides: Mapping[str, str] | None = None) -> list[update_rules.ResourceUpdate]:
    """The plan's resource updates worked out from the two templates (none without both)."""
    if plan.deployed_template is None or plan.sent_template is None:
        return []
    before, after = parameters(plan, overrides)
    return update_rules.resource_updates(plan.deployed_template, plan.sent_template, before, after, plan.entry.region)


def touched_routing(plan: Plan, updates: list[update_rules.ResourceUpdate]) -> list[str]:
    """Listeners and listener rules the update modifies, by the change set or by the templates."""
    found = {u.logical_id for u in updates if u.resource_type in routing.ROUTING_TYPES}
    for change in plan.changes:
        rc = change.get("ResourceChange", {})
        if rc.get("Action") == "Modify" and rc.get("ResourceType") in routing.ROUTING_TYPES:
            found.add(rc.get("LogicalResourceId", "?"))
    return sorted(found)


def inspect(ctx: Context, plan: Plan) -> Plan:
    """Fill the day-2 facts of an update with changes; other plans are returned as they are."""
    if plan.state is not PlanState.CHANGES or plan.kind is not ChangeKind.UPDATE:
        return plan
    entry = plan.entry
    cfn = ctx.aws.cfn(entry.region)
    if plan.deployed_template is None:  # the planner read it already when it compared before planning
        plan.deployed_template = deployed_template(cfn, entry.stack_name)
    if plan.sent_template is None:
        plan.sent_template = ctx.provider.sent_template(entry)
    touched = touched_routing(plan, template_updates(plan))
    if touched:
        plan.live_routing = routing.read(ctx.aws, entry.region, entry.stack_name, plan.sent_template, touched)
    return plan
