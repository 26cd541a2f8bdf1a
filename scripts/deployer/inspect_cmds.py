"""status, outputs, diff and destroy: reading deployed stacks, and deleting them in reverse order."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from . import CHANGES, FAILED, OK, changes, day2, policy, retention, update_rules
from .aws import describe_stack, error_message
from .context import Context
from .manifest import StackEntry
from .render import MASK, canonical, event_line, outputs_lines, refusal_lines, unified, value_lines
from .waiting import latest_event_id, wait_for_stack


def status(ctx: Context) -> int:
    say = ctx.reporter.say
    for entry in ctx.manifest.selected:
        cfn = ctx.aws.cfn(entry.region)
        stack = describe_stack(cfn, entry.stack_name)
        if not stack:
            say(f"{entry.stack_name} ({entry.region}): not deployed")
            continue
        busy = " (operation in progress)" if stack["StackStatus"].endswith("_IN_PROGRESS") else ""
        if stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            busy = " (a change set was created but never executed)"
        reason = f" - {stack['StackStatusReason']}" if stack.get("StackStatusReason") else ""
        say(f"{entry.stack_name} ({entry.region}): {stack['StackStatus']}{busy}{reason}")
        events = cfn.describe_stack_events(StackName=stack["StackId"]).get("StackEvents", [])
        if events:
            say("  last event:" + event_line(entry.name, events[0])[1:])
    return OK


def outputs(ctx: Context) -> int:
    for entry in ctx.manifest.selected:
        stack = describe_stack(ctx.aws.cfn(entry.region), entry.stack_name)
        ctx.reporter.say(f"== {entry.stack_name} ==", *(outputs_lines(stack) if stack else ["  not deployed"]), "")
    return OK


def _wanted_parameters(ctx: Context, entry: StackEntry, deployed: dict[str, str]) -> dict[str, str]:
    wanted = {k: v for k, v in entry.parameters.items() if k not in entry.kept_on_update}
    for key in entry.kept_on_update:
        if key in deployed:
            wanted[key] = deployed[key]
    for key, ref in entry.parameters_from_outputs.items():
        found = ctx.planner.outputs_of(ref.stack) or {}
        wanted[key] = found.get(ref.output, f"(known after apply: {ref.stack}.{ref.output})")
    for key in entry.no_echo():
        if key in wanted:
            wanted[key] = MASK
    return wanted


def diff(ctx: Context) -> int:
    differs = False
    for entry in ctx.manifest.selected:
        cfn = ctx.aws.cfn(entry.region)
        stack = ctx.provider.describe_stack(cfn, entry.stack_name)
        if not stack or stack["StackStatus"] == "REVIEW_IN_PROGRESS":
            new_file = f"out/{ctx.env}/{entry.template_path.name}"
            ctx.reporter.say(f"== {entry.stack_name}: not deployed (everything in {new_file} is new) ==")
            differs = True
            continue
        deployed_template = day2.deployed_template(cfn, stack["StackId"])
        sent = ctx.provider.sent_template(entry)
        lines = unified(
            canonical(deployed_template),
            canonical(sent),
            f"deployed/{entry.stack_name}",
            f"out/{ctx.env}/{entry.template_path.name}",
        )
        deployed = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
        wanted = _wanted_parameters(ctx, entry, deployed)
        lines += unified(
            [f"{k}={v}" for k, v in sorted(deployed.items())],
            [f"{k}={v}" for k, v in sorted(wanted.items())],
            f"deployed/{entry.stack_name}/parameters",
            f"out/{ctx.env}/{entry.name}/parameters",
        )
        lines += _value_lines(entry, stack, deployed_template, sent, deployed, wanted)
        if lines:
            differs = True
            ctx.reporter.say(f"== {entry.stack_name}: differs ==", *lines, "")
        else:
            ctx.reporter.say(f"== {entry.stack_name}: no differences ==")
    return CHANGES if differs and ctx.detailed_exitcode else OK


def _value_lines(
    entry: StackEntry,
    stack: dict[str, Any],
    old: dict[str, Any],
    sent: dict[str, Any],
    deployed: dict[str, str],
    wanted: dict[str, str],
) -> list[str]:
    """The value-level view plan shows (changes.py), from the two templates: no change set here."""
    no_echo = entry.no_echo()
    computed = changes.template_values(
        old,
        sent,
        changes.masked(update_rules.effective_parameters(old, deployed), no_echo),
        changes.masked(update_rules.effective_parameters(sent, wanted), no_echo),
        entry.region,
    )
    tags = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
    return value_lines(
        list(computed.values()),
        changes.mapping_changes(changes.masked(deployed, no_echo), changes.masked(wanted, no_echo)),
        changes.mapping_changes(tags, entry.tags),
    )


def _deletion(ctx: Context, entry: StackEntry, stack: dict[str, Any]) -> policy.Deletion:
    selected = {e.name for e in ctx.manifest.selected}
    dependants = tuple(
        (other.stack_name, other.name)
        for other in ctx.manifest.stacks
        if entry.name in other.depends_on
        and other.name not in selected
        and describe_stack(ctx.aws.cfn(other.region), other.stack_name)
    )
    protected = bool(stack.get("EnableTerminationProtection"))
    return policy.Deletion(entry.stack_name, entry.region, protected, dependants)


def destroy(ctx: Context) -> int:
    say = ctx.reporter.say
    present = []
    for entry in reversed(ctx.manifest.selected):
        stack = describe_stack(ctx.aws.cfn(entry.region), entry.stack_name)
        if stack:
            present.append((entry, stack))
        else:
            say(f"{entry.stack_name}: not deployed, nothing to delete")
    refusals = policy.deletion_refusals([_deletion(ctx, entry, stack) for entry, stack in present])
    if refusals:
        say(*refusal_lines(refusals))
        return FAILED
    if not present:
        return OK
    say("Will delete, in this order:")
    for entry, stack in present:
        say(f"  {entry.stack_name} ({stack['StackStatus']})")
        say(*retention.kept_lines(entry, _retained(ctx, entry, stack)))
    if not ctx.confirm(f"Delete {len(present)} stack(s) of {ctx.env}?"):
        say("Nothing deleted.")
        return OK
    for entry, stack in present:
        if not _delete(ctx, entry, stack):
            return FAILED
    return OK


def _retained(ctx: Context, entry: StackEntry, stack: dict[str, Any]) -> list[retention.Kept]:
    """The deployed template's retained resources (out/'s if it cannot be read), with physical names."""
    cfn = ctx.aws.cfn(entry.region)
    try:
        body = cfn.get_template(StackName=stack["StackId"])["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
    except (ClientError, ValueError):
        template = entry.template
    return retention.retained(cfn, stack["StackId"], template)


def _delete(ctx: Context, entry: StackEntry, stack: dict[str, Any]) -> bool:
    say = ctx.reporter.say
    cfn = ctx.aws.cfn(entry.region)
    marker = latest_event_id(cfn, stack["StackId"])
    leftovers = ctx.provider.deletion_leftovers(cfn, stack["StackId"])
    try:
        cfn.delete_stack(StackName=stack["StackId"])
    except ClientError as exc:
        gone = ctx.provider.deleted_despite_error(cfn, entry.stack_name, exc)
        if gone:
            say(gone, *ctx.provider.remove_leftovers(ctx.aws, entry.region, leftovers))
            return True
        say(f"== {entry.stack_name}: FAILED ==", f"  DeleteStack failed: {error_message(exc)}")
        return False
    final, events = wait_for_stack(cfn, stack["StackId"], marker, ctx.waiter, lambda e: say(event_line(entry.name, e)))
    if final["StackStatus"] != "DELETE_COMPLETE":
        say(f"== {entry.stack_name}: FAILED ==")
        for e in events:
            if e["ResourceStatus"].endswith("_FAILED"):
                say(f"    - {e['LogicalResourceId']} ({e.get('ResourceType')}): {e.get('ResourceStatusReason')}")
        say(f"  final status: {final['StackStatus']}")
        return False
    say(f"== {entry.stack_name}: DELETE_COMPLETE ==", *ctx.provider.remove_leftovers(ctx.aws, entry.region, leftovers))
    return True
