"""drift: what was changed on deployed stacks outside CloudFormation, with the drifts a release makes
on purpose marked as expected.

Per stack: DetectStackDrift, then DescribeStackDriftDetectionStatus until DETECTION_COMPLETE or
DETECTION_FAILED, then DescribeStackResourceDrifts (MODIFIED and DELETED resources) with each
PropertyDifference as "path: expected -> actual". Detections of all stacks run at the same time.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackDrift.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackResourceDrifts.html

Exit codes: 0 in sync, or only expected drift; 3 unexpected drift; 1 a detection failed (or a stack
is not deployed, or CloudFormation refused the detection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from . import CHANGES, FAILED, OK
from .aws import describe_stack, error_message
from .context import Context
from .manifest import StackEntry
from .waiting import WaitTimeoutError, poll_delays

LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
LISTENER_RULE = "AWS::ElasticLoadBalancingV2::ListenerRule"
SERVICE = "AWS::ECS::Service"
DRIFT_FILTER = ["MODIFIED", "DELETED"]
# ECS-native blue/green (engine ecs) moves traffic by rewriting the forward weights of its listener rules.
RULE_WEIGHT = re.compile(r"^/Actions/\d+/ForwardConfig/TargetGroups/\d+/Weight$")


@dataclass
class ResourceDrift:
    logical_id: str
    resource_type: str
    status: str  # MODIFIED or DELETED
    differences: list[dict[str, str]] = field(default_factory=list)
    expected_because: str | None = None  # set when every difference is one a release makes


@dataclass
class StackDrift:
    entry: StackEntry
    status: str = "NOT_CHECKED"  # StackDriftStatus: IN_SYNC, DRIFTED, UNKNOWN, NOT_CHECKED
    failure: str | None = None
    resources: list[ResourceDrift] = field(default_factory=list)

    @property
    def unexpected(self) -> list[ResourceDrift]:
        return [r for r in self.resources if not r.expected_because]


def _blue_green(template: dict[str, Any]) -> tuple[bool, bool]:
    """(traffic moved on listeners by CodeDeploy, traffic weights owned by ECS) for this template."""
    transform = template.get("Transform", [])
    transforms = transform if isinstance(transform, list) else [transform]
    resources = template.get("Resources", {}).values()
    codedeploy = "AWS::CodeDeployBlueGreen" in transforms or any(
        r.get("Type") == "AWS::CodeDeploy::DeploymentGroup" for r in resources
    )
    ecs_owned = any(
        r.get("Type") == SERVICE
        and (r.get("Properties", {}).get("DeploymentController") or {}).get("Type") == "ECS"
        and (r.get("Properties", {}).get("DeploymentConfiguration") or {}).get("Strategy", "ROLLING") != "ROLLING"
        for r in resources
    )
    return codedeploy, ecs_owned


def expected_reason(resource_type: str, path: str, template: dict[str, Any]) -> str | None:
    """Why a release legitimately changes this property outside the stack; None when it does not."""
    codedeploy, ecs_owned = _blue_green(template)
    if resource_type == SERVICE and path.startswith("/TaskDefinition"):
        return "releases register task definition revisions outside the stack"
    if resource_type == LISTENER and path.startswith("/DefaultActions") and codedeploy:
        return "CodeDeploy moved production traffic to the other target group"
    if resource_type == LISTENER_RULE and RULE_WEIGHT.match(path) and ecs_owned:
        return "ECS blue/green owns the listener rule's target group weights"
    if resource_type == LISTENER_RULE and path.startswith("/Actions") and codedeploy and _own_rules(template):
        # A service on shared listeners (services: in params): CodeDeploy moves its rules, not a listener.
        return "CodeDeploy moved the service's traffic to the other target group (its listener rule)"
    return None


def _own_rules(template: dict[str, Any]) -> bool:
    return any(r.get("Type") == LISTENER_RULE for r in template.get("Resources", {}).values())


def _judge(raw: dict[str, Any], template: dict[str, Any]) -> ResourceDrift:
    drift = ResourceDrift(
        raw["LogicalResourceId"],
        raw.get("ResourceType", "?"),
        raw["StackResourceDriftStatus"],
        list(raw.get("PropertyDifferences") or []),
    )
    if drift.status == "MODIFIED" and drift.differences:
        reasons = {expected_reason(drift.resource_type, d["PropertyPath"], template) for d in drift.differences}
        if None not in reasons:
            drift.expected_because = "; ".join(sorted(r for r in reasons if r))
    return drift


def _start(ctx: Context, entry: StackEntry) -> tuple[StackDrift, str | None]:
    result = StackDrift(entry)
    cfn = ctx.aws.cfn(entry.region)
    try:
        stack = describe_stack(cfn, entry.stack_name)
        if not stack or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            result.failure = "not deployed"
            return result, None
        detection: str = cfn.detect_stack_drift(StackName=stack["StackId"])["StackDriftDetectionId"]
        return result, detection
    except ClientError as exc:
        result.failure = f"DetectStackDrift failed: {error_message(exc)}"
        return result, None


def _finish(ctx: Context, result: StackDrift, detection: str) -> None:
    cfn = ctx.aws.cfn(result.entry.region)
    start, delays = ctx.waiter.clock(), poll_delays()
    try:
        while True:
            status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
            if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
                break
            if ctx.waiter.clock() - start > ctx.waiter.timeout:
                raise WaitTimeoutError(status["DetectionStatus"], ctx.waiter.clock() - start)
            ctx.waiter.pause(next(delays))
        result.status = status.get("StackDriftStatus", "UNKNOWN")
        if status["DetectionStatus"] == "DETECTION_FAILED":
            # Results still come for the resources whose detection completed (API reference).
            result.failure = f"detection failed: {status.get('DetectionStatusReason') or 'no reason given'}"
        template = ctx.provider.sent_template(result.entry)
        token = None
        while True:
            args: dict[str, Any] = {"StackName": status["StackId"], "StackResourceDriftStatusFilters": DRIFT_FILTER}
            page = cfn.describe_stack_resource_drifts(**args, **({"NextToken": token} if token else {}))
            result.resources += [_judge(r, template) for r in page.get("StackResourceDrifts", [])]
            token = page.get("NextToken")
            if not token:
                break
    except (ClientError, WaitTimeoutError) as exc:
        reason = error_message(exc) if isinstance(exc, ClientError) else str(exc)
        result.failure = f"drift detection did not finish: {reason}"


def report_lines(result: StackDrift) -> list[str]:
    name = result.entry.stack_name
    if result.failure and not result.resources:
        return [f"== {name}: {result.failure} =="]
    drifted = len(result.resources)
    head = f"== {name}: {result.status}" + (f" ({drifted} resource(s))" if drifted else "") + " =="
    lines = [head] + ([f"  {result.failure}"] if result.failure else [])
    for r in result.resources:
        mark = f"expected: {r.expected_because}" if r.expected_because else "UNEXPECTED"
        sign = "-" if r.status == "DELETED" else "~"
        lines.append(f"  {sign} {r.logical_id} ({r.resource_type}) {r.status} [{mark}]")
        for d in r.differences:
            kind = "" if d.get("DifferenceType") in (None, "NOT_EQUAL") else f" ({d['DifferenceType']})"
            lines.append(f"      {d['PropertyPath']}{kind}: {d.get('ExpectedValue')} -> {d.get('ActualValue')}")
    return lines


def drift(ctx: Context) -> int:
    say = ctx.reporter.say
    started = [_start(ctx, entry) for entry in ctx.manifest.selected]
    for result, detection in started:
        if detection:
            _finish(ctx, result, detection)
        say(*report_lines(result))
    results = [r for r, _ in started]
    unexpected = sum(len(r.unexpected) for r in results)
    expected = sum(len(r.resources) for r in results) - unexpected
    failed = [r.entry.stack_name for r in results if r.failure]
    say(
        f"Drift: {unexpected} unexpected, {expected} expected (made by releases) drifted resource(s) "
        f"in {len(results)} stack(s)" + (f"; detection failed for {', '.join(failed)}" if failed else "") + "."
    )
    if unexpected:
        say(
            "Unexpected drift: CloudFormation does not undo it by itself. Find who changed it, then revert it by hand, "
            "or put the change into params/ and deploy it."
        )
    if failed:
        return FAILED
    return CHANGES if unexpected else OK
