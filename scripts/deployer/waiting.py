"""Waiting for stacks and change sets: a fast-then-backing-off poll, new events, failure summaries.

The AWS CLI's `deploy` polls every 30 s, so a two-second update is noticed up to 30 s late. Here
the first poll is immediate and the delay grows from 0.25 s to a cap of 4 s: a settled stack is
noticed within about 4 s (plus one request) however long the operation ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

FIRST_DELAY = 0.25
BACKOFF = 1.6
MAX_DELAY = 4.0
DEFAULT_TIMEOUT = 3600.0


def poll_delays() -> Iterator[float]:
    """Delays between polls: 0.25, 0.4, 0.64, ... capped at MAX_DELAY (used by the benchmark too)."""
    delay = FIRST_DELAY
    while True:
        yield delay
        delay = min(delay * BACKOFF, MAX_DELAY)


def worst_notice_delay(operation_seconds: float) -> float:
    """Longest time between a stack settling at `operation_seconds` and the next poll."""
    elapsed, worst = 0.0, 0.0
    delays = poll_delays()
    while True:
        delay = next(delays)
        if elapsed >= operation_seconds:
            return max(worst, delay)
        worst = delay
        elapsed += delay


class WaitInterruptedError(Exception):
    """The user stopped waiting (Ctrl-C); the CloudFormation operation goes on. Its argument, when
    given, names the stacks whose operations were under way."""


class WaitTimeoutError(Exception):
    def __init__(self, status: str, seconds: float):
        super().__init__(f"still {status} after {seconds:.0f} s")
        self.status = status


@dataclass
class Waiter:
    """Shared by the threads of one run: `stop` is set on Ctrl-C; clock and sleep are injectable."""

    stop: threading.Event = field(default_factory=threading.Event)
    timeout: float = DEFAULT_TIMEOUT
    clock: Callable[[], float] = time.monotonic

    def pause(self, delay: float) -> None:
        if self.stop.wait(delay):
            raise WaitInterruptedError()


def latest_event_id(cfn: Any, stack_id: str) -> str | None:
    events = cfn.describe_stack_events(StackName=stack_id).get("StackEvents", [])
    return events[0]["EventId"] if events else None


def events_since(cfn: Any, stack_id: str, marker: str | None) -> list[dict[str, Any]]:
    """Events newer than `marker`, oldest first (DescribeStackEvents pages newest first)."""
    found: list[dict[str, Any]] = []
    token = None
    while True:
        args = {"StackName": stack_id, **({"NextToken": token} if token else {})}
        page = cfn.describe_stack_events(**args)
        for event in page.get("StackEvents", []):
            if event["EventId"] == marker:
                return found[::-1]
            found.append(event)
        token = page.get("NextToken")
        if not token or marker is None:
            return found[::-1]


def wait_for_stack(
    cfn: Any, stack_id: str, marker: str | None, waiter: Waiter, on_event: Callable[[dict[str, Any]], None]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Poll until the stack leaves *_IN_PROGRESS; report each new event; return (stack, all new events)."""
    start = waiter.clock()
    seen: list[dict[str, Any]] = []
    delays = poll_delays()
    while True:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        fresh = events_since(cfn, stack_id, marker)
        for event in fresh:
            on_event(event)
        if fresh:
            marker = fresh[-1]["EventId"]
            seen.extend(fresh)
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack, seen
        if waiter.clock() - start > waiter.timeout:
            raise WaitTimeoutError(stack["StackStatus"], waiter.clock() - start)
        waiter.pause(next(delays))


def wait_for_change_set(cfn: Any, change_set_id: str, waiter: Waiter) -> dict[str, Any]:
    """Poll DescribeChangeSet until it leaves CREATE_PENDING/CREATE_IN_PROGRESS; return it with all Changes,
    with their property values (IncludePropertyValues: BeforeContext/AfterContext, BeforeValue/AfterValue)."""
    start = waiter.clock()
    delays = poll_delays()
    while True:
        described: dict[str, Any] = cfn.describe_change_set(ChangeSetName=change_set_id, IncludePropertyValues=True)
        if described["Status"] not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            changes = list(described.get("Changes", []))
            token = described.get("NextToken")
            while token:
                page = cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token, IncludePropertyValues=True)
                changes.extend(page.get("Changes", []))
                token = page.get("NextToken")
            described["Changes"] = changes
            return described
        if waiter.clock() - start > waiter.timeout:
            raise WaitTimeoutError(described["Status"], waiter.clock() - start)
        waiter.pause(next(delays))


def failures(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resource events that failed, excluding the stack's own summary and cancellation noise."""
    return [
        e
        for e in events
        if e["ResourceStatus"].endswith("_FAILED")
        and e.get("ResourceType") != "AWS::CloudFormation::Stack"
        and "cancelled" not in (e.get("ResourceStatusReason") or "").lower()
    ] or [
        e
        for e in events
        if e["ResourceStatus"].endswith("_FAILED") and e.get("ResourceType") != "AWS::CloudFormation::Stack"
    ]
