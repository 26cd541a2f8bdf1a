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
    # Stacks of the same apply that must finish before this one runs although it takes none of their
    # outputs (deployer.environment_checks: they first vacate a listener-rule priority this one takes).
    after: list[str] = field(default_factory=list)

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


# --- the rest of the environment: what one apply is judged against besides its own stacks --------------


@dataclass(frozen=True)
class OtherStack:
    """A deployed stack whose name starts with the environment's prefix and that the manifest does not name."""

    stack_name: str
    status: str
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def holds_resources(self) -> bool:
        """False for a stack with nothing in it: a never-executed CREATE change set's (REVIEW_IN_PROGRESS)
        or a first create that rolled back (ROLLBACK_COMPLETE)."""
        return self.status not in ("REVIEW_IN_PROGRESS", "ROLLBACK_COMPLETE")


class DependencyState(enum.Enum):
    NOT_DEPLOYED = "is not deployed"
    CHANGES = "has changes"  # out/ differs from the deployed stack (its own plan is an update)
    FAILED = "cannot be planned"


@dataclass(frozen=True)
class Dependency:
    """A stack the manifest says a selected stack depends on, left out of the apply (--stack), and not up to date."""

    dependant: str  # short name of the selected stack
    name: str  # short name of the dependency
    state: DependencyState
    detail: str = ""


@dataclass(frozen=True)
class PlannedRule:
    """A listener rule of a template on a listener that arrives as a parameter (a shared listener), as out/
    writes it: listener ARN and priority resolved with the parameter values the stack gets."""

    stack_name: str
    logical_id: str
    parameter: str  # the template parameter that carries the listener ARN
    listener: str
    priority: int


@dataclass(frozen=True)
class LiveRule:
    """A rule on one of those listeners now (DescribeRules; the default rule left out), with the stack
    resource that owns it when a stack of the environment does."""

    arn: str
    listener: str
    priority: int
    owner_stack: str | None = None  # CloudFormation stack name
    owner_logical: str | None = None


@dataclass
class EnvironmentFacts:
    """What day2.environment read about the environment around one apply."""

    prefix: str  # "<project>-<environment>-"
    others: list[OtherStack] = field(default_factory=list)  # deployed, not in the manifest
    other_manifests: set[str] = field(default_factory=set)  # stack names other environments of out/ use
    dependencies: list[Dependency] = field(default_factory=list)
    planned: list[PlannedRule] = field(default_factory=list)  # every manifest stack's, from out/
    live: list[LiveRule] = field(default_factory=list)
