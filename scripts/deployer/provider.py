"""The deployment target behind the commands: CloudFormation itself, or a local emulator.

Every place where a target differs from CloudFormation is one method of ``Provider``; the commands
call it and never ask which target they talk to. ``AwsProvider`` is CloudFormation as documented;
``deployer.emulator.EmulatorProvider`` closes moto's gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from .aws import Aws, describe_stack, error_message
from .manifest import StackEntry


@dataclass(frozen=True)
class ExecuteFailure:
    """Why ExecuteChangeSet itself failed, as lines for the user, and whether it may have left a
    half-created stack behind (then a first create needs cleaning up)."""

    lines: list[str]
    stack_left: bool = False


class Provider(Protocol):
    def clients(self, profile: str | None) -> Aws:
        """The AWS clients that reach this target."""
        ...

    def announcement(self) -> str | None:
        """What the user must know before anything is deployed (None: nothing)."""
        ...

    def describe_stack(self, cfn: Any, name_or_id: str) -> dict[str, Any] | None:
        """The stack as CloudFormation describes it, or None when it does not exist."""
        ...

    def prepare_template(self, entry: StackEntry) -> str:
        """The template body to send for this stack."""
        ...

    def sent_template(self, entry: StackEntry) -> dict[str, Any]:
        """The template as ``prepare_template`` sends it, parsed (what a deployed stack is compared with)."""
        ...

    def plan_notes(self, entry: StackEntry) -> list[str]:
        """Lines added to a plan with changes (what this target will not do as AWS would)."""
        ...

    def prepare_review_stack(self, cfn: Any, stack: dict[str, Any]) -> None:
        """Called before a CREATE change set for a stack left in REVIEW_IN_PROGRESS."""
        ...

    def is_no_updates(self, exc: ClientError) -> bool:
        """Whether CreateChangeSet's error means "nothing to change"."""
        ...

    def change_set_hooks(self, cfn: Any, change_set_id: str) -> list[str]:
        """Lines on the CloudFormation Hooks the change set invokes (none: nothing to show)."""
        ...

    def execute_failure(self, cfn: Any, stack_id: str, exc: ClientError) -> ExecuteFailure:
        """Why ExecuteChangeSet was refused."""
        ...

    def after_execute(self, cfn: Any, stack: dict[str, Any], entry: StackEntry) -> dict[str, Any]:
        """The stack after a successful execution, as it should be reported (with its outputs)."""
        ...

    def complete_execution(self, aws: Aws, stack: dict[str, Any], entry: StackEntry) -> tuple[list[str], bool]:
        """After a successful execution: do what this target left undone of it that CloudFormation does;
        (lines for the user, whether the stack is now what CloudFormation would have made)."""
        ...

    def set_termination_protection(self, cfn: Any, stack_id: str, entry: StackEntry) -> list[str]:
        """Set the stack's termination protection to the manifest's value; lines for the user, if any."""
        ...

    def deleted_despite_error(self, cfn: Any, stack_name: str, exc: ClientError) -> str | None:
        """A line for the user when DeleteStack answered an error yet the stack is gone; None otherwise."""
        ...

    def watch_advice(self, command: str) -> str:
        """How to watch an operation that outlives this command, given the status command for it."""
        ...

    def deletion_leftovers(self, cfn: Any, stack_id: str) -> list[tuple[str, str]]:
        """Read before DeleteStack: (type, physical ID) of the stack's resources that this target
        will not delete with the stack although CloudFormation would (none: it deletes them all)."""
        ...

    def remove_leftovers(self, aws: Aws, region: str, leftovers: list[tuple[str, str]]) -> list[str]:
        """After the stack is deleted: delete ``deletion_leftovers``' resources; lines for the user."""
        ...


class AwsProvider:
    """CloudFormation, as its API reference documents it."""

    def change_set_hooks(self, cfn: Any, change_set_id: str) -> list[str]:
        """The hooks CloudFormation will invoke for this change set, with their failure modes and
        status (DescribeChangeSetHooks, CloudFormation API reference). Optional information: a
        caller without the permission is told so; a transport failure shows nothing."""
        try:
            found = cfn.describe_change_set_hooks(ChangeSetName=change_set_id)
        except ClientError as exc:
            return [f"  hooks: not read ({error_message(exc)})"]
        except BotoCoreError:
            return []
        lines = []
        for hook in found.get("Hooks") or []:
            target = hook.get("TargetDetails", {}).get("ResourceTargetDetails", {})
            where = f" on {target['LogicalResourceId']}" if target.get("LogicalResourceId") else ""
            mode = f"{hook.get('FailureMode', '?')}, {hook.get('InvocationPoint', '?')}"
            lines.append(f"  hook {hook.get('TypeName', '?')} ({mode}){where}")
        status = found.get("Status")
        if lines and status:
            lines.insert(0, f"  hooks of this change set: {status}")
        return lines

    def clients(self, profile: str | None) -> Aws:
        return Aws(profile=profile)

    def announcement(self) -> str | None:
        return None

    def describe_stack(self, cfn: Any, name_or_id: str) -> dict[str, Any] | None:
        return describe_stack(cfn, name_or_id)

    def prepare_template(self, entry: StackEntry) -> str:
        return entry.body

    def sent_template(self, entry: StackEntry) -> dict[str, Any]:
        return entry.template

    def plan_notes(self, entry: StackEntry) -> list[str]:
        return []

    def prepare_review_stack(self, cfn: Any, stack: dict[str, Any]) -> None:
        # CloudFormation reuses the empty stack for the next CREATE change set.
        return None

    def is_no_updates(self, exc: ClientError) -> bool:
        # CloudFormation reports "nothing to change" through a FAILED change set, not an error:
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html
        return False

    def execute_failure(self, cfn: Any, stack_id: str, exc: ClientError) -> ExecuteFailure:
        # A refused ExecuteChangeSet (for example InvalidChangeSetStatus) starts no operation.
        return ExecuteFailure([f"  ExecuteChangeSet failed: {error_message(exc)}"])

    def after_execute(self, cfn: Any, stack: dict[str, Any], entry: StackEntry) -> dict[str, Any]:
        return stack

    def complete_execution(self, aws: Aws, stack: dict[str, Any], entry: StackEntry) -> tuple[list[str], bool]:
        return [], True

    def set_termination_protection(self, cfn: Any, stack_id: str, entry: StackEntry) -> list[str]:
        # Change sets do not carry termination protection; it is a separate call.
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateTerminationProtection.html
        cfn.update_termination_protection(StackName=stack_id, EnableTerminationProtection=entry.termination_protection)
        return []

    def deleted_despite_error(self, cfn: Any, stack_name: str, exc: ClientError) -> str | None:
        # CloudFormation reports a failed deletion through the stack (DELETE_FAILED), not the call.
        return None

    def watch_advice(self, command: str) -> str:
        return command

    def deletion_leftovers(self, cfn: Any, stack_id: str) -> list[tuple[str, str]]:
        # DeleteStack deletes every resource but those it retains (DeletionPolicy, deployer.retention).
        return []

    def remove_leftovers(self, aws: Aws, region: str, leftovers: list[tuple[str, str]]) -> list[str]:
        return []
