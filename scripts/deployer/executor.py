"""Applying one stack: execute its change set, wait for the stack to settle, report the failure or
the outputs, and set termination protection and the stack policy (which change sets do not carry;
the stack policy's --allow-replacement override is ``stack_policy.Guard``'s)."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError

from .context import Context
from .plans import ChangeKind, Plan
from .render import event_line, outputs_lines
from .stack_policy import Guard
from .waiting import failures, latest_event_id, wait_for_stack

SUCCEEDED = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
# The status of a stack that a CREATE change set made, until the change set is executed.
REVIEW = "REVIEW_IN_PROGRESS"
# A first create that rolled back leaves a stack that can only be deleted.
ROLLED_BACK_CREATE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
# The resource status reason of an update the stack policy refused (UPDATE_FAILED).
DENIED = "Action denied by stack policy"


class InFlight:
    """Stacks whose CloudFormation operation was started and is being waited for. A stack stays
    listed if the wait is interrupted: its operation goes on, and Ctrl-C's advice names it."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self._lock = threading.Lock()

    def add(self, name: str) -> None:
        with self._lock:
            self._names.append(name)

    def remove(self, name: str) -> None:
        with self._lock:
            self._names.remove(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._names)


def execute(ctx: Context, plan: Plan, in_flight: InFlight) -> bool:
    """Execute the plan's change set and wait for it; True when the stack is deployed."""
    entry, say = plan.entry, ctx.reporter.say
    if ctx.waiter.stop.is_set():
        return False
    cfn = ctx.aws.cfn(entry.region)
    change_set = plan.ready_change_set()
    stack_id = change_set["StackId"]
    # A stack made by this plan's own CREATE change set holds one event, its REVIEW_IN_PROGRESS (CloudFormation
    # creates it in that state for the change set): no marker to look up, and that event is not shown.
    fresh_stack = plan.created_stack
    marker = None if fresh_stack else latest_event_id(cfn, stack_id)
    say(f"== {entry.stack_name}: executing {change_set['ChangeSetName']} ==", *plan.safety_lines)
    guard = Guard(cfn, plan, ctx.options.allow_replacement)
    say(*guard.before())
    settled = None
    try:
        try:
            cfn.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
        except ClientError as exc:
            say(*_execute_error_lines(ctx, plan, exc))
            return False
        in_flight.add(entry.name)
        settled, events = wait_for_stack(
            cfn,
            stack_id,
            marker,
            ctx.waiter,
            lambda e: None if fresh_stack and e["ResourceStatus"] == REVIEW else say(event_line(entry.name, e)),
        )
        in_flight.remove(entry.name)
    finally:
        # The override lasts one execution: restored however it ends (failure, Ctrl-C, timeout).
        say(*guard.after(settled))
    stack = settled
    if stack["StackStatus"] not in SUCCEEDED:
        say(*_failure_lines(ctx, plan, stack, events))
        return False
    status = stack["StackStatus"]
    lines, complete = ctx.provider.complete_execution(ctx.aws, stack, entry)
    if not complete:
        say(f"== {entry.stack_name}: FAILED ==", *lines)
        return False
    say(*lines)
    stack = ctx.provider.after_execute(cfn, stack, entry)
    if bool(stack.get("EnableTerminationProtection")) != entry.termination_protection:
        say(*ctx.provider.set_termination_protection(cfn, stack_id, entry))
    ctx.planner.remember_outputs(entry.name, stack)
    say(f"== {entry.stack_name}: {status} ==", *outputs_lines(stack), "")
    return True


def _cleanup_line(ctx: Context, plan: Plan) -> str:
    return f"  clean up with: fargate-deploy destroy --env {ctx.env} --stack {plan.entry.name}"


def _execute_error_lines(ctx: Context, plan: Plan, exc: ClientError) -> list[str]:
    failure = ctx.provider.execute_failure(ctx.aws.cfn(plan.entry.region), plan.ready_change_set()["StackId"], exc)
    lines = [f"== {plan.entry.stack_name}: FAILED ==", *failure.lines]
    if failure.stack_left and plan.kind is ChangeKind.CREATE:
        lines.append(_cleanup_line(ctx, plan))
    return lines


def _failure_lines(ctx: Context, plan: Plan, stack: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    """The failed resources first (the cause), then the final status and what to do about it."""
    lines = [f"== {plan.entry.stack_name}: FAILED ==", "  failed resources:"]
    for event in failures(events):
        lines.append(
            f"    - {event['LogicalResourceId']} ({event.get('ResourceType', '?')}): "
            f"{event['ResourceStatus']}: {event.get('ResourceStatusReason') or 'no reason given'}"
        )
    if len(lines) == 2:
        lines.append("    (no failed resource events)")
    reason = f" ({stack['StackStatusReason']})" if stack.get("StackStatusReason") else ""
    lines.append(f"  final status: {stack['StackStatus']}{reason}")
    if any(DENIED in (e.get("ResourceStatusReason") or "") for e in failures(events)):
        lines.append(
            "  the stack policy protects these resources from replacement and removal; if the change set's "
            "replacement is intended, review it with plan and apply with --allow-replacement"
        )
    if plan.kind is ChangeKind.CREATE and stack["StackStatus"] in ROLLED_BACK_CREATE:
        lines.append("  the first create rolled back; the stack cannot be updated until it is deleted:")
        lines.append(_cleanup_line(ctx, plan))
    return lines
