"""CloudFormation-managed blue/green (the AWS::CodeDeployBlueGreen transform): updates AWS rejects.

An update that modifies or replaces the blue task definition or task set starts a green deployment,
and such an update "cannot include updates to other resources in the same stack update":
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-considerations.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/about-blue-green-deployments.html
("Resource updates that initiate green deployments").
"""

from __future__ import annotations

from dataclasses import dataclass

TRANSFORM = "AWS::CodeDeployBlueGreen"
HOOK_TYPE = "AWS::CodeDeploy::BlueGreen"
TRIGGER_TYPES = ("AWS::ECS::TaskDefinition", "AWS::ECS::TaskSet")
# The primary task set points at the blue task set's Id, so it changes whenever the task set is
# replaced: part of the green deployment itself, not an "other resource".
FOLLOWER_TYPES = ("AWS::ECS::PrimaryTaskSet",)


@dataclass
class Conflict:
    starts: list[str]  # logical IDs whose change starts a green deployment
    others: list[str]  # other resources changed in the same update

    def lines(self) -> list[str]:
        return [
            f"  !! blue/green: this update starts a green deployment (changes {', '.join(self.starts)}) and also "
            f"changes {', '.join(self.others)}; CloudFormation rejects that ({TRANSFORM}: an update that starts a "
            "green deployment cannot change other resources in the same update)"
        ]


def uses_transform(template: dict) -> bool:
    transform = template.get("Transform")
    return TRANSFORM in (transform if isinstance(transform, list) else [transform])


def _blue_resources(template: dict) -> set[str]:
    """The blue task definitions and task sets named by the hook (the green ones are not resources)."""
    resources = template.get("Resources", {})
    named: set[str] = set()
    for hook in (template.get("Hooks") or {}).values():
        if hook.get("Type") != HOOK_TYPE:
            continue
        for application in hook.get("Properties", {}).get("Applications", []):
            attributes = application.get("ECSAttributes", {})
            named.update(attributes.get("TaskDefinitions", []) + attributes.get("TaskSets", []))
    declared = {k for k in named if k in resources}
    return declared or {k for k, v in resources.items() if v.get("Type") in TRIGGER_TYPES}


def conflict(template: dict, changes: list[dict]) -> Conflict | None:
    """None unless the template uses the transform and the change set both starts a green deployment
    (Modify of the blue task definition or task set, replacement or not) and changes anything else."""
    if not uses_transform(template):
        return None
    blue = _blue_resources(template)
    starts, others = [], []
    for change in changes:
        rc = change.get("ResourceChange", {})
        logical, action = rc.get("LogicalResourceId", "?"), rc.get("Action")
        if action == "Modify" and logical in blue:
            starts.append(logical)
        elif not (action == "Modify" and rc.get("ResourceType") in FOLLOWER_TYPES):
            others.append(logical)
    return Conflict(sorted(starts), sorted(others)) if starts and others else None


def refusal(stack_name: str, found: Conflict) -> str:
    return (
        f"Refused: {stack_name} would start a green deployment ({', '.join(found.starts)}) and change other "
        f"resources ({', '.join(found.others)}) in one update, which CloudFormation rejects. Apply the "
        "infrastructure change first with the task definition unchanged (keep the deployed image and task "
        "settings in the template), then release the new task definition in a separate apply."
    )
