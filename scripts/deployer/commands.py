"""plan and apply: change sets for every selected stack, judged by the policy; apply then hands
them to the scheduler, which executes them in dependency order."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from . import CHANGES, FAILED, OK, USAGE, day2, environment_checks, policy, stack_policy, widening
from .context import Context
from .manifest import StackEntry
from .plans import Plan, PlanState
from .render import plan_lines, refusal_lines
from .scheduler import execute_all, with_watched_dependants
from .waiting import WaitInterruptedError

PLANNING_THREADS = 4


def _plan_one(ctx: Context, entry: StackEntry) -> Plan:
    """A change set, and for an update the day-2 facts the policy judges besides it."""
    with ctx.slots:  # shared by every environment of one apply: bounded CloudFormation concurrency
        plan = day2.inspect(ctx, ctx.planner.plan(entry))
    if plan.state is PlanState.CHANGES and plan.change_set:
        plan.hook_lines = ctx.provider.change_set_hooks(ctx.aws.cfn(entry.region), plan.change_set["ChangeSetId"])
    return plan


def _plan_all(ctx: Context) -> list[Plan]:
    """Change sets for independent stacks are created in parallel; they are shown in manifest order."""
    pool = ThreadPoolExecutor(max_workers=PLANNING_THREADS)
    futures = [pool.submit(_plan_one, ctx, entry) for entry in ctx.manifest.selected]
    try:
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        ctx.waiter.stop.set()
        raise WaitInterruptedError([]) from None
    finally:
        pool.shutdown(wait=True)


def _judge(ctx: Context, plans: list[Plan]) -> tuple[environment_checks.Findings, list[policy.Refusal]]:
    """The apply against the rest of its environment (deployer.environment_checks: listener-rule
    priorities on shared listeners, stacks outside the manifest, dependencies --stack leaves out), its
    lines shown; and every refusal, the policy's first."""
    stacks = ctx.manifest.stacks
    scope = environment_checks.scan_scope(stacks, plans)
    facts = day2.environment(ctx, plans, environment_checks.prefix(stacks), scope)
    around = environment_checks.judge(facts, plans, stacks, ctx.env)
    if around.lines:
        ctx.reporter.say(*around.lines, "")
    refused = policy.refusals(plans, allow_replacement=ctx.options.allow_replacement, env=ctx.env)
    return around, refused + around.refusals


def _show(ctx: Context, plans: list[Plan]) -> None:
    for p in plans:
        access = widening.access_lines(widening.plan_changes(p))
        ctx.reporter.say(*plan_lines(p, colour=ctx.reporter.is_terminal), *access, "")


def _widening_gate(ctx: Context, plans: list[Plan]) -> int | None:
    """An update that widens access (deployer.widening) needs --allow-widening: with --yes or without a
    terminal it is refused (exit 2), an interactive apply asks about it on its own; None: go on."""
    wide = widening.widening_plans(plans)
    if not wide or ctx.options.allow_widening:
        return None
    names = ", ".join(p.entry.stack_name for p, _ in wide)
    if ctx.yes or not sys.stdin.isatty():
        for p in plans:
            ctx.planner.discard(p, force=True)
        rows = [line for _, changes in wide for line in widening.access_lines(changes)]
        ctx.reporter.say(
            *rows,
            f"Refused: {names} would widen access (marked !! wider above). Review it, then re-run with "
            "--allow-widening if that is intended.",
        )
        return USAGE
    if ctx.confirm(f"{names} would widen access (marked !! wider above). Widen it?"):
        return None
    ctx.reporter.say("Not applied.")
    for p in plans:
        ctx.planner.discard(p)
    return OK


def plan(ctx: Context) -> int:
    plans = _plan_all(ctx)
    _show(ctx, plans)
    _, refused = _judge(ctx, plans)
    ctx.reporter.say(*(line.replace("Refused:", "apply would refuse:", 1) for line in refusal_lines(refused)))
    wide = ", ".join(p.entry.stack_name for p, _ in widening.widening_plans(plans))
    if wide:
        ctx.reporter.say(f"apply would refuse without --allow-widening: {wide} would widen access (!! wider above).")
    for p in plans:
        if p.state is PlanState.CHANGES:
            ctx.planner.discard(p)
    if any(p.state is PlanState.FAILED for p in plans):
        return FAILED
    changed = [p for p in plans if p.has_changes()]
    kept = " (change sets kept: --keep)" if ctx.options.keep and changed else ""
    ctx.reporter.say(f"Plan: {len(changed)} of {len(plans)} stacks would change{kept}.")
    return CHANGES if ctx.detailed_exitcode and changed else OK


def apply(ctx: Context) -> int:
    prepared = prepare_apply(ctx)
    if isinstance(prepared, int):
        return prepared
    todo, run = prepared
    try:
        if not ctx.confirm(f"Apply changes to {len(todo)} stack(s) of {ctx.env}?"):
            ctx.reporter.say("Not applied.")
            for p in todo:
                ctx.planner.discard(p)
            return OK
    except Exception:
        for p in todo:
            ctx.planner.discard(p)
        raise
    return execute_all(ctx, run)


def prepare_apply(ctx: Context) -> int | tuple[list[Plan], list[Plan]]:
    """apply up to its confirmation: plans shown and judged; an exit code when there is nothing to
    execute, else (the plans with changes, every plan to run: them and their watched dependants)."""
    say = ctx.reporter.say
    plans = _plan_all(ctx)
    _show(ctx, plans)
    around, refusals = _judge(ctx, plans)
    failed = [p for p in plans if p.state is PlanState.FAILED]
    if failed or refusals:
        for p in plans:
            ctx.planner.discard(p, force=bool(refusals) and not failed)
        say(*refusal_lines(refusals))
        return FAILED
    gated = _widening_gate(ctx, plans)
    if gated is not None:
        return gated
    for p in plans:
        if p.state is PlanState.UP_TO_DATE:
            lines = stack_policy.ensure(ctx.aws.cfn(p.entry.region), p)
            if lines:
                say(*lines)
    for p in plans:  # stacks that first vacate a listener-rule priority this one takes
        p.after = around.after.get(p.entry.name, [])
    todo = [p for p in plans if p.has_changes()]
    if not todo:
        say("Nothing to apply: every stack is up to date.")
        return OK
    run = with_watched_dependants(plans, todo)
    watched = [p.entry.stack_name for p in run if p not in todo]
    if watched:
        say(f"Up to date now, planned again if their upstream outputs change: {', '.join(watched)}")
    return todo, run
