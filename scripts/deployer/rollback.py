"""Rollback triggers: the stack's own CloudWatch alarms (named by logical ID in the manifest),
resolved to ARNs at plan time and sent as CreateChangeSet's RollbackConfiguration.

https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackConfiguration.html

- The alarms are resources of the stack itself, so their ARNs exist only once it does: a first
  create has nothing to monitor, and an alarm this update adds is watched from the next one. (A
  trigger that does not exist fails the whole operation, API_RollbackTrigger.)
- CloudFormation keeps the last triggers given and applies them to every later update that passes
  none (the pipeline's releases of the `cloudformation` engine among them); so when the manifest
  names no alarm but the deployed stack still has triggers, an empty list clears them, before they
  point at alarms that are gone.
- MonitoringTimeInMinutes (0-180): how long after the resources are deployed CloudFormation keeps
  watching before it completes the update and removes old resources.
"""

from __future__ import annotations

from typing import Any

from .aws import physical_ids
from .plans import ChangeKind, Plan

ALARM = "AWS::CloudWatch::Alarm"


def alarm_arn(stack_id: str, alarm_name: str) -> str:
    """An alarm's ARN, in the partition, region and account of the stack (taken from its ARN):
    arn:PARTITION:cloudwatch:REGION:ACCOUNT:alarm:NAME."""
    _, partition, _, region, account, _ = stack_id.split(":", 5)
    return f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{alarm_name}"


def deployed_alarms(cfn: Any, stack_id: str) -> dict[str, str]:
    """The stack's alarms as deployed: logical ID -> alarm name (the alarm's physical ID)."""
    return physical_ids(cfn, stack_id, ALARM)


def configuration(cfn: Any, plan: Plan) -> tuple[dict[str, Any] | None, list[str]]:
    """The RollbackConfiguration for the plan's change set (None: send none) and lines for the user."""
    entry, stack = plan.entry, plan.stack
    wanted = entry.rollback_alarms
    if plan.kind is ChangeKind.CREATE or not stack:
        if not wanted:
            return None, []
        return None, [
            f"rollback triggers: none on this first create (its alarms {', '.join(wanted)} do not exist yet); "
            "every later update is watched by them"
        ]
    stored = (stack.get("RollbackConfiguration") or {}).get("RollbackTriggers") or []
    if not wanted:
        if not stored:
            return None, []
        return {"RollbackTriggers": [], "MonitoringTimeInMinutes": 0}, [
            f"rollback triggers: cleared ({len(stored)} set before; the template has no alarms now)"
        ]
    deployed = deployed_alarms(cfn, stack["StackId"])
    present = [logical_id for logical_id in wanted if logical_id in deployed]
    missing = [logical_id for logical_id in wanted if logical_id not in deployed]
    config = {
        "RollbackTriggers": [
            {"Arn": alarm_arn(stack["StackId"], deployed[logical_id]), "Type": ALARM} for logical_id in present
        ],
        "MonitoringTimeInMinutes": entry.rollback_monitoring_minutes,
    }
    lines = [
        f"rollback triggers: {', '.join(present) or 'none'}; "
        f"watched during the update and {entry.rollback_monitoring_minutes} min after it"
    ]
    if missing:
        lines.append(f"  not deployed yet, so not watched this time: {', '.join(missing)}")
    return config, lines
