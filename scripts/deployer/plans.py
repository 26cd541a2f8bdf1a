"""What planning one stack found: the plan's state, its change-set kind and everything shown about it.

Data only (no AWS calls, no output), so the policy, the renderer, the scheduler and the executor
can all read plans without importing one another.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .manifest import StackEntry


class PlanState(enum.Enum):
    CHANGES = "changes"  # a change set with changes is ready to execute
    UP_TO_DATE = "up to date"  # nothing to do; the empty change set was deleted
    DEFERRED = "deferred"  # waits for outputs of a stack that is not deployed yet (known after apply)
    FAILED = "failed"  # the stack cannot be planned (its state, or a change set that failed)


class ChangeKind(enum.Enum):
    """The change set's ChangeSetType (the values are the API's)."""

    CREATE = "CREATE"
    UPDATE = "UPDATE"


@dataclass
class Plan:
    entry: StackEntry
    kind: ChangeKind = ChangeKind.UPDATE
    state: PlanState = PlanState.CHANGES
    stack: dict[str, Any] | None = None  # the deployed stack before the change, if any
    change_set: dict[str, Any] | None = None
    api_parameters: list[dict[str, Any]] = field(default_factory=list)
    shown_parameters: dict[str, str] = field(default_factory=dict)
    waiting_on: list[str] = field(default_factory=list)
    reason: str = ""
    created_stack: bool = False  # the CREATE change set made an empty REVIEW_IN_PROGRESS stack
    hook_lines: list[str] = field(default_factory=list)  # the change set's CloudFormation Hooks (AWS only)
    provider_notes: list[str] = field(default_factory=list)  # what the deployment target adds (the emulator's gaps)
    # Day-2 facts of an update (deployer.day2): the deployed template (GetTemplate, Original stage), the
    # template as sent, and the live routing of the listeners and rules the update touches (deployer.routing).
    deployed_template: dict[str, Any] | None = None
    sent_template: dict[str, Any] | None = None
    live_routing: dict[str, Any] | None = None
    # RollbackConfiguration sent with the change set (None: none sent); what apply says about it,
    # the adoption of retained resources and the stack policy.
    rollback_configuration: dict[str, Any] | None = None
    safety_lines: list[str] = field(default_factory=list)

    @property
    def deployed_parameters(self) -> dict[str, str] | None:
        if not self.stack or self.kind is ChangeKind.CREATE:
            return None
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in self.stack.get("Parameters", [])}

    @property
    def deployed_tags(self) -> dict[str, str] | None:
        if not self.stack or self.kind is ChangeKind.CREATE:
            return None
        return {t["Key"]: t["Value"] for t in self.stack.get("Tags", [])}

    @property
    def changes(self) -> list[dict[str, Any]]:
        """The change set's resource changes (none without a change set)."""
        return list((self.change_set or {}).get("Changes", []))

    def has_changes(self) -> bool:
        return self.state in (PlanState.CHANGES, PlanState.DEFERRED)

    def ready_change_set(self) -> dict[str, Any]:
        """The change set of a plan in state CHANGES: planning gives every such plan one."""
        if self.change_set is None:
            raise RuntimeError(f"{self.entry.stack_name}: plan in state {self.state.value} has no change set")
        return self.change_set
