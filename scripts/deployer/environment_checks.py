"""One apply judged against the rest of its environment: pure functions over plans and what
``day2.environment`` read (no AWS calls, no output). plan shows what they find; apply refuses on it
(exit 1, as every refusal) or orders the stacks.

- Listener-rule priorities on shared listeners (deployer.priority_checks): a rule out/ puts on a
  priority another rule holds now runs after the stack that moves that rule away, when that stack is in
  the same apply; a swap is refused with the two-step procedure; any other holder is refused by name.
- Stacks of the environment that the manifest does not name (a service removed from params before
  its stacks were destroyed): reported; updating ``platform`` while such a ``service-*`` stack is
  deployed is refused (the platform opens only the ports and egress of the services in out/), and so
  is creating ``platform`` beside the single-service layout's ``service`` stack, or the reverse: the
  move between layouts is a new environment.
- --stack selections: a selected stack with changes whose manifest dependency is left out and is not
  deployed, or has changes of its own, is refused until the dependency is selected too (or applied
  first): the manifest cannot tell whether this stack needs that change (a new container port needs
  the platform's egress first; nothing in the service stack's parameters shows it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .manifest import StackEntry
from .plans import (
    ChangeKind,
    Dependency,
    DependencyState,
    EnvironmentFacts,
    OtherStack,
    Plan,
)
from .policy import Refusal, Rule
from .priority_checks import SERVICE_PREFIX, grouped, priorities, take_text

PLATFORM = "platform"
SINGLE_SERVICE = "service"  # the single-service layout's service stack
# Tags every stack of one environment carries with the same value (blueprints: project and environment).
IDENTITY_TAGS = ("Project", "Environment")


# --- what to read ---------------------------------------------------------------------------------


def several_services(names: Iterable[str]) -> bool:
    return any(n == PLATFORM or n.startswith(SERVICE_PREFIX) for n in names)


def scan_scope(stacks: Sequence[StackEntry], plans: Sequence[Plan]) -> list[str] | None:
    """Which stacks outside the manifest to look for: every one of the environment (``["*"]``) in an
    environment with several services, whose services come and go; in the single-service layout, whose
    stacks are fixed, only the other layout's ``platform``, when this apply creates ``service``; else
    none (``None``: nothing is read)."""
    names = [e.name for e in stacks]
    if several_services(names):
        return ["*"]
    creates = {p.entry.name for p in plans if p.kind is ChangeKind.CREATE and p.has_changes()}
    return [PLATFORM] if SINGLE_SERVICE in creates else None


def prefix(stacks: Sequence[StackEntry]) -> str:
    """ "<project>-<environment>-": what every stack name of the manifest starts with before its short name."""
    found = [e.stack_name[: -len(e.name)] for e in stacks if e.stack_name.endswith(e.name)]
    return max(set(found), key=found.count) if found else ""


# --- stacks outside the manifest ------------------------------------------------------------------


def outside(facts: EnvironmentFacts, stacks: Sequence[StackEntry]) -> list[OtherStack]:
    """The stacks read that belong to this environment: not named by another environment of out/, and
    without a Project or Environment tag other than the manifest's."""
    identity = {k: v for e in stacks for k, v in e.tags.items() if k in IDENTITY_TAGS}
    found = []
    for other in facts.others:
        tags = dict(other.tags)
        if other.stack_name in facts.other_manifests:
            continue
        if any(k in tags and tags[k] != v for k, v in identity.items()):
            continue
        found.append(other)
    return found


def _short(facts: EnvironmentFacts, stack_name: str) -> str:
    return stack_name[len(facts.prefix) :] if facts.prefix and stack_name.startswith(facts.prefix) else stack_name


def _outside_refusals(
    facts: EnvironmentFacts, plans: Sequence[Plan], stacks: Sequence[StackEntry], env: str
) -> list[Refusal]:
    others = [o for o in outside(facts, stacks) if o.holds_resources]
    by_short = {_short(facts, o.stack_name): o for o in others}
    services = sorted(o.stack_name for s, o in by_short.items() if s.startswith(SERVICE_PREFIX))
    found = []
    for p in plans:
        if not p.has_changes():
            continue
        name, stack = p.entry.name, p.entry.stack_name
        if name == PLATFORM and p.kind is ChangeKind.UPDATE and services:
            names = [_short(facts, s) for s in services]
            pipelines = [f"pipeline-{n[len(SERVICE_PREFIX) :]}" for n in names]
            destroy = " ".join(f"--stack {n}" for n in [*(pipe for pipe in pipelines if pipe in by_short), *names])
            one = len(services) == 1
            found.append(
                Refusal(
                    stack,
                    Rule.OUTSIDE_MANIFEST,
                    reason=(
                        f"would update the shared platform while {', '.join(services)}, not in out/{env}, "
                        f"{'is' if one else 'are'} deployed: the platform opens only the ports and egress of the "
                        f"services in out/, so this update may drop what {'that service' if one else 'they'} still "
                        "serve" + ("s" if one else "") + " through"
                    ),
                    remedy=(
                        f"Destroy {'it' if one else 'them'} first with the out/ that deployed "
                        f"{'it' if one else 'them'} (fargate-deploy destroy --env {env} {destroy} --out-dir "
                        f"PREVIOUS_OUT), or restore {'its service' if one else 'their services'} in params/{env}.yaml "
                        "and generate again."
                    ),
                )
            )
        other = {PLATFORM: SINGLE_SERVICE, SINGLE_SERVICE: PLATFORM}.get(name)
        if other and p.kind is ChangeKind.CREATE and other in by_short:
            layouts = {PLATFORM: "several services (services:)", SINGLE_SERVICE: "one service (service:)"}
            found.append(
                Refusal(
                    stack,
                    Rule.LAYOUT,
                    reason=(
                        f"would create the {layouts[name]} layout's {name} stack while {by_short[other].stack_name}, "
                        f"the {layouts[other]} layout's, is deployed in this environment: both hold the cluster and "
                        "load balancer under the same names"
                    ),
                    remedy=(
                        "Moving between service: and services: is a new environment (README, Several services, "
                        "Day 2): a new params file with another environment name, move traffic, then destroy "
                        "this one."
                    ),
                )
            )
    return found


# --- --stack selections ---------------------------------------------------------------------------


def _dependency_refusal(plan_stack: str, found: Dependency, env: str) -> Refusal:
    state = {
        DependencyState.NOT_DEPLOYED: "which is not deployed",
        DependencyState.CHANGES: "which has changes in out/ that are not deployed (its plan is an update)",
        DependencyState.FAILED: f"which cannot be planned ({found.detail})",
    }[found.state]
    return Refusal(
        plan_stack,
        Rule.DEPENDENCY_LEFT_OUT,
        reason=f"depends on {found.name}, left out by --stack, {state}",
        remedy=(
            f"Add --stack {found.name} (it is applied first), or apply it first: fargate-deploy apply --env {env} "
            f"--stack {found.name}."
        ),
    )


# --- everything together --------------------------------------------------------------------------


@dataclass
class Findings:
    """What the environment adds to one apply: lines for the plan, refusals, and the order."""

    lines: list[str]
    refusals: list[Refusal]
    after: dict[str, list[str]]  # short name -> short names of stacks of the apply it runs after


def judge(facts: EnvironmentFacts, plans: Sequence[Plan], stacks: Sequence[StackEntry], env: str) -> Findings:
    names = {e.stack_name: e.name for e in stacks}
    found = priorities(facts, plans, stacks, env)
    refusals = list(found.refusals)
    refusals += _outside_refusals(facts, plans, stacks, env)
    by_name = {p.entry.name: p for p in plans}
    refusals += [_dependency_refusal(by_name[d.dependant].entry.stack_name, d, env) for d in facts.dependencies]
    lines = []
    others = outside(facts, stacks)
    if others:
        listed = ", ".join(f"{o.stack_name} ({o.status})" for o in others)
        lines.append(
            f"Deployed but not in out/{env}: {listed} — destroy them with the previous out/, or restore their params."
        )
    lines += [
        f"{by_name[d.dependant].entry.stack_name} depends on {d.name}, left out by --stack, which {d.state.value}"
        + (f" ({d.detail})" if d.detail else "")
        + "."
        for d in facts.dependencies
    ]
    for group in grouped(found.takes):
        taker, holder = group[0].taker.stack_name, group[0].holder.owner_stack or ""
        lines.append(
            f"Order: {taker} runs after {holder}, which moves its rules off the priority {names.get(taker, taker)} "
            f"takes ({take_text(names, group)}; a listener holds each priority once)."
        )
    after = {
        names.get(taker, taker): sorted(names.get(h, h) for h in holders) for taker, holders in found.after.items()
    }
    return Findings(lines, refusals, after)
