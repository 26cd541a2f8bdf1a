"""plan and apply: change sets for every selected stack, then execution in dependency order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from . import CHANGES, FAILED, OK, USAGE, bluegreen, emulator
from .aws import error_message
from .changesets import Plan
from .context import Context
from .render import change_table, event_line, local_add_table, outputs_lines, parameter_lines, say, tag_lines
from .waiting import Interrupted, WaitTimeout, failures, latest_event_id, wait_for_stack


def plan_lines(plan: Plan, discarded: bool = True) -> list[str]:
    entry = plan.entry
    heading = {
        "changes": "create" if plan.kind == "CREATE" else "update",
        "up to date": "up to date",
        "deferred": f"{'create' if plan.kind == 'CREATE' else 'update'} after {', '.join(plan.waiting_on)} (known after apply)",
        "failed": "FAILED",
    }[plan.state]
    lines = [f"== {entry.stack_name} ({entry.region}): {heading} =="]
    if plan.state == "failed":
        return [*lines, f"  {plan.reason}"]
    if plan.state == "up to date":
        return [*lines, "  no changes; the empty change set was deleted" if discarded else "  no changes"]
    if plan.state == "deferred":
        lines += local_add_table(entry) if plan.kind == "CREATE" else ["  resource changes: known after apply"]
    else:
        lines += change_table(plan.change_set.get("Changes", []))
    lines += parameter_lines(entry, plan.shown_parameters, plan.deployed_parameters)
    lines += tag_lines(entry.tags, plan.deployed_tags)
    for change in plan.refused:
        rc = change["ResourceChange"]
        verb = "removes" if rc["Action"] == "Remove" else f"replaces (Replacement: {rc.get('Replacement')})"
        lines.append(f"  !! this change set {verb} stateful {rc['ResourceType']} {rc['LogicalResourceId']}")
    if plan.state == "changes" and plan.green_conflict:
        lines += plan.green_conflict.lines()
    if plan.state == "changes" and plan.emulated_skips:
        lines.append(
            f"  emulator: moto does not model {', '.join(plan.emulated_skips)}; they are accepted but not created"
        )
    if plan.change_set and not plan.refused:
        lines.append(f"  change set: {plan.change_set['ChangeSetName']}")
    return lines


def _plan_all(ctx: Context) -> list[Plan]:
    """Change sets for independent stacks are created in parallel; they are shown in manifest order."""
    pool = ThreadPoolExecutor(max_workers=4)
    futures = [pool.submit(ctx.planner.plan, entry, say) for entry in ctx.manifest.selected]
    try:
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        ctx.waiter.stop.set()
        raise Interrupted([]) from None
    finally:
        pool.shutdown(wait=True)


def plan(ctx: Context) -> int:
    plans = _plan_all(ctx)
    for p in plans:
        say(*plan_lines(p), "")
        if p.state == "changes":
            ctx.planner.discard(p)
    if any(p.state == "failed" for p in plans):
        return FAILED
    changed = [p for p in plans if p.has_changes()]
    kept = " (change sets kept: --keep)" if ctx.options.keep and changed else ""
    say(f"Plan: {len(changed)} of {len(plans)} stacks would change{kept}.")
    return CHANGES if ctx.detailed_exitcode and changed else OK


def _refusals(ctx: Context, plans: list[Plan]) -> list[str]:
    if ctx.options.allow_replacement:
        return []
    return [p.entry.stack_name for p in plans if p.refused]


def _refusal_lines(ctx: Context, plans: list[Plan]) -> list[str]:
    """Why these change sets must not be executed (empty: they may be)."""
    lines = []
    refused = _refusals(ctx, plans)
    if refused:
        lines.append(
            f"Refused: {', '.join(refused)} would replace or remove stateful resources (marked !!). "
            "Review them, then re-run with --allow-replacement if that is intended."
        )
    for p in plans:
        found = p.green_conflict if p.state == "changes" else None
        if found:
            lines.append(bluegreen.refusal(p.entry.stack_name, found))
    return lines


def _with_watched_dependants(plans: list[Plan], todo: list[Plan]) -> list[Plan]:
    """todo, plus the up-to-date stacks downstream of it (in manifest order): their parameters come
    from outputs that the apply may change, so they are checked again when their upstream is done."""
    changing = {p.entry.name for p in todo}
    run = []
    for p in plans:
        if p.entry.name not in changing and p.state == "up to date" and changing & set(p.entry.depends_on):
            changing.add(p.entry.name)
        if p.entry.name in changing:
            run.append(p)
    return run


def apply(ctx: Context) -> int:
    plans = _plan_all(ctx)
    for p in plans:
        say(*plan_lines(p, discarded=True), "")
    failed = [p for p in plans if p.state == "failed"]
    refused = _refusal_lines(ctx, plans)
    if failed or refused:
        for p in plans:
            ctx.planner.discard(p, force=bool(refused) and not failed)
        say(*refused)
        return FAILED
    todo = [p for p in plans if p.has_changes()]
    if not todo:
        say("Nothing to apply: every stack is up to date.")
        return OK
    run = _with_watched_dependants(plans, todo)
    watched = [p.entry.stack_name for p in run if p not in todo]
    if watched:
        say(f"Up to date now, planned again if their upstream outputs change: {', '.join(watched)}")
    try:
        if not ctx.confirm(f"Apply changes to {len(todo)} stack(s) of {ctx.env}?"):
            say("Not applied.")
            for p in todo:
                ctx.planner.discard(p)
            return OK
    except Exception:
        for p in todo:
            ctx.planner.discard(p)
        raise
    return _execute_all(ctx, run)


class _Run:
    def __init__(self, ctx: Context, plans: list[Plan]):
        self.ctx = ctx
        self.done = {p.entry.name: threading.Event() for p in plans}
        self.ok: dict[str, bool] = {}
        self.started: list[str] = []  # operations running in CloudFormation while we wait
        self.lock = threading.Lock()

    def finish(self, name: str, ok: bool) -> None:
        self.ok[name] = ok
        self.done[name].set()

    def stack(self, plan: Plan) -> None:
        name = plan.entry.name
        try:
            upstream_ran = False
            for upstream in plan.entry.depends_on:
                if upstream in self.done:
                    while not self.done[upstream].wait(0.05):
                        if self.ctx.waiter.stop.is_set():
                            raise Interrupted()
                    if not self.ok.get(upstream):
                        say(f"== {plan.entry.stack_name}: not applied, because {upstream} did not deploy ==")
                        return self.finish(name, False)
                    self.ctx.planner.forget_outputs(upstream)
                    upstream_ran = True
            if plan.state == "deferred" or (upstream_ran and self.ctx.planner.stale(plan)):
                plan = self._replan(plan)
                if plan is None:
                    return None
            if plan.state != "changes":
                return self.finish(name, plan.state == "up to date")
            self.finish(name, self.execute(plan))
        except Interrupted:
            self.finish(name, False)
        except WaitTimeout as exc:
            say(
                f"{plan.entry.stack_name}: stopped waiting, {exc}. The operation goes on in CloudFormation; "
                f"watch it with: {self.ctx.watch_command([name])}"
            )
            self.finish(name, False)
        except Exception:
            self.finish(name, False)
            raise

    def _replan(self, old: Plan) -> Plan | None:
        """A new change set, built with the upstream outputs as they are now, shown and judged again
        before it may run; None when the stack is finished (not applicable, refused, or up to date)."""
        name = old.entry.name
        if old.state != "deferred":
            say(
                f"== {old.entry.stack_name}: upstream outputs changed; planning again (the old change set is deleted) =="
            )
        plan = self.ctx.planner.replan(old, say)
        say(*plan_lines(plan), "")
        if plan.state == "deferred":
            say(f"  {plan.entry.stack_name}: upstream outputs still missing: {', '.join(plan.waiting_on)}")
            self.finish(name, False)
            return None
        refused = _refusal_lines(self.ctx, [plan])
        if refused:
            self.ctx.planner.discard(plan, force=True)
            say(*refused)
            self.finish(name, False)
            return None
        if plan.state != "changes":
            self.finish(name, plan.state == "up to date")
            return None
        return plan

    def execute(self, plan: Plan) -> bool:
        entry, ctx = plan.entry, self.ctx
        if ctx.waiter.stop.is_set():
            return False
        cfn = ctx.aws.cfn(entry.region)
        stack_id = plan.change_set["StackId"]
        marker = latest_event_id(cfn, stack_id)
        say(f"== {entry.stack_name}: executing {plan.change_set['ChangeSetName']} ==")
        try:
            cfn.execute_change_set(ChangeSetName=plan.change_set["ChangeSetId"])
        except ClientError as exc:
            return self._execute_error(plan, exc)
        with self.lock:
            self.started.append(entry.name)
        stack, events = wait_for_stack(cfn, stack_id, marker, ctx.waiter, lambda e: say(event_line(entry.name, e)))
        with self.lock:
            self.started.remove(entry.name)
        status = stack["StackStatus"]
        if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
            self._report_failure(plan, stack, events)
            return False
        if ctx.options.emulator:
            emulator.refresh_outputs(cfn, stack_id, entry.capabilities)
            stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        if bool(stack.get("EnableTerminationProtection")) != entry.termination_protection:
            if ctx.options.emulator:
                say(f"  emulator: {emulator.NO_TERMINATION_PROTECTION}; not set on {entry.stack_name}")
            else:
                cfn.update_termination_protection(
                    StackName=stack_id, EnableTerminationProtection=entry.termination_protection
                )
        say(f"== {entry.stack_name}: {status} ==", *outputs_lines(stack), "")
        return True

    def _execute_error(self, plan: Plan, exc: ClientError) -> bool:
        entry, ctx = plan.entry, self.ctx
        cfn = ctx.aws.cfn(entry.region)
        if not ctx.options.emulator:
            say(f"== {entry.stack_name}: FAILED ==", f"  ExecuteChangeSet failed: {error_message(exc)}")
            return False
        stack = cfn.describe_stacks(StackName=plan.change_set["StackId"])["Stacks"][0]
        say(
            f"== {entry.stack_name}: FAILED ==",
            "  failed resources (the emulator reports no per-resource events; its error is the only reason):",
            f"    - {emulator.execute_failure(exc)}",
            f"  final status: {stack['StackStatus']} (the emulator does not roll back; resources it created may remain)",
        )
        if plan.kind == "CREATE":
            say(f"  clean up with: fargate-deploy destroy --env {ctx.env} --stack {entry.name}")
        return False

    def _report_failure(self, plan: Plan, stack: dict, events: list[dict]) -> None:
        entry = plan.entry
        lines = [f"== {entry.stack_name}: FAILED ==", "  failed resources:"]
        for event in failures(events) or []:
            lines.append(
                f"    - {event['LogicalResourceId']} ({event.get('ResourceType', '?')}): "
                f"{event['ResourceStatus']}: {event.get('ResourceStatusReason') or 'no reason given'}"
            )
        if len(lines) == 2:
            lines.append("    (no failed resource events)")
        reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
        lines.append(f"  final status: {stack['StackStatus']}{reason}")
        if plan.kind == "CREATE" and stack["StackStatus"] in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):
            lines.append("  the first create rolled back; the stack cannot be updated until it is deleted:")
            lines.append(f"  clean up with: fargate-deploy destroy --env {self.ctx.env} --stack {entry.name}")
        say(*lines)


def _execute_all(ctx: Context, plans: list[Plan]) -> int:
    run = _Run(ctx, plans)
    pool = ThreadPoolExecutor(max_workers=max(1, len(plans)))
    futures = [pool.submit(run.stack, p) for p in plans]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        ctx.waiter.stop.set()
        pool.shutdown(wait=True)
        running = list(run.started)
        raise Interrupted(running) from None
    pool.shutdown(wait=True)
    return OK if all(run.ok.get(p.entry.name) for p in plans) else FAILED


__all__ = ["USAGE", "apply", "plan", "plan_lines"]
