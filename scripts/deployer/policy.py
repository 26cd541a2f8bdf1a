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
- Update rules worked out from the deployed template and the one in out/ (deployer.update_rules,
  each with its AWS source): a create-only property change replaces the resource even when the
  change set does not say so (then the stateful rule applies); a replaced resource that keeps its
  custom name is refused outright (CloudFormation cannot do it); an ECS service whose deployment
  controller's UpdateService rejects the change is refused with the procedure that works.
- Live routing (deployer.routing): an update that would send traffic to a target group without a
  healthy target, because a blue/green release moved it, is refused.
- Termination protection: destroy refuses a protected stack before deleting anything (DeleteStack
  would fail on it, after the stacks before it in the order were already gone):
  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html
- Deployed dependants: destroy refuses a stack whose outputs a deployed stack, not deleted with it,
  still uses (CloudFormation does not track parameters passed by value between stacks).
- The rest of the environment (deployer.environment_checks): listener-rule priorities on shared
  listeners, service stacks the manifest no longer names, the other layout's stacks, and
  dependencies a --stack selection leaves out.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import day2, routing, update_rules
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
    NAMED_REPLACEMENT = "custom-named replacement"
    SERVICE_UPDATE = "ECS service update the controller rejects"
    ROUTING = "live routing"
    PRIORITY = "listener-rule priority in use"
    OUTSIDE_MANIFEST = "service stack outside the manifest"
    LAYOUT = "layout change"
    DEPENDENCY_LEFT_OUT = "dependency left out"


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


def _green_refusal(
    stack: str, found: GreenConflict, day: Day2 | None = None, env: str = "<env>", name: str = "service"
) -> Refusal:
    """``stack``: the stack name; ``name``: its short name in the manifest (``--stack``)."""
    remedy = (
        "Apply the infrastructure change first with the task definition unchanged (keep the deployed image "
        "and task settings in the template), then release the new task definition in a separate apply."
    )
    if day and any(u.logical_id in found.starts and "NetworkConfiguration" in u.changed for u in day.updates):
        remedy = (
            "The task set's subnets changed (a zone was added or removed). Two steps: 1) apply the network alone "
            f"(fargate-deploy apply --env {env} --stack network): the subnets are created, nothing serving traffic "
            "moves; 2) update the service stack twice, first everything but the task set, then the task set alone "
            "(a green deployment). out/ cannot express step 2's first half yet (the task set and the validation "
            "hook read the same PrivateSubnetIds): until it can, keep the service in its zones, or re-create the "
            f"service stack when an outage is acceptable (fargate-deploy destroy --env {env} --stack {name}, "
            "then apply)."
        )
    return Refusal(
        stack,
        Rule.BLUE_GREEN,
        reason=(
            f"would start a green deployment ({', '.join(found.starts)}) and change other resources "
            f"({', '.join(found.others)}) in one update, which CloudFormation rejects"
        ),
        remedy=remedy,
    )


def refusals(plans: Sequence[Plan], *, allow_replacement: bool, env: str = "<env>") -> list[Refusal]:
    """Every refusal for these plans, stateful ones first, each rule in plan order (empty: they may run)."""
    found = []
    findings = {id(p): day2_findings(p, plans) for p in plans}
    if not allow_replacement:
        found += [
            _stateful_refusal(p.entry.stack_name)
            for p in plans
            if stateful_changes(p.changes) or findings[id(p)].stateful
        ]
    for p in plans:
        day = findings[id(p)]
        conflict = plan_conflict(p) or day.conflict
        if conflict:
            found.append(_green_refusal(p.entry.stack_name, conflict, day, env, p.entry.name))
        found += [_named_refusal(p, named, env) for named in day.named]
        found += [_service_refusal(p, limit, env) for limit in day.limits]
        found += [_routing_refusal(p, misroute) for misroute in day.misroutes]
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


# --- day 2: rules worked out from the deployed template and the live routing -----------------


@dataclass(frozen=True)
class Day2:
    """What the update rules and the live routing find in one plan (all empty without day-2 facts)."""

    updates: tuple[update_rules.ResourceUpdate, ...] = ()
    stateful: tuple[update_rules.ResourceUpdate, ...] = ()  # stateful resources the templates say are replaced
    named: tuple[update_rules.NamedReplacement, ...] = ()
    limits: tuple[update_rules.ControllerLimit, ...] = ()
    conflict: GreenConflict | None = None
    misroutes: tuple[routing.Misroute, ...] = ()
    upstream: tuple[str, ...] = ()  # parameters whose upstream outputs this apply changes


def upstream_overrides(plan: Plan, plans: Sequence[Plan]) -> dict[str, str]:
    """Parameters of ``plan`` wired to outputs that an upstream plan of the same apply changes, each
    with a marker value: the plan is judged as it will be planned again after that upstream."""
    found = {}
    by_name = {p.entry.name: p for p in plans}
    for key, ref in plan.entry.parameters_from_outputs.items():
        upstream = by_name.get(ref.stack)
        if not upstream or upstream.deployed_template is None or upstream.sent_template is None:
            continue
        before, after = day2.parameters(upstream)
        updates = day2.template_updates(upstream)
        changed = update_rules.changed_outputs(
            upstream.deployed_template, upstream.sent_template, before, after, updates
        )
        if ref.output in changed:
            found[key] = f"(changed by {ref.stack}.{ref.output})"
    return found


def day2_findings(plan: Plan, plans: Sequence[Plan] = ()) -> Day2:
    if plan.state is not PlanState.CHANGES or plan.deployed_template is None or plan.sent_template is None:
        return Day2()
    overrides = upstream_overrides(plan, plans)
    updates = day2.template_updates(plan, overrides)
    _, after = day2.parameters(plan, overrides)
    reported = {c.get("ResourceChange", {}).get("LogicalResourceId") for c in plan.changes}
    synthetic = [
        c for c in update_rules.as_changes(updates) if c["ResourceChange"]["LogicalResourceId"] not in reported
    ]
    touched = day2.touched_routing(plan, updates)
    return Day2(
        updates=tuple(updates),
        stateful=tuple(u for u in updates if u.replaces and u.resource_type in STATEFUL_TYPES),
        named=tuple(update_rules.named_replacements(updates, plan.sent_template, after)),
        limits=tuple(update_rules.controller_limits(updates, plan.deployed_template)),
        conflict=green_conflict(plan.sent_template, plan.changes + synthetic),
        misroutes=tuple(routing.misroutes(plan.sent_template, touched, plan.live_routing or {})),
        upstream=tuple(sorted(overrides)),
    )


def _recreate(env: str, plan: Plan) -> str:
    return (
        f"re-create the stack when an outage is acceptable (fargate-deploy destroy --env {env} --stack "
        f"{plan.entry.name}, then apply), or deploy the change as a new environment and move traffic to it"
    )


def _named_refusal(plan: Plan, found: update_rules.NamedReplacement, env: str) -> Refusal:
    return Refusal(
        plan.entry.stack_name,
        Rule.NAMED_REPLACEMENT,
        reason=(
            f"would replace {found.logical_id} ({found.resource_type}: {', '.join(found.replaced_by)} can only be "
            f"set at creation) while it keeps its custom {found.name_property} {found.name}, which CloudFormation "
            'cannot do ("cannot update a stack when a custom-named resource requires replacing")'
        ),
        remedy=f"Revert that change in params/{env}.yaml and generate again; or {_recreate(env, plan)}.",
    )


def _service_refusal(plan: Plan, found: update_rules.ControllerLimit, env: str) -> Refusal:
    changed = ", ".join(found.rejected)
    reason = (
        f"would change {changed} of ECS service {found.logical_id}, whose {found.controller} deployment "
        "controller accepts no such UpdateService (ECS API reference, UpdateService)"
    )
    if "DeploymentController" in found.rejected:
        remedy = (
            "Switching engines changes the deployment controller, which UpdateService cannot do here. Deploy the "
            "new engine as a new environment (a params file of its own), move traffic, then destroy this one; or "
            f"{_recreate(env, plan)}. AWS's guide 'Migrate CodeDeploy blue/green deployments to Amazon ECS "
            "blue/green deployments' describes an in-place migration outside CloudFormation."
        )
    elif "NetworkConfiguration" in found.rejected:
        remedy = (
            f"1) Apply the network alone (fargate-deploy apply --env {env} --stack network): the new subnets are "
            "created and nothing serving traffic moves. 2) Move the tasks with a CodeDeploy deployment whose AppSpec "
            "sets TargetService.Properties.NetworkConfiguration.AwsvpcConfiguration.Subnets to the new private "
            "subnets. 3) The service stack keeps the subnets it was created with and this change stays refused: "
            f"{_recreate(env, plan)}."
        )
    else:
        remedy = f"Revert that change in params/{env}.yaml and generate again; or {_recreate(env, plan)}."
    return Refusal(plan.entry.stack_name, Rule.SERVICE_UPDATE, reason, remedy)


def _routing_refusal(plan: Plan, found: routing.Misroute) -> Refusal:
    return Refusal(
        plan.entry.stack_name,
        Rule.ROUTING,
        reason=(
            f"would set {found.logical_id} to forward to {', '.join(found.template_targets)} as the template says, "
            f"but a blue/green release moved its traffic to {', '.join(found.live_targets)} and "
            f"{', '.join(found.idle)} has no healthy target: production traffic would stop"
        ),
        remedy=(
            "Release once more (the next blue/green deployment moves traffic back to the target group the template "
            "names), then plan again; until then leave the listener and its rules unchanged."
        ),
    )
