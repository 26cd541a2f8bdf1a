"""Which planned change sets must not be executed, and why: pure functions over plans, change sets
and templates (no AWS calls, no output). plan shows what they find; apply refuses on it.

Rules:

- Stateful replacement or removal: a change set that removes, or may replace, a resource holding
  data or an address other things depend on is refused unless --allow-replacement.
- Blue/green mixing (the AWS::CodeDeployBlueGreen transform): an update that modifies or replaces
  the blue task definition or task set starts a green deployment, and such an update "cannot
  include updates to other resources in the same stack update":
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-considerations.html
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/about-blue-green-deployments.html
  ("Resource updates that initiate green deployments").
- Termination protection: destroy refuses a protected stack before deleting anything (DeleteStack
  would fail on it, after the stacks before it in the order were already gone):
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html
- Deployed dependants: destroy refuses a stack whose outputs a deployed stack, not deleted with it,
  still uses (CloudFormation does not track parameters passed by value between stacks).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .plans import Plan, PlanState

# Stateful resources: replacing or removing them loses data or addresses other things depend on.
STATEFUL_TYPES = frozenset(
    {
        "AWS::EC2::VPC",
        "AWS::EC2::Subnet",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "AWS::ECR::Repository",
        "AWS::S3::Bucket",
        "AWS::Logs::LogGroup",
    }
)
# ResourceChange.Replacement is True, False or Conditional ("may replace, depending on the value"):
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html
MAY_REPLACE = ("True", "Conditional")

TRANSFORM = "AWS::CodeDeployBlueGreen"
HOOK_TYPE = "AWS::CodeDeploy::BlueGreen"
TRIGGER_TYPES = ("AWS::ECS::TaskDefinition", "AWS::ECS::TaskSet")
# The primary task set points at the blue task set's Id, so it changes whenever the task set is
# replaced: part of the green deployment itself, not an "other resource".
FOLLOWER_TYPES = ("AWS::ECS::PrimaryTaskSet",)


class Rule(enum.Enum):
    STATEFUL = "stateful replacement or removal"
    BLUE_GREEN = "blue/green mixing"
    TERMINATION_PROTECTION = "termination protection"
    DEPENDANT_DEPLOYED = "deployed dependant"


@dataclass(frozen=True)
class Refusal:
    """A change set that must not be executed: whose, which rule, why, and what to do instead."""

    stack: str
    rule: Rule
    reason: str
    remedy: str


@dataclass(frozen=True)
class Deletion:
    """A deployed stack that destroy would delete, with what could stop it."""

    stack_name: str
    region: str
    termination_protection: bool
    # Deployed stacks that use its outputs and are not deleted with it: (stack name, short name).
    deployed_dependants: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class StatefulChange:
    """A stateful resource that a change set removes or may replace."""

    logical_id: str
    resource_type: str
    action: str
    replacement: str | None


@dataclass(frozen=True)
class GreenConflict:
    starts: list[str]  # logical IDs whose change starts a green deployment
    others: list[str]  # other resources changed in the same update


def stateful_change(change: dict[str, Any]) -> StatefulChange | None:
    rc = change.get("ResourceChange", {})
    if rc.get("ResourceType") not in STATEFUL_TYPES:
        return None
    if rc.get("Action") != "Remove" and rc.get("Replacement") not in MAY_REPLACE:
        return None
    return StatefulChange(
        rc.get("LogicalResourceId", "?"), rc["ResourceType"], rc.get("Action", "?"), rc.get("Replacement")
    )


def stateful_changes(changes: Iterable[dict[str, Any]]) -> list[StatefulChange]:
    return [found for found in map(stateful_change, changes) if found]


def uses_transform(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    return TRANSFORM in (transform if isinstance(transform, list) else [transform])


def _blue_resources(template: dict[str, Any]) -> set[str]:
    """The blue task definitions and task sets named by the hook (the green ones are not resources)."""
    resources = template.get("Resources", {})
    named: set[str] = set()
    for hook in (template.get("Hooks") or {}).values():
        if hook.get("Type") != HOOK_TYPE:
            continue
        for application in hook.get("Properties", {}).get("Applications", []):
            attributes = application.get("ECSAttributes", {})
            named.update(attributes.get("TaskDefinitions", []) + attributes.get("TaskSets", []))
    declared = {k for k in named if k in resources}
    return declared or {k for k, v in resources.items() if v.get("Type") in TRIGGER_TYPES}


def green_conflict(template: dict[str, Any], changes: Iterable[dict[str, Any]]) -> GreenConflict | None:
    """None unless the template uses the transform and the change set both starts a green deployment
    (Modify of the blue task definition or task set, replacement or not) and changes anything else."""
    if not uses_transform(template):
        return None
    blue = _blue_resources(template)
    starts, others = [], []
    for change in changes:
        rc = change.get("ResourceChange", {})
        logical, action = rc.get("LogicalResourceId", "?"), rc.get("Action")
        if action == "Modify" and logical in blue:
            starts.append(logical)
        elif not (action == "Modify" and rc.get("ResourceType") in FOLLOWER_TYPES):
            others.append(logical)
    return GreenConflict(sorted(starts), sorted(others)) if starts and others else None


def plan_conflict(plan: Plan) -> GreenConflict | None:
    """The blue/green conflict of a plan ready to execute (a deferred plan has no change set yet)."""
    return green_conflict(plan.entry.template, plan.changes) if plan.state is PlanState.CHANGES else None


def _stateful_refusal(stack: str) -> Refusal:
    return Refusal(
        stack,
        Rule.STATEFUL,
        reason="would replace or remove stateful resources (marked !!)",
        remedy="Review them, then re-run with --allow-replacement if that is intended.",
    )


def _green_refusal(stack: str, found: GreenConflict) -> Refusal:
    return Refusal(
        stack,
        Rule.BLUE_GREEN,
        reason=(
            f"would start a green deployment ({', '.join(found.starts)}) and change other resources "
            f"({', '.join(found.others)}) in one update, which CloudFormation rejects"
        ),
        remedy=(
            "Apply the infrastructure change first with the task definition unchanged (keep the deployed image "
            "and task settings in the template), then release the new task definition in a separate apply."
        ),
    )


def refusals(plans: Sequence[Plan], *, allow_replacement: bool) -> list[Refusal]:
    """Every refusal for these plans, stateful ones first, each rule in plan order (empty: they may run)."""
    found = []
    if not allow_replacement:
        found += [_stateful_refusal(p.entry.stack_name) for p in plans if stateful_changes(p.changes)]
    for p in plans:
        conflict = plan_conflict(p)
        if conflict:
            found.append(_green_refusal(p.entry.stack_name, conflict))
    return found


def deletion_refusals(deletions: Sequence[Deletion]) -> list[Refusal]:
    """Why destroy must delete none of these stacks (empty: it may delete them all), in deletion order."""
    found = []
    for deletion in deletions:
        if deletion.termination_protection:
            remedy = (
                "Turn it off first: aws cloudformation update-termination-protection "
                f"--no-enable-termination-protection --stack-name {deletion.stack_name} --region {deletion.region}"
            )
            found.append(
                Refusal(deletion.stack_name, Rule.TERMINATION_PROTECTION, "has termination protection", remedy)
            )
        for stack_name, name in deletion.deployed_dependants:
            reason = f"is deployed and uses outputs of {deletion.stack_name}"
            remedy = f"Destroy it first (or add --stack {name})."
            found.append(Refusal(stack_name, Rule.DEPENDANT_DEPLOYED, reason, remedy))
    return found
