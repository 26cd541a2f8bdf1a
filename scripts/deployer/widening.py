"""Access changes of a stack update: IAM grants and security-group ingress that out/'s template adds or
broadens against the deployed one, parameters resolved on both sides. Pure functions (no AWS calls).
plan shows them; apply refuses a widening update unless --allow-widening (exit 2), and an interactive
apply asks about it on its own.

- IAM: each Allow statement (role inline and trust policies, IAM and managed policies, resource
  policies of S3, SNS, SQS, ECR, KMS, Lambda permissions) is split into grants (principal, action,
  resource). A grant is new access unless a deployed statement of the same document covers it: an
  action and a resource pattern (IAM wildcards) matching it, the principal (or *), and each deployed
  condition kept with no more values. A Deny removed and a managed policy attached widen too.
- Ingress (inline or AWS::EC2::SecurityGroupIngress): a rule is new access unless a deployed rule of
  the same group and protocol covers its port range and source (a CIDR as a supernet).
- Narrowing is the same comparison the other way round: shown, never blocking. A create lists its
  access (kind "create") and never blocks: there is no deployed access to widen.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from . import day2, update_rules
from .plans import ChangeKind, Plan, PlanState
from .template_values import resolve

WIDER, NARROWER, CREATE = "wider", "narrower", "create"
# Resource types whose property holds a policy document (resource policies and IAM policies).
DOCUMENTS = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::ECR::Repository": "RepositoryPolicyText",
    "AWS::KMS::Key": "KeyPolicy",
}
ATTACHMENTS = ("Roles", "Users", "Groups")
# A Lambda permission's scoping properties, as the conditions of the statement it adds to the function policy.
PERMISSION_CONDITIONS = (
    ("SourceArn", "ArnLike", "AWS:SourceArn"),
    ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
    ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
)
SOURCES = ("CidrIp", "CidrIpv6", "SourceSecurityGroupId", "SourceSecurityGroupName", "SourcePrefixListId")


@dataclass(frozen=True)
class AccessChange:
    """One row of the access-changes table: where, what, and whether it widens, narrows or creates."""

    kind: str  # WIDER, NARROWER or CREATE
    logical_id: str
    resource_type: str
    what: str


# --- values ----------------------------------------------------------------------------------


def text(value: Any) -> str:
    """A value as shown and compared: strings as they are, anything else as compact sorted JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _glob(pattern: str, value: str) -> bool:
    """IAM wildcard matching (* and ?); actions are compared lower-cased (IAM action names ignore case)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


# --- IAM -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    effect: str
    principals: tuple[str, ...]  # "" for an identity policy (no Principal)
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # "*" for none (a trust policy or a key policy's own key)
    conditions: frozenset[tuple[str, str, frozenset[str]]]  # (operator, key, values)
    negated: bool = False  # NotAction, NotResource or NotPrincipal: compared only as a whole


def _principals(statement: Mapping[str, Any]) -> tuple[str, ...]:
    principal = statement.get("Principal", statement.get("NotPrincipal"))
    if principal is None:
        return ("",)
    if principal == "*" or not isinstance(principal, dict):
        return (text(principal),)
    return tuple(sorted(f"{kind}:{text(p)}" for kind, ps in principal.items() for p in _list(ps)))


def statement(raw: Mapping[str, Any]) -> Statement:
    conditions = frozenset(
        (op, key, frozenset(text(v) for v in _list(values)))
        for op, keys in (raw.get("Condition") or {}).items()
        for key, values in keys.items()
    )
    actions = _list(raw.get("Action", raw.get("NotAction")))
    resources = _list(raw.get("Resource", raw.get("NotResource"))) or ["*"]
    return Statement(
        effect=str(raw.get("Effect", "Allow")),
        principals=_principals(raw),
        actions=tuple(sorted({text(a).lower() for a in actions})),
        resources=tuple(sorted({text(r) for r in resources})),
        conditions=conditions,
        negated=any(k in raw for k in ("NotAction", "NotResource", "NotPrincipal")),
    )


def documents(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[tuple[str, str, str], Any]:
    """(logical ID, type, which) -> statements, for each policy document of the template; a role's inline
    policies are one document (all grant to the role); managed policy ARNs and attachments are listed."""
    found: dict[tuple[str, str, str], Any] = {}
    for logical, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type", "")
        props = resolve(resource.get("Properties") or {}, parameters)
        if kind == "AWS::IAM::Role":
            found[(logical, kind, "inline policies")] = [
                s for p in _list(props.get("Policies")) for s in _list((p.get("PolicyDocument") or {}).get("Statement"))
            ]
            found[(logical, kind, "trust policy")] = _list(
                (props.get("AssumeRolePolicyDocument") or {}).get("Statement")
            )
            found[(logical, kind, "managed policies")] = [text(a) for a in _list(props.get("ManagedPolicyArns"))]
        elif kind == "AWS::Lambda::Permission":
            condition: dict[str, Any] = {}
            for prop, op, key in PERMISSION_CONDITIONS:
                condition.setdefault(op, {}).update({key: props[prop]} if prop in props else {})
            kind_of = "Service" if ".amazonaws.com" in text(props.get("Principal")) else "AWS"
            grant = {"Principal": {kind_of: props.get("Principal")}, "Action": props.get("Action")}
            found[(logical, kind, "permission")] = [
                {**grant, "Resource": props.get("FunctionName"), "Condition": condition}
            ]
        elif kind in DOCUMENTS:
            document = props.get(DOCUMENTS[kind]) or {}
            if isinstance(document, str):
                document = json.loads(document)
            found[(logical, kind, "policy")] = _list(document.get("Statement"))
            if kind.startswith("AWS::IAM::"):
                found[(logical, kind, "attached to")] = [
                    f"{a}:{text(n)}" for a in ATTACHMENTS for n in _list(props.get(a))
                ]
    return found


def _covers(old: Statement, new: Statement, principal: str, action: str, resource: str) -> bool:
    if old.negated or new.negated:
        return old == new
    if not (principal in old.principals or "*" in old.principals or "AWS:*" in old.principals):
        return False
    if not any(_glob(a, action) for a in old.actions) or not any(_glob(r, resource) for r in old.resources):
        return False
    have = {(op, key): values for op, key, values in new.conditions}
    return all((op, key) in have and have[(op, key)] <= values for op, key, values in old.conditions)


def uncovered(old: list[Statement], new: Statement) -> list[tuple[str, str, str]]:
    """The grants (principal, action, resource) of ``new`` that no statement of ``old`` covers."""
    return [
        (p, a, r)
        for p in new.principals
        for a in new.actions
        for r in new.resources
        if not any(_covers(o, new, p, a, r) for o in old)
    ]


def _describe(old: list[Statement], new: Statement, grants: list[tuple[str, str, str]], sign: str) -> str:
    """What a statement adds, in the terms a reviewer reads: principals, actions (with their resources),
    resources for actions already granted, else the conditions dropped."""
    parts = []
    added_principals = sorted({p for p, _, _ in grants if p and not any(p in o.principals for o in old)})
    added_actions = sorted({a for _, a, _ in grants if not any(_glob(x, a) for o in old for x in o.actions)})
    known = [(a, r) for _, a, r in grants if a not in added_actions]
    added_resources = sorted(
        {
            r
            for a, r in known
            if not any(_glob(x, r) for o in old if any(_glob(y, a) for y in o.actions) for x in o.resources)
        }
    )
    if added_principals:
        parts.append("principals " + ", ".join(added_principals))
    if added_actions:
        parts.append(f"actions {', '.join(added_actions)} on {', '.join(new.resources)}")
    if added_resources:
        actions = sorted({a for a, r in known if r in added_resources})
        parts.append(f"resources {', '.join(added_resources)} for {', '.join(actions)}")
    if not parts:
        dropped = sorted(
            {f"{op} {key}" for o in old for op, key, values in o.conditions}
            - {f"{op} {key}" for op, key, _ in new.conditions}
        )
        verb = "dropped or loosened" if sign == "+" else "added or tightened"
        return f"{new.effect} condition {verb} ({', '.join(dropped) or 'values'}) on " + ", ".join(new.actions)
    return f"{new.effect} {sign} " + f"; {sign} ".join(parts)


def _summary(statements: list[Statement]) -> str:
    """A create's document in one line: its statements and actions (first few)."""
    actions = sorted({a for s in statements for a in s.actions})
    shown = ", ".join(actions[:6]) + (f", ... ({len(actions)} actions)" if len(actions) > 6 else "")
    return f"{len(statements)} statement(s): {shown}"


def _iam_changes(old_docs: Any, new_docs: Any, kind: str) -> Iterator[AccessChange]:
    sign = "-" if kind == NARROWER else "+"
    for (logical, rtype, which), raw in new_docs.items():
        before = old_docs.get((logical, rtype, which), [])
        if which in ("managed policies", "attached to"):
            for item in sorted(set(raw) - set(before)):
                yield AccessChange(kind, logical, rtype, f"{which}: {sign} {item}")
            continue
        olds = [statement(s) for s in before if isinstance(s, dict)]
        if kind == CREATE:
            if raw:
                yield AccessChange(kind, logical, rtype, f"{which}: {_summary([statement(s) for s in raw])}")
            continue
        allows = [s for s in olds if s.effect == "Allow"]
        for s in (statement(s) for s in raw if isinstance(s, dict)):
            if s.effect == "Allow":
                grants = uncovered(allows, s)
                if grants:
                    yield AccessChange(kind, logical, rtype, f"{which}: {_describe(allows, s, grants, sign)}")
        denies = [d for d in (statement(s) for s in raw if isinstance(s, dict)) if d.effect == "Deny"]
        for d in (s for s in olds if s.effect == "Deny"):
            if uncovered(denies, d):
                verb = "added" if kind == NARROWER else "removed"
                yield AccessChange(kind, logical, rtype, f"{which}: Deny {verb} ({', '.join(d.actions)})")


# --- security-group ingress ------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    group: str
    protocol: str
    ports: tuple[int, int]
    source: tuple[str, str]  # (property, value)


def _group(value: Any) -> str:
    """A security group named by Ref or Fn::GetAtt: its logical ID; anything else as written."""
    ref = (value.get("Ref") or value.get("Fn::GetAtt")) if isinstance(value, dict) else None
    return str(ref[0] if isinstance(ref, list) else ref).split(".")[0] if ref else text(value)


def _rule(group: str, props: Mapping[str, Any]) -> Rule:
    protocol = str(props.get("IpProtocol", "-1")).lower()
    protocol = "-1" if protocol in ("-1", "all") else protocol
    if protocol == "-1" or "FromPort" not in props:
        ports = (0, 65535) if protocol in ("-1", "tcp", "udp") else (-1, -1)
    else:
        ports = (int(props["FromPort"]), int(props.get("ToPort", props["FromPort"])))
        ports = (0, 65535) if ports[0] == -1 else ports
    source = next(((k, text(props[k])) for k in SOURCES if k in props), ("", ""))
    return Rule(group, protocol, ports, source)


def ingress_rules(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[Rule, tuple[str, str]]:
    """Every ingress rule of the template -> (logical ID, type) of the resource that declares it."""
    found: dict[Rule, tuple[str, str]] = {}
    for logical, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type", "")
        props = resolve(resource.get("Properties") or {}, parameters)
        if kind == "AWS::EC2::SecurityGroup":
            for raw in _list(props.get("SecurityGroupIngress")):
                found[_rule(logical, raw)] = (logical, kind)
        elif kind == "AWS::EC2::SecurityGroupIngress":
            group = _group(props.get("GroupId", props.get("GroupName")))
            found[_rule(group, props)] = (logical, kind)
    return found


def _source_covers(old: tuple[str, str], new: tuple[str, str]) -> bool:
    if old == new:
        return True
    if old[0] != new[0] or old[0] not in ("CidrIp", "CidrIpv6"):
        return False
    try:
        a, b = ipaddress.ip_network(old[1], strict=False), ipaddress.ip_network(new[1], strict=False)
    except ValueError:  # not an address: an unresolved Ref or import, compared as written above
        return False
    return a.version == b.version and b.subnet_of(a)  # type: ignore[arg-type]


def rule_covers(old: Rule, new: Rule) -> bool:
    return (
        old.group == new.group
        and old.protocol in ("-1", new.protocol)
        and old.ports[0] <= new.ports[0]
        and new.ports[1] <= old.ports[1]
        and _source_covers(old.source, new.source)
    )


def _ports(rule: Rule) -> str:
    low, high = rule.ports
    return "all ports" if (low, high) == (0, 65535) else f"port {low}" if low == high else f"ports {low}-{high}"


def _describe_rule(old: list[Rule], new: Rule, kind: str) -> str:
    source, narrower = new.source[1] or "anywhere", kind == NARROWER
    same = [o for o in old if o.group == new.group and o.protocol in ("-1", new.protocol)]
    for o in (o for o in same if o.source == new.source):
        a, b = (_ports(new), _ports(o)) if narrower else (_ports(o), _ports(new))
        return f"ingress {new.protocol} from {source}: {a} -> {b} ({'narrower' if narrower else 'wider'} port range)"
    for o in (o for o in same if o.ports == new.ports and o.source[0] == new.source[0] == "CidrIp"):
        a, b = (source, o.source[1]) if narrower else (o.source[1], source)
        return f"ingress {new.protocol} {_ports(new)}: {a} -> {b} (covers {'fewer' if narrower else 'more'} addresses)"
    return f"ingress {new.protocol} {_ports(new)} from {source} ({'removed' if narrower else 'new'} rule)"


def _ingress_changes(
    old: dict[Rule, tuple[str, str]], new: dict[Rule, tuple[str, str]], kind: str
) -> Iterator[AccessChange]:
    olds = list(old)
    for rule, (logical, rtype) in new.items():
        if not any(rule_covers(o, rule) for o in olds):
            where = logical if rule.group == logical else f"{logical} (group {rule.group})"
            yield AccessChange(kind, where, rtype, _describe_rule(olds, rule, kind))


# --- the comparison --------------------------------------------------------------------------


def access_changes(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    old_parameters: Mapping[str, str],
    new_parameters: Mapping[str, str],
) -> list[AccessChange]:
    """Wider access first, then narrower; ``old`` None: a create (every grant and rule, kind CREATE)."""
    new_docs, new_rules = documents(new, new_parameters), ingress_rules(new, new_parameters)
    if old is None:
        return [*_iam_changes({}, new_docs, CREATE), *_ingress_changes({}, new_rules, CREATE)]
    old_docs, old_rules = documents(old, old_parameters), ingress_rules(old, old_parameters)
    return [
        *_iam_changes(old_docs, new_docs, WIDER),
        *_ingress_changes(old_rules, new_rules, WIDER),
        *_iam_changes(new_docs, old_docs, NARROWER),
        *_ingress_changes(new_rules, old_rules, NARROWER),
    ]


def widens(changes: list[AccessChange]) -> bool:
    return any(c.kind == WIDER for c in changes)


MARKS = {WIDER: "!! wider", NARROWER: "narrower", CREATE: "new stack"}


def access_lines(changes: list[AccessChange], limit: int = 40) -> list[str]:
    """The access-changes table of one stack (nothing when there is none); a create's rows are capped."""
    if not changes:
        return []
    rows = [[MARKS[c.kind], c.logical_id, c.resource_type, c.what] for c in changes]
    shown, rest = rows[:limit], len(rows) - limit
    widths = [max(len(r[i]) for r in shown) for i in range(3)]
    lines = ["  Access changes:" + (" (a create: listed, not gated)" if changes[0].kind == CREATE else "")]
    lines += ["    " + "  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in shown]
    if rest > 0:
        lines.append(f"    ... and {rest} more")
    return lines


def plan_changes(plan: Plan) -> list[AccessChange]:
    """The access changes of a plan ready to execute: an update with both templates (deployer.day2
    read the deployed one), or a create (out/'s template); none for other plans."""
    if plan.state is not PlanState.CHANGES:
        return []
    if plan.kind is ChangeKind.CREATE:
        new = plan.sent_template or plan.entry.template
        values = update_rules.effective_parameters(new, day2.new_parameters(plan))
        return access_changes(None, new, {}, values)
    if plan.deployed_template is None or plan.sent_template is None:
        return []
    before, after = day2.parameters(plan)
    return access_changes(plan.deployed_template, plan.sent_template, before, after)


def widening_plans(plans: Sequence[Plan]) -> list[tuple[Plan, list[AccessChange]]]:
    """The plans whose update widens access, each with its access changes (empty: none widens)."""
    found = [(p, plan_changes(p)) for p in plans]
    return [(p, changes) for p, changes in found if widens(changes)]
