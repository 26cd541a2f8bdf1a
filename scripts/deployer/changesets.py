"""Planning one stack: resolve its parameters, create a change set, wait for it, judge it."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from . import bluegreen, emulator
from .aws import Aws, describe_stack, error_message
from .manifest import Manifest, StackEntry
from .render import dangerous
from .waiting import Waiter, wait_for_change_set

# AWS's reasons for a change set with nothing to do (it is then FAILED and must be deleted).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
SETTLED_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")


@dataclass
class Options:
    emulator: bool = False
    # The emulator was started by this command (--local) and stops with it: nothing outlives it.
    ephemeral: bool = False
    bucket: str | None = None
    keep: bool = False
    allow_replacement: bool = False


@dataclass
class Plan:
    entry: StackEntry
    kind: str = "UPDATE"  # CREATE or UPDATE
    state: str = "changes"  # changes | up to date | deferred | failed
    stack: dict | None = None  # the deployed stack before the change, if any
    change_set: dict | None = None
    api_parameters: list[dict] = field(default_factory=list)
    shown_parameters: dict[str, str] = field(default_factory=dict)
    waiting_on: list[str] = field(default_factory=list)
    reason: str = ""
    created_stack: bool = False  # the CREATE change set made an empty REVIEW_IN_PROGRESS stack
    emulated_skips: list[str] = field(default_factory=list)  # resources the emulator does not create

    @property
    def deployed_parameters(self) -> dict[str, str] | None:
        if not self.stack or self.kind == "CREATE":
            return None
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in self.stack.get("Parameters", [])}

    @property
    def deployed_tags(self) -> dict[str, str] | None:
        if not self.stack or self.kind == "CREATE":
            return None
        return {t["Key"]: t["Value"] for t in self.stack.get("Tags", [])}

    @property
    def refused(self) -> list[dict]:
        return [c for c in (self.change_set or {}).get("Changes", []) if dangerous(c)]

    @property
    def green_conflict(self) -> bluegreen.Conflict | None:
        return bluegreen.conflict(self.entry.template, (self.change_set or {}).get("Changes", []))

    def has_changes(self) -> bool:
        return self.state in ("changes", "deferred")


class Planner:
    """Plans stacks of one manifest; caches upstream outputs (invalidated after an upstream apply)."""

    def __init__(self, aws: Aws, manifest: Manifest, options: Options, waiter: Waiter):
        self.aws, self.manifest, self.options, self.waiter = aws, manifest, options, waiter
        self._outputs: dict[str, dict[str, str] | None] = {}
        self._lock = threading.Lock()

    def forget_outputs(self, name: str) -> None:
        with self._lock:
            self._outputs.pop(name, None)

    def outputs_of(self, name: str) -> dict[str, str] | None:
        with self._lock:
            if name in self._outputs:
                return self._outputs[name]
        upstream = self.manifest.by_name(name)
        stack = describe_stack(self.aws.cfn(upstream.region), upstream.stack_name)
        found = None
        if stack and stack["StackStatus"] in SETTLED_OK:
            found = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
        with self._lock:
            self._outputs[name] = found
        return found

    def _parameters(self, plan: Plan) -> None:
        entry = plan.entry
        deployed = plan.deployed_parameters or {}
        for key, value in sorted(entry.parameters.items()):
            if key in entry.kept_on_update:
                continue
            plan.api_parameters.append({"ParameterKey": key, "ParameterValue": value})
            plan.shown_parameters[key] = value
        for key in sorted(entry.kept_on_update):
            if plan.kind == "UPDATE" and key in deployed:
                plan.api_parameters.append({"ParameterKey": key, "UsePreviousValue": True})
                plan.shown_parameters[key] = "(kept at its deployed value)"
            else:
                plan.shown_parameters[key] = "(template default on create)"
        for key, ref in sorted(entry.parameters_from_outputs.items()):
            outputs = self.outputs_of(ref.stack)
            if outputs is None or ref.output not in outputs:
                plan.waiting_on.append(ref.stack)
                plan.shown_parameters[key] = f"(known after apply: {ref.stack}.{ref.output})"
            else:
                plan.api_parameters.append({"ParameterKey": key, "ParameterValue": outputs[ref.output]})
                plan.shown_parameters[key] = outputs[ref.output]
        plan.waiting_on = sorted(set(plan.waiting_on))

    def stale(self, plan: Plan) -> bool:
        """Whether the parameters resolved from upstream outputs now differ from those the plan was made with."""
        fresh = Plan(entry=plan.entry, kind=plan.kind, stack=plan.stack)
        self._parameters(fresh)
        return bool(fresh.waiting_on) or fresh.api_parameters != plan.api_parameters

    def replan(self, old: Plan, say) -> Plan:
        """Plan again (after an upstream apply). The old change set is deleted; an empty stack it
        made is kept for the new CREATE change set, and deleted with it if that is discarded."""
        if old.change_set:
            self.aws.cfn(old.entry.region).delete_change_set(ChangeSetName=old.change_set["ChangeSetId"])
            old.change_set = None
        new = self.plan(old.entry, say)
        new.created_stack = new.created_stack or (old.created_stack and new.kind == "CREATE")
        return new

    def _settle_busy(self, cfn, stack: dict, say) -> dict:
        """Never race another operation: wait for it to finish, then look again."""
        from .waiting import wait_for_stack

        say(f"{stack['StackName']}: busy in {stack['StackStatus']} (another operation); waiting for it to finish")
        settled, _ = wait_for_stack(cfn, stack["StackId"], None, self.waiter, lambda event: None)
        say(f"{stack['StackName']}: now {settled['StackStatus']}")
        return settled

    def plan(self, entry: StackEntry, say) -> Plan:
        cfn = self.aws.cfn(entry.region)
        stack = describe_stack(cfn, entry.stack_name)
        if self.options.emulator:
            stack = emulator.normalise_stack(stack)
        if stack and stack["StackStatus"].endswith("_IN_PROGRESS") and stack["StackStatus"] != "REVIEW_IN_PROGRESS":
            stack = self._settle_busy(cfn, stack, say)
        plan = Plan(entry=entry, stack=stack)
        status = stack["StackStatus"] if stack else None
        if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED"):
            plan.state = "failed"
            plan.reason = (
                f"stack is in {status} (its first create failed, or a delete failed) and cannot be updated; "
                f"delete it first: fargate-deploy destroy --env {self.manifest.env} --stack {entry.name}"
            )
            return plan
        plan.kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
        self._parameters(plan)
        if plan.waiting_on:
            plan.state = "deferred"
            return plan
        if self.options.emulator and status == "REVIEW_IN_PROGRESS":
            emulator.forget_review_stack(cfn, stack)
        self._create_change_set(cfn, plan)
        return plan

    def _create_change_set(self, cfn, plan: Plan) -> None:
        entry = plan.entry
        body = entry.body
        if self.options.emulator:
            body = emulator.template_for_emulator(entry.template, entry.region)
            plan.emulated_skips = emulator.unmodelled(entry.template)
        name = f"deploy-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        try:
            created = cfn.create_change_set(
                StackName=entry.stack_name,
                ChangeSetName=name,
                ChangeSetType=plan.kind,
                Parameters=plan.api_parameters,
                Capabilities=entry.capabilities,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(entry.tags.items())],
                Description="created by fargate-deploy",
                **self.aws.template_source(entry, body, self.options.bucket),
            )
        except ClientError as exc:
            if self.options.emulator and emulator.is_no_updates(exc):
                plan.state = "up to date"
                return
            plan.state, plan.reason = "failed", f"CreateChangeSet failed: {error_message(exc)}"
            return
        plan.created_stack = plan.kind == "CREATE" and plan.stack is None
        plan.change_set = wait_for_change_set(cfn, created["Id"], self.waiter)
        described = plan.change_set
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason") or "no reason given"
            if any(text in reason for text in NO_CHANGE_REASONS):
                plan.state = "up to date"
            else:
                plan.state, plan.reason = "failed", f"change set failed: {reason}"
            self.discard(plan, force=plan.state == "up to date")
        elif plan.kind == "UPDATE" and not described.get("Changes") and not self._param_or_tag_changes(plan):
            plan.state = "up to date"
            self.discard(plan, force=True)

    def _param_or_tag_changes(self, plan: Plan) -> bool:
        deployed = plan.deployed_parameters or {}
        for p in plan.api_parameters:
            if not p.get("UsePreviousValue") and deployed.get(p["ParameterKey"]) != p["ParameterValue"]:
                return True
        return plan.deployed_tags != plan.entry.tags

    def discard(self, plan: Plan, force: bool = False) -> None:
        """Delete the plan's change set (unless --keep and not forced), and the empty stack it created."""
        if not plan.change_set or (self.options.keep and not force):
            return
        cfn = self.aws.cfn(plan.entry.region)
        cfn.delete_change_set(ChangeSetName=plan.change_set["ChangeSetId"])
        if plan.created_stack:
            cfn.delete_stack(StackName=plan.change_set["StackId"])
        plan.change_set = None
