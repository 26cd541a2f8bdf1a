"""Listener-rule priorities on shared listeners, for deployer.environment_checks: pure functions over
plans and what ``day2.environment`` read (no AWS calls, no output).

"A listener can't have multiple rules with the same priority" (ELB API reference, CreateRule), and
SetRulePriorities fails with PriorityInUse; the CloudFormation ListenerRule reference: "do not specify a
new priority if an existing rule already uses this priority ... you must remove it as a priority first,
and then specify it in a subsequent update". A rule that out/ puts on a priority another rule holds now
runs after the stack that moves that rule away, when that stack is in the same apply (an order for the
scheduler, ``Plan.after``); stacks that take each other's priorities (a swap, or any cycle with the
manifest's dependencies) are refused with the two-step procedure; any other holder is refused by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .manifest import StackEntry
from .plans import EnvironmentFacts, LiveRule, Plan, PlannedRule
from .policy import Refusal, Rule

SERVICE_PREFIX = "service-"  # a service stack of the several-services layout


@dataclass(frozen=True)
class Take:
    """A rule of the apply that takes a priority another rule holds now."""

    taker: PlannedRule
    holder: LiveRule


@dataclass
class Priorities:
    """Stacks that must run after others (stack name -> stack names), why, and the refusals."""

    after: dict[str, set[str]] = field(default_factory=dict)
    takes: list[Take] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)


def _listener(rule: PlannedRule) -> str:
    return f"listener {rule.parameter} ({rule.listener.split(':listener/', 1)[-1]})"


def _priority_key(names: Mapping[str, str], rule: PlannedRule) -> str:
    short = names.get(rule.stack_name, rule.stack_name)
    if short.startswith(SERVICE_PREFIX):
        return f"services.{short[len(SERVICE_PREFIX) :]}.routing.priority"
    return f"the Priority of {short}'s {rule.logical_id}"


def _in_use(facts: EnvironmentFacts, listener: str) -> list[int]:
    return sorted({r.priority for r in facts.live if r.listener == listener})


def _free(facts: EnvironmentFacts, listeners: set[str], above: int) -> int:
    used = {r.priority for r in facts.live if r.listener in listeners}
    used |= {r.priority for r in facts.planned if r.listener in listeners}
    candidate = above + 1
    while candidate in used:
        candidate += 1
    return candidate


def _cycles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one stack (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def grouped(takes: Iterable[Take]) -> list[list[Take]]:
    """Takes by (taker stack, holder stack, priority): a service's production and test rules move together."""
    groups: dict[tuple[str, str, int], list[Take]] = {}
    for take in takes:
        groups.setdefault((take.taker.stack_name, take.holder.owner_stack or "", take.taker.priority), []).append(take)
    return [groups[k] for k in sorted(groups)]


def take_text(names: Mapping[str, str], group: list[Take]) -> str:
    """ "service-web's ProductionListenerRule, TestListenerRule take 20 from service-api's"."""
    first = group[0]
    rules = ", ".join(t.taker.logical_id for t in group)
    verb = "takes" if len(group) == 1 else "take"
    holder = first.holder.owner_stack or ""
    return (
        f"{names.get(first.taker.stack_name, first.taker.stack_name)}'s {rules} {verb} priority {first.taker.priority} "
        f"from {names.get(holder, holder)}'s {', '.join(t.holder.owner_logical or '?' for t in group)}"
    )


def _cycle_refusals(
    facts: EnvironmentFacts, names: Mapping[str, str], component: list[str], takes: list[Take]
) -> list[Refusal]:
    """Stacks that take each other's priorities (a swap): no order works, so two steps."""
    detail = "; ".join(take_text(names, group) for group in grouped(takes))
    listeners = {t.taker.listener for t in takes}
    free = _free(facts, listeners, max(t.taker.priority for t in takes))
    reason = (
        f"would take each other's listener-rule priorities ({detail}): ALB rejects two rules with one priority "
        "on a listener, so neither update can go first"
    )
    key = _priority_key(names, grouped(takes)[0][0].taker)
    remedy = (
        f"Two steps: first move one of them to a free priority (e.g. {key}: {free}, "
        f"free on {'those listeners' if len(listeners) > 1 else 'that listener'}), generate and apply; then set the "
        "final priorities, generate and apply again."
    )
    return [Refusal(stack_name, Rule.PRIORITY, reason, remedy) for stack_name in component]


def priorities(facts: EnvironmentFacts, plans: Sequence[Plan], stacks: Sequence[StackEntry], env: str) -> Priorities:
    """Every rule of the apply's stacks (with changes) whose priority another rule holds now: an order
    when the holder's stack is in the apply and moves that rule away, else a refusal."""
    names = {e.stack_name: e.name for e in stacks}
    selected = {p.entry.stack_name for p in plans}
    changing = {p.entry.stack_name for p in plans if p.has_changes()}
    planned = {(r.stack_name, r.logical_id): r for r in facts.planned}
    live = {(r.listener, r.priority): r for r in facts.live}
    result = Priorities()

    def refuse(rule: PlannedRule, reason: str, remedy: str) -> None:
        result.refusals.append(Refusal(rule.stack_name, Rule.PRIORITY, reason, remedy))

    claims: dict[tuple[str, int], list[PlannedRule]] = {}
    for rule in facts.planned:
        if rule.stack_name in changing:
            claims.setdefault((rule.listener, rule.priority), []).append(rule)
    for (_, number), rules in sorted(claims.items()):
        for rule in rules if len(rules) > 1 else []:
            others = ", ".join(f"{names.get(o.stack_name, o.stack_name)}'s {o.logical_id}" for o in rules if o != rule)
            refuse(
                rule,
                f"would give {rule.logical_id} priority {number} on {_listener(rule)}, which out/ also gives to "
                f"{others}",
                "out/ is inconsistent (the generator refuses duplicate priorities): generate it again from params/.",
            )

    for rule in facts.planned:
        holder = live.get((rule.listener, rule.priority))
        if rule.stack_name not in changing or holder is None:
            continue
        if (holder.owner_stack, holder.owner_logical) == (rule.stack_name, rule.logical_id):
            continue
        take = f"would give {rule.logical_id} priority {rule.priority} on {_listener(rule)}, which "
        in_use = ", ".join(map(str, _in_use(facts, rule.listener)))
        choose = f"give {_priority_key(names, rule)} a priority no rule of that listener holds (in use: {in_use})"
        if holder.owner_stack is None:
            refuse(
                rule,
                take + f"rule {holder.arn} holds now, a rule no stack of this environment owns",
                f"Delete that rule, or {choose}, generate again and apply.",
            )
            continue
        owner = names.get(holder.owner_stack)
        moved = planned.get((holder.owner_stack, holder.owner_logical or ""))
        stays = moved is not None and (moved.listener, moved.priority) == (holder.listener, holder.priority)
        moves_away = owner is not None and not stays
        holds = f"{holder.owner_stack}'s {holder.owner_logical} holds now"
        where = f" (out/ moves it to {moved.priority})" if moved and moves_away else ""
        if holder.owner_stack == rule.stack_name:
            refuse(
                rule,
                take + f"{holder.owner_logical} of the same stack holds now and gives up in the same update: "
                "CloudFormation does not order the two within one stack update",
                "Two steps: first move the holder to a priority no rule holds and apply, then apply out/ as it is.",
            )
        elif owner is None:
            refuse(
                rule,
                take + f"{holds}, a stack out/{env} does not name",
                f"Destroy {holder.owner_stack} first with the out/ that deployed it (or restore its params), "
                f"or {choose}, generate again and apply.",
            )
        elif moves_away and holder.owner_stack in changing:
            result.after.setdefault(rule.stack_name, set()).add(holder.owner_stack)
            result.takes.append(Take(rule, holder))
        elif moves_away and holder.owner_stack not in selected:
            refuse(
                rule,
                take + f"{holds}{where}; that stack is left out by --stack, so the rule would not move first",
                f"Add --stack {owner} (it is applied first), or apply it first: fargate-deploy apply --env {env} "
                f"--stack {owner}.",
            )
        else:
            refuse(
                rule,
                take + f"{holds} and keeps (ALB rejects two rules with one priority on a listener: PriorityInUse)",
                f"{choose[0].upper()}{choose[1:]}, generate again and apply.",
            )

    graph = {k: set(v) for k, v in result.after.items()}
    for p in plans:  # a priority order against the dependencies would deadlock the scheduler too
        upstream = {e.stack_name for e in stacks if e.name in p.entry.depends_on} & changing
        if p.entry.stack_name in changing and upstream:
            graph.setdefault(p.entry.stack_name, set()).update(upstream)
    for component in _cycles(graph):
        inside = set(component)
        takes = [t for t in result.takes if t.taker.stack_name in inside and t.holder.owner_stack in inside]
        if not takes:
            continue  # the manifest's own dependencies have no cycle; only a priority order can make one
        result.refusals += _cycle_refusals(facts, names, component, takes)
        for stack_name in component:
            result.after.pop(stack_name, None)
    result.takes = [t for t in result.takes if t.taker.stack_name in result.after]
    return result
