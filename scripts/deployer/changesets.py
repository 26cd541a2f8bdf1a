"""Planning one stack: resolve its parameters, create a change set, wait for it, judge it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from . import day2, update_rules
from .aws import Aws, describe_stack, error_message
from .manifest import Manifest, StackEntry
from .plans import ChangeKind, Plan, PlanState
from .provider import Provider
from .reporter import Reporter
from .rollback import configuration as rollback_configuration
from .waiting import Waiter, wait_for_change_set, wait_for_stack

# AWS's reasons for a change set with nothing to do (it is then FAILED and must be deleted).
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")
SETTLED_OK = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE")
# A stack in one of these states cannot be updated (a failed first create, or a failed delete);
# it must be deleted first.
UNUSABLE = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED", "CREATE_FAILED")
# A stack in one of these states runs what its last template says: if that is what would be sent,
# with the same parameters and tags, it is up to date without a change set.
UNCHANGED_CHECKABLE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")


@dataclass
class Options:
    bucket: str | None = None
    keep: bool = False
    allow_replacement: bool = False
    allow_widening: bool = False  # apply: execute updates that widen access (deployer.widening)


class Planner:
    """Plans stacks of one manifest; caches upstream outputs (invalidated after an upstream apply)."""

    def __init__(
        self, aws: Aws, manifest: Manifest, options: Options, waiter: Waiter, provider: Provider, reporter: Reporter
    ):
        self.aws, self.manifest, self.options, self.waiter = aws, manifest, options, waiter
        self.provider, self.reporter = provider, reporter
        self._outputs: dict[str, dict[str, str] | None] = {}
        self._describing: dict[str, threading.Event] = {}  # stacks whose planning is describing them now
        self._lock = threading.Lock()

    def forget_outputs(self, name: str) -> None:
        with self._lock:
            self._outputs.pop(name, None)

    def remember_outputs(self, name: str, stack: dict[str, Any] | None, *, replace: bool = True) -> None:
        """The outputs of a stack as a DescribeStacks of this run showed them (planning it, or the final one
        after deploying it): its dependants are planned with them without describing it again.
        ``replace=False``: only if none are known yet."""
        with self._lock:
            if replace or name not in self._outputs:
                self._outputs[name] = _outputs(stack)

    def outputs_of(self, name: str) -> dict[str, str] | None:
        with self._lock:
            if name in self._outputs:
                return self._outputs[name]
            described = self._describing.get(name)
        if described:  # its own planning is describing it: that description serves here too
            described.wait()
            with self._lock:
                if name in self._outputs:
                    return self._outputs[name]
        upstream = self.manifest.by_name(name)
        found = _outputs(describe_stack(self.aws.cfn(upstream.region), upstream.stack_name))
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
            if plan.kind is ChangeKind.UPDATE and key in deployed:
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

    def replan(self, old: Plan) -> Plan:
        """Plan again (after an upstream apply). The old change set is deleted; an empty stack it
        made is kept for the new CREATE change set, and deleted with it if that is discarded."""
        if old.change_set:
            self.aws.cfn(old.entry.region).delete_change_set(ChangeSetName=old.change_set["ChangeSetId"])
            old.change_set = None
        new = self.plan(old.entry)
        new.created_stack = new.created_stack or (old.created_stack and new.kind is ChangeKind.CREATE)
        return new

    def _settle_busy(self, cfn: Any, stack: dict[str, Any]) -> dict[str, Any]:
        """Never race another operation: wait for it to finish, then look again."""
        say = self.reporter.say
        say(f"{stack['StackName']}: busy in {stack['StackStatus']} (another operation); waiting for it to finish")
        settled, _ = wait_for_stack(cfn, stack["StackId"], None, self.waiter, lambda event: None)
        say(f"{stack['StackName']}: now {settled['StackStatus']}")
        return settled

    def _described(self, cfn: Any, entry: StackEntry) -> dict[str, Any] | None:
        """The stack, settled; what its dependants' planning reads of it too, unless they read it already
        (it is the same moment: planning)."""
        described = threading.Event()
        with self._lock:
            self._describing.setdefault(entry.name, described)
        try:
            stack = self.provider.describe_stack(cfn, entry.stack_name)
            if stack and stack["StackStatus"].endswith("_IN_PROGRESS") and stack["StackStatus"] != "REVIEW_IN_PROGRESS":
                stack = self._settle_busy(cfn, stack)
            self.remember_outputs(entry.name, stack, replace=False)
            return stack
        finally:
            described.set()
            with self._lock:
                if self._describing.get(entry.name) is described:
                    del self._describing[entry.name]

    def plan(self, entry: StackEntry) -> Plan:
        cfn = self.aws.cfn(entry.region)
        return self._plan(cfn, entry, self._described(cfn, entry))

    def plan_if_deployed(self, entry: StackEntry) -> Plan | None:
        """The plan of a stack that holds resources; None, and no change set made, when there is no stack
        or only the empty one of a CREATE change set (REVIEW_IN_PROGRESS)."""
        cfn = self.aws.cfn(entry.region)
        stack = self._described(cfn, entry)
        if not stack or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            return None
        return self._plan(cfn, entry, stack)

    def _plan(self, cfn: Any, entry: StackEntry, stack: dict[str, Any] | None) -> Plan:
        plan = Plan(entry=entry, stack=stack)
        status = stack["StackStatus"] if stack else None
        if status in UNUSABLE:
            plan.state = PlanState.FAILED
            plan.reason = (
                f"stack is in {status} (its first create failed, or a delete failed) and cannot be updated; "
                f"delete it first: fargate-deploy destroy --env {self.manifest.env} --stack {entry.name}"
            )
            return plan
        plan.kind = ChangeKind.CREATE if status in (None, "REVIEW_IN_PROGRESS") else ChangeKind.UPDATE
        self._parameters(plan)
        if plan.waiting_on:
            plan.state = PlanState.DEFERRED
            return plan
        if stack and status == "REVIEW_IN_PROGRESS":
            self.provider.prepare_review_stack(cfn, stack)
        if status in UNCHANGED_CHECKABLE and self._matches_deployed(cfn, plan):
            plan.state = PlanState.UP_TO_DATE
            plan.reason = "no changes: the stack runs this template with these parameters and tags (no change set made)"
            return plan
        self._create_change_set(cfn, plan)
        return plan

    def _matches_deployed(self, cfn: Any, plan: Plan) -> bool:
        """Whether the stack already runs exactly what the change set would send: the template body
        (as the provider sends it; GetTemplate, Original stage), every parameter's value (the template
        defaults included) and the tags. A NoEcho parameter's deployed value cannot be read: then
        only a change set can tell. Any doubt (or error) is False: the change set decides."""
        entry = plan.entry
        try:
            deployed_template = day2.deployed_template(cfn, entry.stack_name)
        except (ClientError, ValueError):
            return False
        sent = self.provider.sent_template(entry)
        # Kept on the plan: day2.inspect judges an update on the same two templates (one GetTemplate).
        plan.deployed_template, plan.sent_template = deployed_template, sent
        declared = entry.template.get("Parameters") or {}
        if entry.no_echo() or plan.deployed_tags != entry.tags:
            return False
        if any(str(p.get("Type", "")).startswith("AWS::SSM::Parameter::Value") for p in declared.values()):
            return False  # resolved again by every update: only a change set shows a new value
        if deployed_template != sent:
            return False
        deployed = update_rules.effective_parameters(deployed_template, plan.deployed_parameters or {})
        return deployed == update_rules.effective_parameters(sent, day2.new_parameters(plan))

    def _create_change_set(self, cfn: Any, plan: Plan) -> None:
        entry = plan.entry
        plan.provider_notes = self.provider.plan_notes(entry)
        import uuid  # here: uuid loads platform (~5 ms of a command that makes no change set)

        name = f"deploy-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        extra = self._day2_arguments(cfn, plan)
        try:
            created = cfn.create_change_set(
                **extra,
                StackName=entry.stack_name,
                ChangeSetName=name,
                ChangeSetType=plan.kind.value,
                Parameters=plan.api_parameters,
                Capabilities=entry.capabilities,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(entry.tags.items())],
                Description="created by fargate-deploy",
                **self.aws.template_source(entry, self.provider.prepare_template(entry), self.options.bucket),
            )
        except ClientError as exc:
            if self.provider.is_no_updates(exc):
                plan.state = PlanState.UP_TO_DATE
                return
            plan.state, plan.reason = PlanState.FAILED, f"CreateChangeSet failed: {error_message(exc)}"
            return
        plan.created_stack = plan.kind is ChangeKind.CREATE and plan.stack is None
        plan.change_set = described = wait_for_change_set(cfn, created["Id"], self.waiter)
        if described["Status"] == "FAILED":
            reason = described.get("StatusReason") or "no reason given"
            if any(text in reason for text in NO_CHANGE_REASONS):
                plan.state = PlanState.UP_TO_DATE
            else:
                plan.state, plan.reason = PlanState.FAILED, f"change set failed: {reason}"
            self.discard(plan, force=plan.state is PlanState.UP_TO_DATE)
        elif plan.kind is ChangeKind.UPDATE and not described.get("Changes") and not self._param_or_tag_changes(plan):
            plan.state = PlanState.UP_TO_DATE
            self.discard(plan, force=True)

    def _day2_arguments(self, cfn: Any, plan: Plan) -> dict[str, Any]:
        """CreateChangeSet's adoption of retained resources (CREATE only) and rollback triggers."""
        extra: dict[str, Any] = {}
        plan.rollback_configuration, plan.safety_lines = rollback_configuration(cfn, plan)
        if plan.rollback_configuration is not None:
            extra["RollbackConfiguration"] = plan.rollback_configuration
        if plan.kind is ChangeKind.CREATE and plan.entry.adoptable_resources:
            # Adopts what an earlier incarnation of the stack retained (named, DeletionPolicy Retain),
            # instead of failing with "already exists"; the change set shows it as Import.
            # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/import-resources-automatically.html
            extra["ImportExistingResources"] = True
            plan.safety_lines.append(
                f"retained resources: {', '.join(plan.entry.adoptable_resources)} adopted if an earlier stack "
                "left them behind (ImportExistingResources)"
            )
        return extra

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


def _outputs(stack: dict[str, Any] | None) -> dict[str, str] | None:
    """A stack's outputs by key; None when it is not there or not settled (they are not known yet)."""
    if not stack or stack["StackStatus"] not in SETTLED_OK:
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs") or []}
