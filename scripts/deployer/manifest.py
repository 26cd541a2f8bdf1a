"""Reading out/<env>/stacks.json and its templates: the only contract with generate.py."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from . import UserError

# CloudFormation quotas: a TemplateBody up to 51,200 bytes; a template in S3 up to 1 MB.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
BODY_LIMIT = 51_200
URL_LIMIT = 1_000_000


@dataclass
class StackEntry:
    name: str
    stack_name: str
    template_path: Path
    region: str
    parameters: dict[str, str]
    parameters_from_outputs: dict[str, dict[str, str]]
    kept_on_update: list[str]
    depends_on: list[str]
    capabilities: list[str]
    tags: dict[str, str]
    termination_protection: bool
    body: str = ""
    template: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.body.encode())

    def no_echo(self) -> set[str]:
        return {k for k, v in self.template.get("Parameters", {}).items() if str(v.get("NoEcho", "")).lower() == "true"}

    def retained(self) -> list[str]:
        return retained_resources(self.template)


def retained_resources(template: dict) -> list[str]:
    """Resources a stack deletion leaves behind, as "LogicalId (Type)"."""
    return sorted(f"{logical_id} ({res.get('Type')})" for logical_id, res in template.get("Resources", {}).items()
                  if res.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot"))


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


def _require(entry: dict, key: str, kind: type, where: str):
    if key not in entry or not isinstance(entry[key], kind):
        raise UserError(f"{where}: key {key!r} is missing or not a {kind.__name__}")
    return entry[key]


def load(out_dir: Path, env: str, selected: list[str] | None = None, region: str | None = None) -> Manifest:
    folder = out_dir / env
    path = folder / "stacks.json"
    if not path.is_file():
        known = sorted(p.parent.name for p in out_dir.glob("*/stacks.json"))
        raise UserError(f"{path}: no manifest for environment {env!r} (known: {', '.join(known) or 'none'}; run make generate)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc})") from None
    raw_stacks = data.get("stacks") if isinstance(data, dict) else None
    if not isinstance(raw_stacks, list):
        raise UserError(f"{path}: key 'stacks' is missing or not a list")
    stacks: list[StackEntry] = []
    for index, raw in enumerate(raw_stacks):
        where = f"{path}: stacks[{index}]"
        if not isinstance(raw, dict):
            raise UserError(f"{where}: not an object")
        wired = raw.get("parameters_from_outputs", {}) or {}
        for key, ref in wired.items():
            if not isinstance(ref, dict) or ref.get("stack") not in {s.name for s in stacks}:
                raise UserError(f"{where}: parameters_from_outputs.{key} must name an earlier stack of the manifest")
        entry = StackEntry(
            name=_require(raw, "name", str, where),
            stack_name=_require(raw, "stack_name", str, where),
            template_path=folder / _require(raw, "template", str, where),
            region=region or _require(raw, "region", str, where),
            parameters={k: str(v) for k, v in (raw.get("parameters") or {}).items()},
            parameters_from_outputs=wired,
            kept_on_update=list(raw.get("parameters_kept_on_update") or []),
            depends_on=list(raw.get("depends_on") or []),
            capabilities=list(raw.get("capabilities") or []),
            tags={k: str(v) for k, v in (raw.get("tags") or {}).items()},
            termination_protection=bool(raw.get("termination_protection", False)),
        )
        stacks.append(entry)
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
