"""The manifest ``out/<env>/stacks.json``: the one contract between generation and deployment.

The generator writes it (``blueprints.environment``) and every reader (the deployer, the lint
gate, the benchmark, the tests) reads it through ``read``, so the format is spelled once. This
module imports nothing else of the project: the deployer may import it without importing the
generator.

Format, version 1 (``format_version``)::

    {"format_version": 1, "project": ..., "environment": ..., "region": ...,
     "stacks": [ {one StackEntry per stack, in deploy order} ]}

A reader given a version it does not know refuses (``ManifestError``) instead of guessing: a
newer generator may have added something the deploy depends on. Keys added to version 1 later are
optional, with defaults that mean "not used", so a version 1 manifest written before them still reads:

- ``adoptable_resources`` ([]): logical IDs of resources a deleted stack leaves behind
  (DeletionPolicy Retain) that a new one can adopt: a static custom name, a type that supports
  import. When there are any, CREATE change sets pass ``ImportExistingResources``, so the next
  create adopts them instead of failing with "already exists".
- ``rollback_alarms`` ([]): logical IDs of the stack's own ``AWS::CloudWatch::Alarm`` resources, at
  most 5 (CloudFormation's limit of rollback triggers). A stack update passes them as
  ``RollbackConfiguration.RollbackTriggers``; their ARNs are known only once the stack exists, so a
  first create has none to monitor.
- ``rollback_monitoring_minutes`` (0): ``RollbackConfiguration.MonitoringTimeInMinutes``, 0-180.
- ``stack_policy`` (null): the stack policy document set after create and kept current
  (SetStackPolicy); built by ``stack_policy_document``: everything may be updated, but
  ``Update:Replace`` and ``Update:Delete`` are denied on the listed logical IDs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
FILE_NAME = "stacks.json"
# CloudFormation accepts at most 5 rollback triggers (RollbackConfiguration, API reference).
MAX_ROLLBACK_TRIGGERS = 5
MAX_MONITORING_MINUTES = 180
PROTECTED_ACTIONS = ["Update:Delete", "Update:Replace"]


class ManifestError(Exception):
    """A manifest that cannot be used: missing, not JSON, an unknown version or a malformed entry."""


@dataclass(frozen=True)
class OutputRef:
    """A parameter whose value is an output of an earlier stack of the same environment."""

    stack: str
    output: str


@dataclass
class StackEntry:
    name: str  # short name: network, service, pipeline
    stack_name: str  # the CloudFormation stack name
    template: str  # file name in out/<env>/
    parameters_file: str  # the same static values, in the AWS CLI's --parameters format
    region: str
    parameters: dict[str, str] = field(default_factory=dict)
    parameters_from_outputs: dict[str, OutputRef] = field(default_factory=dict)
    # Parameters kept at their deployed value on update (a release changes them outside out/).
    parameters_kept_on_update: list[str] = field(default_factory=list)
    # Every stack this one needs: output wiring and stacks it names by value (a pipeline names the
    # service stack it releases), so nothing is deployed before, or destroyed after, what it needs.
    depends_on: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    termination_protection: bool = False
    adoptable_resources: list[str] = field(default_factory=list)
    rollback_alarms: list[str] = field(default_factory=list)
    rollback_monitoring_minutes: int = 0
    stack_policy: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stack_name": self.stack_name,
            "template": self.template,
            "parameters_file": self.parameters_file,
            "region": self.region,
            "parameters": dict(sorted(self.parameters.items())),
            "parameters_from_outputs": {
                key: {"stack": ref.stack, "output": ref.output}
                for key, ref in sorted(self.parameters_from_outputs.items())
            },
            "parameters_kept_on_update": sorted(self.parameters_kept_on_update),
            "depends_on": sorted(self.depends_on),
            "capabilities": sorted(self.capabilities),
            "tags": dict(sorted(self.tags.items())),
            "termination_protection": self.termination_protection,
            "adoptable_resources": sorted(self.adoptable_resources),
            "rollback_alarms": sorted(self.rollback_alarms),
            "rollback_monitoring_minutes": self.rollback_monitoring_minutes,
            "stack_policy": self.stack_policy,
        }


@dataclass
class Manifest:
    project: str
    environment: str
    region: str
    stacks: list[StackEntry]  # in deploy order
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "project": self.project,
            "environment": self.environment,
            "region": self.region,
            "stacks": [entry.to_dict() for entry in self.stacks],
        }

    def by_name(self, name: str) -> StackEntry:
        for entry in self.stacks:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def dependants(self, name: str) -> list[str]:
        """Stacks that need ``name`` (directly), in deploy order."""
        return [entry.name for entry in self.stacks if name in entry.depends_on]


def stack_policy_document(protected: list[str]) -> dict[str, Any] | None:
    """The stack policy protecting ``protected`` (logical IDs) from replacement and removal; None
    for none. A stack policy denies every update it does not allow, hence the first statement.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/protect-stack-resources.html"""
    if not protected:
        return None
    return {
        "Statement": [
            {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": list(PROTECTED_ACTIONS),
                "Principal": "*",
                "Resource": [f"LogicalResourceId/{logical_id}" for logical_id in sorted(protected)],
            },
        ]
    }


def _typed(raw: dict[str, Any], key: str, kind: type, where: str, default: Any = None) -> Any:
    if key not in raw:
        if default is not None:
            return default
        raise ManifestError(f"{where}: key {key!r} is missing")
    value = raw[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where}: key {key!r} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _strings(raw: dict[str, Any], key: str, where: str) -> dict[str, str]:
    value = _typed(raw, key, dict, where, default={})
    bad = [k for k, v in value.items() if not isinstance(v, str)]
    if bad:
        raise ManifestError(f"{where}: {key}.{bad[0]} must be a string")
    return dict(value)


def _string_list(raw: dict[str, Any], key: str, where: str) -> list[str]:
    value = _typed(raw, key, list, where, default=[])
    if not all(isinstance(v, str) for v in value):
        raise ManifestError(f"{where}: {key} must be a list of strings")
    return list(value)


def _entry(raw: Any, where: str, earlier: list[str]) -> StackEntry:
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: not an object")
    wired: dict[str, OutputRef] = {}
    for key, ref in _typed(raw, "parameters_from_outputs", dict, where, default={}).items():
        if not isinstance(ref, dict) or ref.get("stack") not in earlier or not isinstance(ref.get("output"), str):
            raise ManifestError(f"{where}: parameters_from_outputs.{key} must name an output of an earlier stack")
        wired[key] = OutputRef(ref["stack"], ref["output"])
    depends_on = _string_list(raw, "depends_on", where)
    unknown = [name for name in depends_on if name not in earlier]
    if unknown:
        raise ManifestError(f"{where}: depends_on names {unknown[0]!r}, which is not an earlier stack")
    alarms = _string_list(raw, "rollback_alarms", where)
    if len(alarms) > MAX_ROLLBACK_TRIGGERS:
        raise ManifestError(f"{where}: rollback_alarms lists {len(alarms)}; CloudFormation takes at most 5")
    minutes = _typed(raw, "rollback_monitoring_minutes", int, where, default=0)
    if not 0 <= minutes <= MAX_MONITORING_MINUTES:
        raise ManifestError(f"{where}: rollback_monitoring_minutes must be 0-180, not {minutes}")
    policy = raw.get("stack_policy")
    if policy is not None and not (isinstance(policy, dict) and isinstance(policy.get("Statement"), list)):
        raise ManifestError(f"{where}: stack_policy must be null or a policy document with a Statement list")
    return StackEntry(
        name=_typed(raw, "name", str, where),
        stack_name=_typed(raw, "stack_name", str, where),
        template=_typed(raw, "template", str, where),
        parameters_file=_typed(raw, "parameters_file", str, where, default=""),
        region=_typed(raw, "region", str, where),
        parameters=_strings(raw, "parameters", where),
        parameters_from_outputs=wired,
        parameters_kept_on_update=_string_list(raw, "parameters_kept_on_update", where),
        depends_on=sorted(set(depends_on) | {ref.stack for ref in wired.values()}),
        capabilities=_string_list(raw, "capabilities", where),
        tags=_strings(raw, "tags", where),
        termination_protection=_typed(raw, "termination_protection", bool, where, default=False),
        adoptable_resources=_string_list(raw, "adoptable_resources", where),
        rollback_alarms=alarms,
        rollback_monitoring_minutes=minutes,
        stack_policy=policy,
    )


def from_dict(data: Any, where: str) -> Manifest:
    """The manifest in ``data`` (parsed JSON); ``where`` names its file in messages."""
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: not a JSON object")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        shown = "missing" if version is None else repr(version)
        raise ManifestError(
            f"{where}: format_version {shown} is not one this tool reads (it reads {FORMAT_VERSION}); "
            "regenerate out/ with the same version of the generator (make generate), or upgrade this tool"
        )
    raw_stacks = _typed(data, "stacks", list, where)
    stacks: list[StackEntry] = []
    for index, raw in enumerate(raw_stacks):
        stacks.append(_entry(raw, f"{where}: stacks[{index}]", [s.name for s in stacks]))
    names = [s.name for s in stacks]
    if len(set(names)) != len(names):
        raise ManifestError(f"{where}: stack names repeat ({', '.join(names)})")
    return Manifest(
        project=_typed(data, "project", str, where, default=""),
        environment=_typed(data, "environment", str, where),
        region=_typed(data, "region", str, where, default=stacks[0].region if stacks else ""),
        stacks=stacks,
        format_version=version,
    )


def path_in(folder: Path) -> Path:
    return folder / FILE_NAME


def read(folder: Path) -> Manifest:
    """The manifest of ``out/<env>/`` (``folder``). Raises ``ManifestError``."""
    path = path_in(folder)
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest (run make generate)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not valid JSON ({exc})") from None
    return from_dict(data, str(path))


def environments(out_dir: Path) -> list[str]:
    """The environment folders of an out/ tree: those holding a manifest."""
    return sorted(p.parent.name for p in out_dir.glob(f"*/{FILE_NAME}"))
