"""The value-level change model: per changed resource, each changed property as ``path: before -> after``,
and the parameters and stack tags that change. Pure functions (no AWS calls, no output); render turns
the model into lines, plan and diff share it.

Where the values come from, best first:

1. the change set: DescribeChangeSet with ``IncludePropertyValues=True`` (botocore 1.35.99 knows it; the
   deployer always asks) gives each ResourceChange a ``BeforeContext``/``AfterContext`` (the resource's
   properties as JSON) and each Detail's Target a ``Path``, ``BeforeValue`` and ``AfterValue``:
   https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html
   https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceTargetDefinition.html
2. the templates: the deployed template (GetTemplate, as day2 fetches it) against out/'s, each with its
   parameter values resolved (``Ref`` to a parameter; other intrinsics are shown as written). moto 5.2.5
   reports no Details or contexts, so on the emulator the view comes from here and reads the same.

Path format: properties joined with ``.``; list items by index (``Subnets[0]``), except lists of objects
named by a ``Name`` or ``Key`` field, whose items are named by it (``Environment[APP_ENV]``,
``Tags[Owner]``); an item that is only a name and a ``Value`` shows the value itself. A change set's own
Detail paths (``/Properties/A/0/B``) are shown the same way, by index (``A[0].B``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import day2, update_rules
from .plans import ChangeKind, Plan, PlanState
from .template_values import resolve

MASK = "****"
IDENTITY_KEYS = ("Name", "Key")


class _Missing:
    def __repr__(self) -> str:
        return "(none)"


MISSING: Any = _Missing()  # the property (or parameter, tag) is absent on that side


@dataclass(frozen=True)
class ValueChange:
    path: str
    before: Any  # MISSING when added
    after: Any  # MISSING when removed


@dataclass(frozen=True)
class ResourceValues:
    logical_id: str
    resource_type: str
    action: str
    replacement: str  # the change set's verdict, or worked out from the templates (see ``source``)
    values: tuple[ValueChange, ...]
    source: str  # "change set" or "templates"


def _identity(*lists: list[Any]) -> str | None:
    """The field naming every item of each list uniquely (Name, Key), if there is one."""
    for key in IDENTITY_KEYS:
        names = [[item.get(key) if isinstance(item, dict) else None for item in items] for items in lists]
        if all(all(isinstance(n, str) for n in found) and len(set(found)) == len(found) for found in names):
            return key
    return None


def _keyed(items: list[Any], key: str) -> dict[str, Any]:
    """Items by name; an item that is only a name and a Value stands for its value."""
    return {item[key]: (item["Value"] if set(item) == {key, "Value"} else item) for item in items}


def diff_values(before: Any, after: Any, path: str = "") -> list[ValueChange]:
    """Every leaf that differs between two property values, in path order."""
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[ValueChange] = []
        for key in sorted(set(before) | set(after)):
            found += diff_values(before.get(key, MISSING), after.get(key, MISSING), f"{path}.{key}" if path else key)
        return found
    if isinstance(before, list) and isinstance(after, list):
        key = _identity(before, after) if before or after else None
        if key:
            old, new = _keyed(before, key), _keyed(after, key)
            names = [n for n in old if n not in new] + list(new)
            found = []
            for name in names:
                found += diff_values(old.get(name, MISSING), new.get(name, MISSING), f"{path}[{name}]")
            return found
        found = []
        for i in range(max(len(before), len(after))):
            found += diff_values(
                before[i] if i < len(before) else MISSING, after[i] if i < len(after) else MISSING, f"{path}[{i}]"
            )
        return found
    return [] if before == after else [ValueChange(path or "(value)", before, after)]


def masked(values: Mapping[str, str], no_echo: set[str]) -> dict[str, str]:
    return {k: (MASK if k in no_echo else v) for k, v in values.items()}


def template_values(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_parameters: Mapping[str, str],
    new_parameters: Mapping[str, str],
    region: str,
) -> dict[str, ResourceValues]:
    """Resources in both templates whose resolved properties differ, by logical ID. Parameters are the
    effective values (update_rules.effective_parameters), NoEcho ones already masked by the caller."""
    old_resources, new_resources = old.get("Resources") or {}, new.get("Resources") or {}
    verdicts = {
        u.logical_id: u
        for u in update_rules.resource_updates(old, new, old_parameters, new_parameters, region)
        if u.logical_id in old_resources
    }
    found = {}
    for lid in sorted(set(old_resources) & set(new_resources)):
        before = resolve(old_resources[lid].get("Properties") or {}, old_parameters)
        after = resolve(new_resources[lid].get("Properties") or {}, new_parameters)
        values = diff_values(before, after)
        if old_resources[lid].get("Type") != new_resources[lid].get("Type"):
            values.insert(0, ValueChange("Type", old_resources[lid].get("Type"), new_resources[lid].get("Type")))
        if not values:
            continue
        verdict = verdicts.get(lid)
        replacement = "False"
        if verdict and verdict.replaces:
            replacement = "True"
        elif verdict and verdict.may_replace_by:
            replacement = "Conditional"
        found[lid] = ResourceValues(
            lid, new_resources[lid].get("Type", "?"), "Modify", replacement, tuple(values), "templates"
        )
    return found


def _parsed(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pointer(path: str) -> str:
    """A Detail's JSON-pointer path (/Properties/A/0/B) in the view's format (A[0].B)."""
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == "Properties":
        parts = parts[1:]
    shown = ""
    for part in parts:
        shown += f"[{part}]" if part.isdigit() else (f".{part}" if shown else part)
    return shown or path


def change_set_values(rc: Mapping[str, Any]) -> tuple[ValueChange, ...] | None:
    """The values a ResourceChange carries (IncludePropertyValues), or None if it carries none."""
    if rc.get("BeforeContext") is not None or rc.get("AfterContext") is not None:
        before, after = _parsed(rc.get("BeforeContext") or "{}"), _parsed(rc.get("AfterContext") or "{}")
        if isinstance(before, dict) and isinstance(after, dict):
            return tuple(diff_values(before.get("Properties", before), after.get("Properties", after)))
    values = []
    for detail in rc.get("Details") or []:
        target = detail.get("Target") or {}
        if "BeforeValue" not in target and "AfterValue" not in target:
            continue
        path = _pointer(target.get("Path") or target.get("Name") or target.get("Attribute", "?"))
        change = ValueChange(path, target.get("BeforeValue", MISSING), target.get("AfterValue", MISSING))
        if change not in values:
            values.append(change)
    return tuple(values) if values else None


def resource_values(changes: list[dict[str, Any]], computed: Mapping[str, ResourceValues]) -> list[ResourceValues]:
    """Per Modify in the change set: its own values if it carries them, else those worked out from the
    templates (``computed``); a resource they do not know gets no value lines."""
    found = []
    for change in changes:
        rc = change.get("ResourceChange") or {}
        if rc.get("Action") != "Modify":
            continue
        lid, kind = rc.get("LogicalResourceId", "?"), rc.get("ResourceType", "?")
        reported = rc.get("Replacement")
        own = change_set_values(rc)
        fallback = computed.get(lid)
        if own is not None:
            found.append(ResourceValues(lid, kind, "Modify", reported or "not reported", own, "change set"))
        elif fallback is not None:
            replacement = reported or fallback.replacement
            found.append(ResourceValues(lid, kind, "Modify", replacement, fallback.values, "templates"))
        else:
            found.append(ResourceValues(lid, kind, "Modify", reported or "not reported", (), ""))
    return found


def mapping_changes(before: Mapping[str, str] | None, after: Mapping[str, str]) -> list[ValueChange]:
    """Parameter or tag values that change (added, removed, modified), by key."""
    old = before or {}
    return [
        ValueChange(key, old.get(key, MISSING), after.get(key, MISSING))
        for key in sorted(set(old) | set(after))
        if old.get(key, MISSING) != after.get(key, MISSING)
    ]


def plan_values(plan: Plan) -> tuple[list[ResourceValues], list[ValueChange], list[ValueChange]]:
    """(resources, parameters, tags) of an update with changes; nothing for other plans. The templates'
    values need day2's facts (deployed and sent template); NoEcho parameter values are masked."""
    if plan.state is not PlanState.CHANGES or plan.kind is not ChangeKind.UPDATE:
        return [], [], []
    no_echo = plan.entry.no_echo()
    computed: dict[str, ResourceValues] = {}
    if plan.deployed_template is not None and plan.sent_template is not None:
        before, after = day2.parameters(plan)
        computed = template_values(
            plan.deployed_template,
            plan.sent_template,
            masked(before, no_echo),
            masked(after, no_echo),
            plan.entry.region,
        )
    parameters = mapping_changes(
        masked(plan.deployed_parameters or {}, no_echo), masked(day2.new_parameters(plan), no_echo)
    )
    return resource_values(plan.changes, computed), parameters, mapping_changes(plan.deployed_tags, plan.entry.tags)
