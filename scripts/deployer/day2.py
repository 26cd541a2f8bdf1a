"""What an update is judged on besides its change set: the deployed template and the live routing;
and what one apply is judged on besides its own stacks: the rest of the environment.

``inspect`` runs after planning an update with changes and fills the plan's day-2 facts (AWS calls
only here); the policy then judges them with the pure rules of ``update_rules`` and ``routing``.
``environment`` reads, once per plan or apply, the stacks of the environment that the manifest does not
name, the dependencies a --stack selection leaves out, and the rules on the shared listeners the apply's
stacks put rules on, with their owners; ``environment_checks`` judges them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from blueprints import manifest as contract

from . import routing, update_rules
from .aws import error_code
from .manifest import StackEntry
from .plans import (
    ChangeKind,
    Dependency,
    DependencyState,
    EnvironmentFacts,
    LiveRule,
    OtherStack,
    Plan,
    PlannedRule,
    PlanState,
)

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


# --- the rest of the environment (deployer.environment_checks judges it) ----------------------------

GONE = "DELETE_COMPLETE"


def environment(ctx: Context, plans: Sequence[Plan], prefix: str, scope: list[str] | None) -> EnvironmentFacts:
    """What the environment around this apply holds. ``scope``: the stacks outside the manifest to look
    for (``["*"]``: every stack of the region whose name starts with ``prefix``; short names: those; None:
    none)."""
    facts = EnvironmentFacts(prefix=prefix)
    if scope and prefix:  # no common prefix (a hand-written manifest): nothing tells its stacks from others
        facts.others = _outside_manifest(ctx, prefix, scope)
        facts.other_manifests = _other_environments(ctx)
    facts.dependencies = _left_out(ctx, plans)
    changing = {p.entry.stack_name for p in plans if p.has_changes()}
    facts.planned = planned_rules(ctx)
    taken = {(r.listener, r.priority) for r in facts.planned if r.stack_name in changing}
    if taken:
        facts.live = _live_rules(ctx, facts.planned, changing, taken, facts.others)
    return facts


def _outside_manifest(ctx: Context, prefix: str, scope: list[str]) -> list[OtherStack]:
    """Stacks named ``prefix...`` that the manifest does not name (DescribeStacks, every page; deleted ones
    left out), or only ``prefix + name`` for each name in ``scope``."""
    named = {e.stack_name for e in ctx.manifest.stacks}
    found: dict[str, OtherStack] = {}
    for region in sorted({e.region for e in ctx.manifest.stacks}):
        cfn = ctx.aws.cfn(region)
        if scope == ["*"]:
            stacks = [s for page in cfn.get_paginator("describe_stacks").paginate() for s in page.get("Stacks", [])]
        else:
            stacks = [s for s in (ctx.provider.describe_stack(cfn, prefix + name) for name in scope) if s]
        for stack in stacks:
            name = stack["StackName"]
            if name.startswith(prefix) and name not in named and stack["StackStatus"] != GONE:
                tags = tuple(sorted((t["Key"], t["Value"]) for t in stack.get("Tags") or []))
                found[name] = OtherStack(name, stack["StackStatus"], tags)
    return [found[k] for k in sorted(found)]


def _other_environments(ctx: Context) -> set[str]:
    """Stack names of the other environments of the same out/ (one project's "apps" and "apps-eu" share a prefix)."""
    folder = ctx.manifest.folder
    if folder is None:
        return set()
    names: set[str] = set()
    for env in contract.environments(folder.parent):
        if env == ctx.manifest.env:
            continue
        try:
            names.update(s.stack_name for s in contract.read(folder.parent / env).stacks)
        except contract.ManifestError:
            continue
    return names


def _left_out(ctx: Context, plans: Sequence[Plan]) -> list[Dependency]:
    """The dependencies of the apply's stacks with changes that --stack leaves out, unless up to date: each
    planned as plan would (its change set, if one is made, is deleted at once)."""
    selected = {p.entry.name for p in plans}
    known = {e.name for e in ctx.manifest.stacks}
    states: dict[str, tuple[DependencyState, str] | None] = {}
    found = []
    for p in plans:
        if not p.has_changes():
            continue
        for name in p.entry.depends_on:
            if name in selected or name not in known:
                continue
            if name not in states:
                states[name] = _dependency_state(ctx, ctx.manifest.by_name(name))
            state = states[name]
            if state:
                found.append(Dependency(p.entry.name, name, *state))
    return found


def _dependency_state(ctx: Context, entry: StackEntry) -> tuple[DependencyState, str] | None:
    with ctx.slots:
        plan = ctx.planner.plan_if_deployed(entry)
    if plan is None:
        return DependencyState.NOT_DEPLOYED, ""
    ctx.planner.discard(plan, force=True)
    if plan.state is PlanState.FAILED:
        return DependencyState.FAILED, plan.reason
    return (DependencyState.CHANGES, "") if plan.has_changes() else None


def _has_shared_rules(entry: StackEntry) -> bool:
    return bool(routing.shared_rules(entry.template))


def planned_rules(ctx: Context) -> list[PlannedRule]:
    """Every manifest stack's rules on listeners given as parameters, as out/ writes them, with the values
    the stack would get (parameters from outputs of stacks not deployed yet stay unresolved)."""
    found = []
    for entry in ctx.manifest.stacks:
        if not _has_shared_rules(entry):
            continue
        values = dict(entry.parameters)
        for key, ref in entry.parameters_from_outputs.items():
            outputs = ctx.planner.outputs_of(ref.stack) or {}
            if ref.output in outputs:
                values[key] = outputs[ref.output]
        effective = update_rules.effective_parameters(entry.template, values)
        found += routing.planned_rules(entry.stack_name, entry.template, effective)
    return found


def _live_rules(
    ctx: Context,
    planned: list[PlannedRule],
    changing: set[str],
    taken: set[tuple[str, int]],
    others: list[OtherStack],
) -> list[LiveRule]:
    """The rules on the listeners the apply's stacks put rules on (DescribeRules, every page), the owner
    named for each rule on a priority the apply takes (ListStackResources of the environment's stacks,
    the apply's first, until every one is found)."""
    regions = {e.stack_name: e.region for e in ctx.manifest.stacks}
    listeners = {r.listener: regions[r.stack_name] for r in planned if r.stack_name in changing}
    rules: list[LiveRule] = []
    for listener, region in sorted(listeners.items()):
        elbv2 = ctx.aws.client("elbv2", region)
        marker = None
        while True:
            try:
                page = elbv2.describe_rules(ListenerArn=listener, **({"Marker": marker} if marker else {}))
            except ClientError as exc:
                if error_code(exc) == "ListenerNotFound":
                    break  # the listener's stack is being replaced: nothing holds a priority on it
                raise
            for rule in page.get("Rules", []):
                if not rule.get("IsDefault") and str(rule.get("Priority", "")).isdigit():
                    rules.append(LiveRule(rule["RuleArn"], listener, int(rule["Priority"])))
            marker = page.get("NextMarker")
            if not marker:
                break
    unowned = {r.arn for r in rules if (r.listener, r.priority) in taken}
    owners: dict[str, tuple[str, str]] = {}
    shared = [e for e in ctx.manifest.stacks if _has_shared_rules(e)]
    shared.sort(key=lambda e: e.stack_name not in changing)  # the apply's first, else in manifest order
    candidates = [(e.stack_name, e.region) for e in shared]
    default_region = ctx.manifest.stacks[0].region if ctx.manifest.stacks else ""
    candidates += [(o.stack_name, default_region) for o in others if o.holds_resources]
    for stack_name, region in candidates:
        if not unowned - set(owners):
            break
        for logical_id, physical in routing.stack_rules(ctx.aws.cfn(region), stack_name).items():
            owners[physical] = (stack_name, logical_id)
    return [LiveRule(r.arn, r.listener, r.priority, *owners.get(r.arn, (None, None))) for r in rules]
