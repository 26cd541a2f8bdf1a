"""Reading out/<env>/: the manifest (model and format in ``blueprints.manifest``, the only
contract with the generator) and the templates it names, checked before anything is deployed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blueprints import manifest as contract

from . import UserError

# DeletionPolicy values with which a deleted stack leaves the resource (or its snapshot) behind.
RETAINING = ("Retain", "RetainExceptOnCreate", "Snapshot")

# CloudFormation quotas: a TemplateBody up to 51,200 bytes; a template in S3 up to 1 MB.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
BODY_LIMIT = 51_200
URL_LIMIT = 1_000_000


@dataclass
class StackEntry:
    """One stack of the manifest, with its template read from out/."""

    name: str
    stack_name: str
    template_path: Path
    region: str
    parameters: dict[str, str]
    parameters_from_outputs: dict[str, contract.OutputRef]
    kept_on_update: list[str]
    depends_on: list[str]
    capabilities: list[str]
    tags: dict[str, str]
    termination_protection: bool
    body: str = ""
    # Day-2 safety (blueprints.manifest documents the keys): adoption, rollback triggers, stack policy.
    adoptable_resources: list[str] = field(default_factory=list)
    rollback_alarms: list[str] = field(default_factory=list)
    rollback_monitoring_minutes: int = 0
    stack_policy: dict[str, Any] | None = None
    template: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.body.encode())

    def no_echo(self) -> set[str]:
        return {k for k, v in self.template.get("Parameters", {}).items() if str(v.get("NoEcho", "")).lower() == "true"}

    def retained(self) -> list[str]:
        return retained_resources(self.template)


def retained_resources(template: dict[str, Any]) -> list[str]:
    """Resources a stack deletion leaves behind, as "LogicalId (Type)"."""
    return sorted(
        f"{logical_id} ({res.get('Type')})"
        for logical_id, res in template.get("Resources", {}).items()
        if res.get("DeletionPolicy") in RETAINING
    )


@dataclass
class Manifest:
    env: str
    folder: Path
    stacks: list[StackEntry]  # every stack of the manifest, in deploy order
    selected: list[StackEntry]  # those the command works on (--stack), in deploy order

    def by_name(self, name: str) -> StackEntry:
        for entry in self.stacks:
            if entry.name == name:
                return entry
        raise KeyError(name)


def load(out_dir: Path, env: str, selected: list[str] | None = None, region: str | None = None) -> Manifest:
    folder = out_dir / env
    path = contract.path_in(folder)
    if not path.is_file():
        known = contract.environments(out_dir)
        raise UserError(
            f"{path}: no manifest for environment {env!r} (known: {', '.join(known) or 'none'}; run make generate)"
        )
    try:
        model = contract.read(folder)
    except contract.ManifestError as exc:
        raise UserError(str(exc)) from None
    stacks = [
        StackEntry(
            name=raw.name,
            stack_name=raw.stack_name,
            template_path=folder / raw.template,
            region=region or raw.region,
            parameters=dict(raw.parameters),
            parameters_from_outputs=dict(raw.parameters_from_outputs),
            kept_on_update=list(raw.parameters_kept_on_update),
            depends_on=list(raw.depends_on),
            capabilities=list(raw.capabilities),
            tags=dict(raw.tags),
            termination_protection=raw.termination_protection,
            adoptable_resources=list(raw.adoptable_resources),
            rollback_alarms=list(raw.rollback_alarms),
            rollback_monitoring_minutes=raw.rollback_monitoring_minutes,
            stack_policy=raw.stack_policy,
        )
        for raw in model.stacks
    ]
    names = [s.name for s in stacks]
    unknown = [name for name in selected or [] if name not in names]
    if unknown:
        raise UserError(f"{path}: unknown stack {', '.join(map(repr, unknown))} (stacks: {', '.join(names)})")
    for entry in stacks:
        _read_template(entry)
    chosen = [s for s in stacks if not selected or s.name in selected]
    return Manifest(env=env, folder=folder, stacks=stacks, selected=chosen)


def _read_template(entry: StackEntry) -> None:
    if not entry.template_path.is_file():
        raise UserError(f"{entry.template_path}: template of stack {entry.name} not found")
    entry.body = entry.template_path.read_text()
    if entry.size > URL_LIMIT:
        raise UserError(
            f"{entry.template_path}: {entry.size:,} bytes is over CloudFormation's 1 MB template limit; split the stack"
        )
    try:
        entry.template = json.loads(entry.body)
    except json.JSONDecodeError as exc:
        raise UserError(f"{entry.template_path}: not valid JSON ({exc})") from None
    declared = set(entry.template.get("Parameters", {}))
    extra = (set(entry.parameters) | set(entry.parameters_from_outputs)) - declared
    if extra:
        raise UserError(f"{entry.template_path}: manifest gives values for undeclared parameters {sorted(extra)}")
