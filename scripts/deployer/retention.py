"""What destroy leaves behind: the resources a stack retains (DeletionPolicy Retain), with their
physical names, how the next apply adopts them, and the AWS CLI commands that delete them.

Retained resources with fixed names would make the next create fail ("... already exists"). The
manifest's ``adoptable_resources`` are adopted by the next CREATE change set
(ImportExistingResources); the others must be deleted by hand before the stack is created again.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/import-resources-automatically.html

Gap 25 (moto 5.2.5): CreateChangeSet ignores ImportExistingResources; the change set shows the
retained resource as Add and ExecuteChangeSet fails ("RepositoryAlreadyExistsException"), so
destroy-then-apply works on AWS only. tests/test_safety_emulator.py notices when moto catches up.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .aws import physical_ids
from .manifest import RETAINING as RETAINING
from .manifest import StackEntry


@dataclass(frozen=True)
class Kept:
    logical_id: str
    resource_type: str
    physical_id: str | None  # None when the stack does not say (not created, or not listed)


def _delete_command(kept: Kept, region: str) -> str | None:
    name = shlex.quote(kept.physical_id or "")
    commands = {
        "AWS::ECR::Repository": f"aws ecr delete-repository --region {region} --repository-name {name} --force",
        "AWS::Logs::LogGroup": f"aws logs delete-log-group --region {region} --log-group-name {name}",
        "AWS::S3::Bucket": f"aws s3 rb --region {region} s3://{kept.physical_id} --force",
    }
    return commands.get(kept.resource_type) if kept.physical_id else None


def retained(cfn: Any, stack_id: str, template: dict[str, Any]) -> list[Kept]:
    """The template's retained resources with their physical IDs as the stack lists them."""
    try:
        physical = physical_ids(cfn, stack_id)
    except (ClientError, BotoCoreError):
        physical = {}
    return [
        Kept(logical_id, res.get("Type", "?"), physical.get(logical_id))
        for logical_id, res in sorted(template.get("Resources", {}).items())
        if res.get("DeletionPolicy") in RETAINING
    ]


def kept_lines(entry: StackEntry, kept: list[Kept]) -> list[str]:
    """What destroy says about one stack's retained resources."""
    lines = []
    for item in kept:
        name = item.physical_id or "(not created)"
        lines.append(f"    kept after deletion (DeletionPolicy): {item.logical_id} ({item.resource_type}) {name}")
        if not item.physical_id:
            continue
        if item.logical_id in entry.adoptable_resources:
            how = "the next apply adopts it (CREATE change set with ImportExistingResources); or delete it:"
        else:
            how = "not adopted by the next apply (a fixed name would conflict); delete it when no longer needed:"
        command = _delete_command(item, entry.region) or f"(delete {item.physical_id} with its service's tools)"
        lines += [f"      {how}", f"        {command}"]
    return lines
