"""What the user reads, as lines: plans, change-set tables, parameter and tag changes, refusals,
events, outputs, diffs. Decisions (what is stateful, what is refused) come from the policy; this
module only renders them, and writes nothing itself (see reporter)."""

from __future__ import annotations

import json
from typing import Any

from . import changes, policy
from .manifest import StackEntry
from .plans import ChangeKind, Plan, PlanState

MASK = changes.MASK
ARROW = "→"
VALUE_WIDTH = 80  # characters of a value shown on each side of the arrow
DIFF_LIMIT = 20  # lines of a multi-line value's unified diff
SOURCES = {"change set": " (from the change set)", "templates": " (worked out from the deployed and planned templates)"}
CHANGE_HEADERS = ["Action", "Logical ID", "Type", "Replacement", "Changed properties", ""]


def _loud(text: str, colour: bool) -> str:
    return f"\033[1;31m{text}\033[0m" if colour else text


def table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(row: list[str]) -> str:
        return indent + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def changed_properties(rc: dict[str, Any]) -> str:
    names: list[str] = []
    for detail in rc.get("Details", []):
        target = detail.get("Target", {})
        name = target.get("Name") or target.get("Attribute", "")
        if target.get("RequiresRecreation") == "Always":
            name += " (recreate)"
        elif target.get("RequiresRecreation") == "Conditionally":
            name += " (may recreate)"
        if name and name not in names:
            names.append(name)
    return ", ".join(names) or "-"


def change_rows(changes: list[dict[str, Any]], colour: bool = False) -> list[list[str]]:
    rows = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        replacement = rc.get("Replacement") or ("-" if rc.get("Action") != "Modify" else "not reported")
        mark = _loud("!! stateful", colour) if policy.stateful_change(change) else ""
        rows.append(
            [
                rc.get("Action", "?"),
                rc.get("LogicalResourceId", "?"),
                rc.get("ResourceType", "?"),
                replacement,
                changed_properties(rc),
                mark,
            ]
        )
    return rows


def change_table(changes: list[dict[str, Any]], colour: bool = False) -> list[str]:
    if not changes:
        return ["  (no resource changes)"]
    return table(CHANGE_HEADERS, change_rows(changes, colour))


def value_text(value: Any) -> str:
    if value is changes.MISSING:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _short(text: str) -> str:
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def value_change_lines(prefix: str, change: changes.ValueChange, indent: str) -> list[str]:
    """``prefix path: before → after``, each side cut at VALUE_WIDTH characters; multi-line strings
    (buildspecs, inline source) as a unified diff of at most DIFF_LIMIT lines."""
    before, after = value_text(change.before), value_text(change.after)
    if "\n" not in before and "\n" not in after:
        return [f"{indent}{prefix}{change.path}: {_short(before)} {ARROW} {_short(after)}"]
    old = [] if change.before is changes.MISSING else before.splitlines()
    new = [] if change.after is changes.MISSING else after.splitlines()
    body = unified(old, new, "before", "after")[2:]
    lines = [f"{indent}{prefix}{change.path}: (multi-line, unified diff)"]
    lines += [f"{indent}    {_short(line)}" for line in body[:DIFF_LIMIT]]
    if len(body) > DIFF_LIMIT:
        lines.append(f"{indent}    … {len(body) - DIFF_LIMIT} more diff lines")
    return lines


def value_lines(
    resources: list[changes.ResourceValues], parameters: list[changes.ValueChange], tags: list[changes.ValueChange]
) -> list[str]:
    """The value-level view under the change table (changes.py): per modified resource its replacement
    verdict and each changed property, then parameters and stack tags."""
    lines = []
    for r in resources:
        source = SOURCES.get(r.source, "")
        lines.append(f"    {r.logical_id} ({r.resource_type}): replacement {r.replacement}{source}")
        if not r.values:
            lines.append("      (no property value changes known: it changes with what it refers to)")
        for v in r.values:
            lines += value_change_lines(f"{r.logical_id} ", v, "      ")
    for p in parameters:
        lines += value_change_lines("parameter ", p, "    ")
    for t in tags:
        lines += value_change_lines("tag ", t, "    ")
    return ["  Changed values:", *lines] if lines else []


def local_add_table(entry: StackEntry) -> list[str]:
    """For a stack that cannot be planned yet: every resource of the template, as Add."""
    rows = [
        ["Add", lid, res.get("Type", "?"), "-", "-", ""]
        for lid, res in sorted(entry.template.get("Resources", {}).items())
    ]
    return table(CHANGE_HEADERS, rows)


def shown(entry: StackEntry, key: str, value: str | None) -> str:
    if value is None:
        return "(none)"
    return MASK if key in entry.no_echo() else value


def parameter_lines(entry: StackEntry, proposed: dict[str, str], deployed: dict[str, str] | None) -> list[str]:
    """Parameter changes against the deployed stack: proposed maps key -> value or a note in parentheses."""
    lines = []
    for key in sorted(set(proposed) | set(deployed or {})):
        new = proposed.get(key)
        old = (deployed or {}).get(key)
        if deployed is None:
            lines.append(f"  + {key} = {shown(entry, key, new)}")
        elif new is None:
            lines.append(f"  - {key} (no longer declared)")
        elif key in entry.no_echo():
            lines.append(f"  ~ {key} = {MASK} (NoEcho: value not shown, compared by CloudFormation)")
        elif new.startswith("(") and new.endswith(")"):
            lines.append(f"    {key} {new} {'' if old is None else 'deployed: ' + old}".rstrip())
        elif old != new:
            lines.append(f"  ~ {key}: {old} -> {new}")
    return ["  Parameters:", *lines] if lines else ["  Parameters: no changes"]


def tag_lines(wanted: dict[str, str], deployed: dict[str, str] | None) -> list[str]:
    lines = []
    deployed_tags = deployed or {}
    for key in sorted(set(wanted) | set(deployed_tags)):
        if key not in deployed_tags:
            lines.append(f"  + {key} = {wanted[key]}")
        elif key not in wanted:
            lines.append(f"  - {key} = {deployed_tags[key]}")
        elif wanted[key] != deployed_tags[key]:
            lines.append(f"  ~ {key}: {deployed_tags[key]} -> {wanted[key]}")
    return ["  Tags:", *lines] if lines else ["  Tags: no changes"]


def stateful_line(found: policy.StatefulChange) -> str:
    verb = "removes" if found.action == "Remove" else f"replaces (Replacement: {found.replacement})"
    return f"  !! this change set {verb} stateful {found.resource_type} {found.logical_id}"


def green_conflict_lines(found: policy.GreenConflict) -> list[str]:
    return [
        f"  !! blue/green: this update starts a green deployment (changes {', '.join(found.starts)}) and also "
        f"changes {', '.join(found.others)}; CloudFormation rejects that ({policy.TRANSFORM}: an update that starts "
        "a green deployment cannot change other resources in the same update)"
    ]


def day2_lines(day: policy.Day2, reported: set[str], shown_conflict: bool = False) -> list[str]:
    """What the deployed template and the live routing add to the change set (policy.day2_findings)."""
    lines = [
        f"  !! replaces stateful {u.resource_type} {u.logical_id} ({', '.join(u.replaced_by)} changes; "
        "worked out from the templates, not reported by the change set)"
        for u in day.stateful
        if u.logical_id not in reported
    ]
    lines += [
        f"  !! replaces {n.logical_id} ({', '.join(n.replaced_by)} changes) under its custom name {n.name}"
        for n in day.named
    ]
    lines += [
        f"  !! changes {', '.join(limit.rejected)} of {limit.logical_id}, which a {limit.controller} service rejects"
        for limit in day.limits
    ]
    if day.conflict and not shown_conflict:
        lines += green_conflict_lines(day.conflict)
    lines += [
        f"  !! {m.logical_id} would forward to {', '.join(m.idle)} (no healthy target); "
        f"live: {', '.join(m.live_targets)}"
        for m in day.misroutes
    ]
    return lines


def refusal_lines(refusals: list[policy.Refusal]) -> list[str]:
    """One line per reason: stacks refused for the same reason and remedy are named together."""
    stacks: dict[tuple[str, str], list[str]] = {}
    for refusal in refusals:
        stacks.setdefault((refusal.reason, refusal.remedy), []).append(refusal.stack)
    return [f"Refused: {', '.join(names)} {reason}. {remedy}" for (reason, remedy), names in stacks.items()]


def _heading(plan: Plan) -> str:
    verb = "create" if plan.kind is ChangeKind.CREATE else "update"
    return {
        PlanState.CHANGES: verb,
        PlanState.UP_TO_DATE: "up to date",
        PlanState.DEFERRED: f"{verb} after {', '.join(plan.waiting_on)} (known after apply)",
        PlanState.FAILED: "FAILED",
    }[plan.state]


def plan_lines(plan: Plan, discarded: bool = True, colour: bool = False) -> list[str]:
    entry = plan.entry
    lines = [f"== {entry.stack_name} ({entry.region}): {_heading(plan)} =="]
    if plan.state is PlanState.FAILED:
        return [*lines, f"  {plan.reason}"]
    if plan.state is PlanState.UP_TO_DATE:
        if plan.reason:  # decided without a change set
            return [*lines, f"  {plan.reason}"]
        return [*lines, "  no changes; the empty change set was deleted" if discarded else "  no changes"]
    if plan.state is PlanState.DEFERRED:
        lines += local_add_table(entry) if plan.kind is ChangeKind.CREATE else ["  resource changes: known after apply"]
    else:
        lines += change_table(plan.changes, colour)
        lines += value_lines(*changes.plan_values(plan))
    lines += parameter_lines(entry, plan.shown_parameters, plan.deployed_parameters)
    lines += tag_lines(entry.tags, plan.deployed_tags)
    stateful = policy.stateful_changes(plan.changes)
    lines += [stateful_line(found) for found in stateful]
    conflict = policy.plan_conflict(plan)
    if conflict:
        lines += green_conflict_lines(conflict)
    lines += day2_lines(policy.day2_findings(plan), {s.logical_id for s in stateful}, shown_conflict=bool(conflict))
    if plan.state is PlanState.CHANGES:
        lines += plan.hook_lines + plan.provider_notes
    if plan.change_set and not stateful:
        lines.append(f"  change set: {plan.change_set['ChangeSetName']}")
    return lines


def event_line(stack: str, event: dict[str, Any]) -> str:
    stamp = event["Timestamp"]
    when = stamp.strftime("%H:%M:%S") if hasattr(stamp, "strftime") else str(stamp)
    reason = event.get("ResourceStatusReason") or ""
    fields = [when, stack, event["LogicalResourceId"], event.get("ResourceType", ""), event["ResourceStatus"], reason]
    return ("  " + "  ".join(fields)).rstrip()


def outputs_lines(stack: dict[str, Any]) -> list[str]:
    outputs = sorted(stack.get("Outputs") or [], key=lambda o: o["OutputKey"])
    if not outputs:
        return ["  (no outputs)"]
    return table(["Output", "Value"], [[o["OutputKey"], o["OutputValue"]] for o in outputs])


def canonical(template_text: str | dict[str, Any]) -> list[str]:
    data = json.loads(template_text) if isinstance(template_text, str) else template_text
    return json.dumps(data, indent=2, sort_keys=True).splitlines()


def unified(old: list[str], new: list[str], old_name: str, new_name: str) -> list[str]:
    import difflib  # here: only diff and the change view need it (~3 ms of every command's start)

    return list(difflib.unified_diff(old, new, old_name, new_name, lineterm=""))
