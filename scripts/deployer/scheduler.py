"""Applying several stacks: each in its own thread, started once every stack it depends on has
deployed, and every stack of the apply it must follow (``Plan.after``: it takes a listener-rule
priority that stack's rule leaves; deployer.environment_checks); a stack whose upstream outputs
changed is planned (and judged) again before it runs. Applying one stack is the executor's."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from . import FAILED, OK, day2, policy
from .context import Context
from .executor import InFlight, execute
from .plans import Plan, PlanState
from .render import plan_lines, refusal_lines
from .waiting import WaitInterruptedError, WaitTimeoutError

UPSTREAM_POLL = 0.05  # seconds between looks at an upstream's completion (and at Ctrl-C)


def with_watched_dependants(plans: list[Plan], todo: list[Plan]) -> list[Plan]:
    """todo, plus the up-to-date stacks downstream of it (in manifest order): their parameters come
    from outputs that the apply may change, so they are checked again when their upstream is done."""
    changing = {p.entry.name for p in todo}
    run = []
    for p in plans:
        if p.entry.name not in changing and p.state is PlanState.UP_TO_DATE and changing & set(p.entry.depends_on):
            changing.add(p.entry.name)
        if p.entry.name in changing:
            run.append(p)
    return run


class Run:
    """One apply's stacks: who is done, who succeeded, and whose operation is under way."""

    def __init__(self, ctx: Context, plans: list[Plan]):
        self.ctx = ctx
        self.done = {p.entry.name: threading.Event() for p in plans}
        self.ok: dict[str, bool] = {}
        self.in_flight = InFlight()
        self.executed: set[str] = set()  # deployed by this run: the planner holds their outputs as they are now

    def finish(self, name: str, ok: bool) -> None:
        self.ok[name] = ok
        self.done[name].set()

    def stack(self, plan: Plan) -> None:
        """Run one stack to its end (in its own thread): wait for upstreams, plan again if needed, execute."""
        name = plan.entry.name
        try:
            upstream_ran = self._wait_for_upstreams(plan)
            if upstream_ran is None:
                return self.finish(name, False)
            if plan.state is PlanState.DEFERRED or (upstream_ran and self.ctx.planner.stale(plan)):
                replanned = self._replan(plan)
                if replanned is None:
                    return None
                plan = replanned
            if plan.state is not PlanState.CHANGES:
                return self.finish(name, plan.state is PlanState.UP_TO_DATE)
            with self.ctx.slots:
                ok = execute(self.ctx, plan, self.in_flight)
            if ok:
                self.executed.add(name)
            self.finish(name, ok)
        except WaitInterruptedError:
            self.finish(name, False)
        except WaitTimeoutError as exc:
            self.ctx.reporter.say(
                f"{plan.entry.stack_name}: stopped waiting, {exc}. The operation goes on in CloudFormation; "
                f"watch it with: {self.ctx.watch_command([name])}"
            )
            self.finish(name, False)
        except Exception:
            self.finish(name, False)
            raise
        return None

    def _wait_for_upstreams(self, plan: Plan) -> bool | None:
        """Whether an upstream of this apply ran (its outputs are then read again); None when one failed.
        The stacks of ``plan.after`` are waited for too, though no output of theirs is read."""
        upstream_ran = False
        for upstream in dict.fromkeys([*plan.entry.depends_on, *plan.after]):
            if upstream not in self.done:
                continue
            while not self.done[upstream].wait(UPSTREAM_POLL):
                if self.ctx.waiter.stop.is_set():
                    raise WaitInterruptedError()
            if not self.ok.get(upstream):
                why = " (it was to free a listener-rule priority first)" if upstream in plan.after else ""
                self.ctx.reporter.say(
                    f"== {plan.entry.stack_name}: not applied, because {upstream} did not deploy{why} =="
                )
                return None
            if upstream in plan.entry.depends_on:
                if upstream not in self.executed:  # read again: they may have changed since planning
                    self.ctx.planner.forget_outputs(upstream)
                upstream_ran = True
        return upstream_ran

    def _replan(self, old: Plan) -> Plan | None:
        """A new change set, built with the upstream outputs as they are now, shown and judged again
        before it may run; None when the stack is finished (not applicable, refused, or up to date)."""
        name, say = old.entry.name, self.ctx.reporter.say
        if old.state is not PlanState.DEFERRED:
            say(
                f"== {old.entry.stack_name}: upstream outputs changed; "
                "planning again (the old change set is deleted) =="
            )
        plan = day2.inspect(self.ctx, self.ctx.planner.replan(old))
        say(*plan_lines(plan, colour=self.ctx.reporter.is_terminal), "")
        if plan.state is PlanState.DEFERRED:
            say(f"  {plan.entry.stack_name}: upstream outputs still missing: {', '.join(plan.waiting_on)}")
            self.finish(name, False)
            return None
        refusals = policy.refusals([plan], allow_replacement=self.ctx.options.allow_replacement, env=self.ctx.env)
        if refusals:
            self.ctx.planner.discard(plan, force=True)
            say(*refusal_lines(refusals))
            self.finish(name, False)
            return None
        if plan.state is not PlanState.CHANGES:
            self.finish(name, plan.state is PlanState.UP_TO_DATE)
            return None
        return plan


def execute_all(ctx: Context, plans: list[Plan]) -> int:
    """Run every plan, each stack as soon as its upstreams are done; Ctrl-C stops the waiting only."""
    run = Run(ctx, plans)
    pool = ThreadPoolExecutor(max_workers=max(1, len(plans)))
    futures = [pool.submit(run.stack, p) for p in plans]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        ctx.waiter.stop.set()
        pool.shutdown(wait=True)
        raise WaitInterruptedError(run.in_flight.names()) from None
    pool.shutdown(wait=True)
    return OK if all(run.ok.get(p.entry.name) for p in plans) else FAILED
