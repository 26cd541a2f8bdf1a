"""The stack policy of each stack (the manifest's ``stack_policy``): it lets every update through
but denies Update:Replace and Update:Delete on the stateful resources, so a replacement that slips
past the plan's review (or comes from another tool) fails with "Action denied by stack policy".
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html

apply sets it (SetStackPolicy) before executing every update, when the deployed one differs, and
after a first create succeeds, so it follows the manifest.

The override, ``--allow-replacement``: CreateChangeSet and ExecuteChangeSet take no temporary
policy (only UpdateStack has StackPolicyDuringUpdateBody), so for one execution the policy is
widened by exactly the protected resources that the reviewed change set replaces or removes (no
other protected resource loses its protection), set before ExecuteChangeSet, and the manifest's
policy is set back when the wait ends: on success, on failure, on a refused ExecuteChangeSet, and
on Ctrl-C or a timeout (``finally``). Restoring while the update still runs is deliberate: the
override was for an operation the user watches; if CloudFormation then denies the replacement,
the update rolls back, which is the safe side. When restoring fails, the exact AWS CLI command to
do it by hand is printed.
"""

from __future__ import annotations

import copy
import json
import shlex
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import error_message
from .plans import ChangeKind, Plan

PREFIX = "LogicalResourceId/"
MAY_REPLACE = ("True", "Conditional")


def body(policy: dict[str, Any]) -> str:
    return json.dumps(policy, sort_keys=True, separators=(",", ":"))


def _resources(statement: dict[str, Any]) -> list[str]:
    value = statement.get("Resource", [])
    return [value] if isinstance(value, str) else list(value)


def protected(policy: dict[str, Any] | None) -> list[str]:
    """Logical IDs that a Deny statement names."""
    found = []
    for statement in (policy or {}).get("Statement", []):
        if statement.get("Effect") == "Deny":
            found += [r[len(PREFIX) :] for r in _resources(statement) if r.startswith(PREFIX)]
    return sorted(set(found))


def widened(policy: dict[str, Any], logical_ids: list[str]) -> dict[str, Any]:
    """The policy without its denials for ``logical_ids`` (a Deny left with no resource goes)."""
    lifted = {PREFIX + logical_id for logical_id in logical_ids}
    result = copy.deepcopy(policy)
    statements = []
    for statement in result.get("Statement", []):
        if statement.get("Effect") == "Deny":
            kept = [r for r in _resources(statement) if r not in lifted]
            if not kept:
                continue
            statement["Resource"] = kept
        statements.append(statement)
    result["Statement"] = statements
    return result


def replaced_or_removed(plan: Plan) -> list[str]:
    """Protected logical IDs that the plan's change set removes or may replace."""
    guarded = set(protected(plan.entry.stack_policy))
    hit = []
    for change in plan.changes:
        rc = change.get("ResourceChange", {})
        replaces = rc.get("Action") == "Modify" and rc.get("Replacement") in MAY_REPLACE
        if (rc.get("Action") == "Remove" or replaces) and rc.get("LogicalResourceId") in guarded:
            hit.append(rc["LogicalResourceId"])
    return sorted(set(hit))


def restore_command(stack_name: str, region: str, policy: dict[str, Any]) -> str:
    return (
        f"aws cloudformation set-stack-policy --region {region} --stack-name {stack_name} "
        f"--stack-policy-body {shlex.quote(body(policy))}"
    )


class Guard:
    """The stack policy around one execution: ``before`` ExecuteChangeSet, ``after`` the wait
    (call it from ``finally``). Both return lines for the user."""

    def __init__(self, cfn: Any, plan: Plan, allow_replacement: bool):
        self.cfn, self.plan = cfn, plan
        self.wanted = plan.entry.stack_policy
        self.allow_replacement = allow_replacement
        self.lifted: list[str] = []

    def _summary(self) -> str:
        ids = protected(self.wanted)
        return f"denies replacement and removal of {len(ids)} resource(s): {', '.join(ids)}"

    def before(self) -> list[str]:
        """Before an update: the manifest's policy, or (--allow-replacement) the one widened for
        exactly what the change set replaces or removes. A create has no stack to hold one yet."""
        if self.wanted is None or self.plan.kind is ChangeKind.CREATE:
            return []
        stack_id = self.plan.ready_change_set()["StackId"]
        self.lifted = replaced_or_removed(self.plan) if self.allow_replacement else []
        if self.lifted:
            self.cfn.set_stack_policy(StackName=stack_id, StackPolicyBody=body(widened(self.wanted, self.lifted)))
            return [
                f"stack policy: lifted for this execution only (--allow-replacement) on {', '.join(self.lifted)}, "
                "which the reviewed change set replaces or removes; restored when it ends"
            ]
        if _holds(self.cfn, stack_id, self.wanted):
            return [f"stack policy: in place, {self._summary()}"]
        self.cfn.set_stack_policy(StackName=stack_id, StackPolicyBody=body(self.wanted))
        return [f"stack policy: set, {self._summary()}"]

    def after(self, settled: dict[str, Any] | None) -> list[str]:
        """After the wait (``settled``: the stack as it ended, None when the wait did not end):
        restore the policy an override widened, or set it on a stack just created."""
        if self.wanted is None:
            return []
        entry = self.plan.entry
        if self.plan.kind is ChangeKind.CREATE:
            if not settled or settled["StackStatus"] != "CREATE_COMPLETE":
                return []  # nothing to protect; the next apply sets it before its first update
            verb = "set"
        elif self.lifted:
            verb = "restored"
        else:
            return []
        stack_id = self.plan.ready_change_set()["StackId"]
        try:
            self.cfn.set_stack_policy(StackName=stack_id, StackPolicyBody=body(self.wanted))
        except (ClientError, BotoCoreError) as exc:
            reason = error_message(exc) if isinstance(exc, ClientError) else str(exc)
            return [
                f"  stack policy NOT {verb}: SetStackPolicy failed: {reason}",
                "  set it by hand: " + restore_command(entry.stack_name, entry.region, self.wanted),
            ]
        return [f"stack policy: {verb}, {self._summary()}"]


def ensure(cfn: Any, plan: Plan) -> list[str]:
    """For a deployed stack that is up to date: set the manifest's policy when the stack holds
    another one (or none), so that stacks created by an earlier out/ get it without waiting for
    their next change. Lines for the user; none when nothing changed."""
    wanted = plan.entry.stack_policy
    if wanted is None or not plan.stack or plan.kind is ChangeKind.CREATE:
        return []
    stack_id = plan.stack["StackId"]
    if _holds(cfn, stack_id, wanted):
        return []
    cfn.set_stack_policy(StackName=stack_id, StackPolicyBody=body(wanted))
    ids = protected(wanted)
    return [
        f"{plan.entry.stack_name}: stack policy set (the stack had none or another), denies replacement and "
        f"removal of {len(ids)} resource(s): {', '.join(ids)}"
    ]


def _holds(cfn: Any, stack_id: str, wanted: dict[str, Any]) -> bool:
    """Whether the deployed stack's policy (GetStackPolicy) is ``wanted``."""
    current = cfn.get_stack_policy(StackName=stack_id).get("StackPolicyBody")
    if current is None:
        return False
    try:
        return bool(json.loads(current) == json.loads(body(wanted)))
    except ValueError:
        return False
