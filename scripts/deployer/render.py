"""What the user reads: change-set tables, parameter and tag changes, events, outputs, diffs."""

from __future__ import annotations

import difflib
import json
import sys
import threading

from .manifest import StackEntry

_print_lock = threading.Lock()
# Stateful resources: replacing or removing them loses data or addresses other things depend on.
STATEFUL_TYPES = {
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ECR::Repository",
    "AWS::S3::Bucket",
    "AWS::Logs::LogGroup",
}
MASK = "****"


def say(*lines: str) -> None:
    """Print whole lines atomically (stacks may deploy in parallel threads)."""
    with _print_lock:
        for line in lines:
            print(line)
        sys.stdout.flush()


def _loud(text: str) -> str:
    return f"\033[1;31m{text}\033[0m" if sys.stdout.isatty() else text


def table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    fmt = lambda row: indent + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    return [fmt(headers), fmt(["-" * w for w in widths]), *(fmt(r) for r in rows)]


def dangerous(change: dict) -> bool:
    """A stateful resource that this change removes or may replace."""
    rc = change.get("ResourceChange", {})
    if rc.get("ResourceType") not in STATEFUL_TYPES:
        return False
    return rc.get("Action") == "Remove" or rc.get("Replacement") in ("True", "Conditional")


def changed_properties(rc: dict) -> str:
    names = []
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


def change_rows(changes: list[dict]) -> list[list[str]]:
    rows = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        replacement = rc.get("Replacement") or ("-" if rc.get("Action") != "Modify" else "not reported")
        mark = _loud("!! stateful") if dangerous(change) else ""
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


def change_table(changes: list[dict]) -> list[str]:
    if not changes:
        return ["  (no resource changes)"]
    return table(["Action", "Logical ID", "Type", "Replacement", "Changed properties", ""], change_rows(changes))


def local_add_table(entry: StackEntry) -> list[str]:
    """For a stack that cannot be planned yet: every resource of the template, as Add."""
    rows = [
        ["Add", lid, res.get("Type", "?"), "-", "-", ""]
        for lid, res in sorted(entry.template.get("Resources", {}).items())
    ]
    return table(["Action", "Logical ID", "Type", "Replacement", "Changed properties", ""], rows)


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


def event_line(stack: str, event: dict) -> str:
    when = (
        event["Timestamp"].strftime("%H:%M:%S") if hasattr(event["Timestamp"], "strftime") else str(event["Timestamp"])
    )
    reason = event.get("ResourceStatusReason") or ""
    return f"  {when}  {stack}  {event['LogicalResourceId']}  {event.get('ResourceType', '')}  {event['ResourceStatus']}  {reason}".rstrip()


def outputs_lines(stack: dict) -> list[str]:
    outputs = sorted(stack.get("Outputs") or [], key=lambda o: o["OutputKey"])
    if not outputs:
        return ["  (no outputs)"]
    return table(["Output", "Value"], [[o["OutputKey"], o["OutputValue"]] for o in outputs])


def canonical(template_text: str | dict) -> list[str]:
    data = json.loads(template_text) if isinstance(template_text, str) else template_text
    return json.dumps(data, indent=2, sort_keys=True).splitlines()


def unified(old: list[str], new: list[str], old_name: str, new_name: str) -> list[str]:
    return list(difflib.unified_diff(old, new, old_name, new_name, lineterm=""))
