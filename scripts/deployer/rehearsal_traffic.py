"""The traffic move of a blue/green deployment, emulated at its end state on exactly the listener
rules (or listeners) the released service's stack names, and on nothing else.

moto 5.2.5 runs no deployments: a release's UpdateService (ECS) or the CodeDeploy deployment the
rehearsal emulates (deployer.rehearsal_deploy) gives the service its new task definition and leaves
the load balancer as it was. On AWS the service's deployment controller then moves the service's
traffic to the other target group of its pair:

- ECS blue/green (DeploymentController ECS with Strategy BLUE_GREEN, LINEAR or CANARY) rewrites the
  forward weights of the listener rules the service names in ``LoadBalancers[].AdvancedConfiguration``
  (``ProductionListenerRule``, ``TestListenerRule``), between ``TargetGroupArn`` and
  ``AlternateTargetGroupArn``; when the deployment completes the new revision's target group has
  weight 100 and the other 0 (Amazon ECS Developer Guide, "Amazon ECS blue/green deployments").
- CodeDeploy (DeploymentController CODE_DEPLOY) reroutes, on the listeners its deployment group names
  (``ProdTrafficRoute``, ``TestTrafficRoute``), the traffic of the group's original target group to
  the replacement one, leaving the original in the forward action with weight 0. Of everything on
  those (possibly shared) listeners, the rehearsal moves only the listener rules of the service's own
  stack that forward to the group's target groups; a stack with no such rule (one service with
  listeners of its own) has its listeners' default actions moved instead.

Each move is a real ModifyRule (or ModifyListener) call on the emulator; which rules it targets, and
the end state it writes, are the emulation. Releases through the AWS::CodeDeployBlueGreen transform
(ECS task sets, DeploymentController EXTERNAL) are not moved: moto models no task sets (gap 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .rehearsal_actions import Release
from .rehearsal_model import DeployedStack, StepFailedError
from .routing import LISTENER, RULE, weights

SERVICE = "AWS::ECS::Service"
DEPLOYMENT_GROUP = "AWS::CodeDeploy::DeploymentGroup"
ECS_SHIFTING = ("BLUE_GREEN", "LINEAR", "CANARY")
DOC = (
    "Amazon ECS Developer Guide, Amazon ECS blue/green deployments, and AWS CodeDeploy User Guide, What happens "
    "during an Amazon ECS deployment"
)


@dataclass(frozen=True)
class Route:
    """One listener rule (or listener default action) a deployment moves, by ARN."""

    arn: str
    logical_id: str  # the stack's logical ID, or the ARN when the stack names it by value
    is_rule: bool


@dataclass(frozen=True)
class Move:
    """What a deployment of this service moves: its controller, its target group pair, its routes."""

    controller: str  # "ECS blue/green" or "CodeDeploy"
    pair: tuple[str, str]  # target group ARNs
    routes: tuple[Route, ...]


def _service(stack: DeployedStack) -> tuple[str, dict[str, Any]] | None:
    for logical_id, resource in stack.template.get("Resources", {}).items():
        if resource.get("Type") == SERVICE:
            return logical_id, resource.get("Properties", {})
    return None


def _named(stack: DeployedStack, value: Any, where: str, kind: str) -> Route:
    """A rule or listener the template names: a Ref to one of its resources, or a value it resolves."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in stack.resources:
        logical_id = value["Ref"]
        return Route(stack.resources[logical_id], logical_id, kind == RULE)
    arn = stack.resolve(value, where)
    return Route(arn, arn, kind == RULE)


def _target_group(stack: DeployedStack, value: Any, where: str, release: Release) -> str:
    """A target group ARN from a Ref or an ARN, or from a name (GetAtt X.TargetGroupName, a literal)."""
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        name, _ = value["Fn::GetAtt"] if isinstance(value["Fn::GetAtt"], list) else value["Fn::GetAtt"].split(".", 1)
        if name in stack.resources:
            return stack.resources[name]
    resolved = stack.resolve(value, where)
    if resolved.startswith("arn:"):
        return resolved
    groups = release.client("elbv2").describe_target_groups(Names=[resolved])["TargetGroups"]
    arn: str = groups[0]["TargetGroupArn"]
    return arn


def ecs_move(release: Release) -> Move | None:
    """The rules an ECS blue/green deployment of the service moves (None: not such a service)."""
    stack = release.service
    found = _service(stack)
    if not found:
        return None
    logical_id, properties = found
    controller = (properties.get("DeploymentController") or {}).get("Type", "ECS")
    strategy = (properties.get("DeploymentConfiguration") or {}).get("Strategy", "ROLLING")
    if controller != "ECS" or strategy not in ECS_SHIFTING:
        return None
    routes: list[Route] = []
    pair: tuple[str, str] | None = None
    for index, balancer in enumerate(properties.get("LoadBalancers") or []):
        advanced = balancer.get("AdvancedConfiguration") or {}
        where = f"{logical_id}.LoadBalancers[{index}].AdvancedConfiguration"
        for key in ("ProductionListenerRule", "TestListenerRule"):
            if advanced.get(key) is not None:
                routes.append(_named(stack, advanced[key], f"{where}.{key}", RULE))
        if advanced.get("AlternateTargetGroupArn") is not None and pair is None:
            pair = (
                _target_group(stack, balancer.get("TargetGroupArn"), f"{where} TargetGroupArn", release),
                _target_group(stack, advanced["AlternateTargetGroupArn"], f"{where}.AlternateTargetGroupArn", release),
            )
    if not routes or pair is None:
        return None
    return Move("ECS blue/green", pair, tuple(routes))


def codedeploy_move(release: Release) -> Move | None:
    """What a CodeDeploy deployment of the service moves (None: no deployment group in its stack)."""
    stack = release.service
    found = _service(stack)
    if not found or (found[1].get("DeploymentController") or {}).get("Type") != "CODE_DEPLOY":
        return None
    resources = stack.template.get("Resources", {})
    groups = [(k, r.get("Properties", {})) for k, r in resources.items() if r.get("Type") == DEPLOYMENT_GROUP]
    if len(groups) != 1:
        return None
    group_id, group = groups[0]
    pairs = (group.get("LoadBalancerInfo") or {}).get("TargetGroupPairInfoList") or []
    if len(pairs) != 1:
        return None
    info, where = pairs[0], f"{group_id}.LoadBalancerInfo.TargetGroupPairInfoList[0]"
    names = [g.get("Name") for g in info.get("TargetGroups") or []]
    if len(names) != 2:
        return None
    pair = (
        _target_group(stack, names[0], f"{where}.TargetGroups[0]", release),
        _target_group(stack, names[1], f"{where}.TargetGroups[1]", release),
    )
    listeners: list[Route] = []
    for route in ("ProdTrafficRoute", "TestTrafficRoute"):
        for index, value in enumerate((info.get(route) or {}).get("ListenerArns") or []):
            listeners.append(_named(stack, value, f"{where}.{route}.ListenerArns[{index}]", LISTENER))
    on = {listener.arn for listener in listeners}
    # The stack's own rules on those listeners that forward to the pair.
    rules = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != RULE or logical_id not in stack.resources:
            continue
        properties = resource.get("Properties", {})
        listener = stack.resolve(properties.get("ListenerArn"), f"{logical_id}.ListenerArn")
        if listener in on and set(weights(_live_rule(release, stack.resources[logical_id]))) & set(pair):
            rules.append(Route(stack.resources[logical_id], logical_id, True))
    if rules:
        return Move("CodeDeploy", pair, tuple(rules))
    own = tuple(listener for listener in listeners if listener.logical_id in stack.resources)
    return Move("CodeDeploy", pair, own) if own else None


def _live_rule(release: Release, arn: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = release.client("elbv2").describe_rules(RuleArns=[arn])["Rules"]
    return list(rules[0].get("Actions", []))


def _live(release: Release, route: Route) -> list[dict[str, Any]]:
    if route.is_rule:
        return _live_rule(release, route.arn)
    listeners = release.client("elbv2").describe_listeners(ListenerArns=[route.arn])["Listeners"]
    return list(listeners[0].get("DefaultActions", []))


def _short(arn: str) -> str:
    return arn.split("/")[-2] if ":targetgroup/" in arn else arn.rsplit("/", 1)[-1]


def move_traffic(release: Release, label: str) -> list[str]:
    """Emulate the end state of the traffic move of the deployment ``label`` made: on each route of
    the service's ``Move``, the target group of its pair that received traffic gets weight 0 and the
    other 100. Returns the ARNs it modified (none for a service whose controller moves no traffic here)."""
    stack = release.service
    move = ecs_move(release) or codedeploy_move(release)
    if move is None:
        return []
    elbv2 = release.client("elbv2")
    moved, shown = [], []
    for route in move.routes:
        shares = {arn: weight for arn, weight in weights(_live(release, route)).items() if arn in move.pair}
        receiving = [arn for arn, weight in shares.items() if weight > 0]
        if len(receiving) != 1:
            raise StepFailedError(
                label,
                f"{route.logical_id} of {stack.entry.stack_name} forwards to "
                f"{', '.join(f'{_short(a)}={w}' for a, w in shares.items()) or 'neither target group'} of the "
                f"pair {', '.join(map(_short, move.pair))}: a blue/green deployment needs exactly one of them "
                "receiving traffic",
                DOC,
            )
        old = receiving[0]
        new = move.pair[1] if old == move.pair[0] else move.pair[0]
        actions = [
            {
                "Type": "forward",
                "ForwardConfig": {
                    "TargetGroups": [{"TargetGroupArn": new, "Weight": 100}, {"TargetGroupArn": old, "Weight": 0}]
                },
            }
        ]
        if route.is_rule:
            elbv2.modify_rule(RuleArn=route.arn, Actions=actions)
        else:
            elbv2.modify_listener(ListenerArn=route.arn, DefaultActions=actions)
        moved.append(route.arn)
        shown.append(f"{route.logical_id}: {_short(new)} weight 100, {_short(old)} weight 0")
    kind = "rules" if all(r.is_rule for r in move.routes) else "listeners' default actions"
    release.emulated(
        f"{label}: {move.controller}'s traffic move (moto's deployments move none) — its end state on the {kind} "
        f"{stack.entry.stack_name} names, and nothing else: {'; '.join(shown)} "
        f"(Modify{'Rule' if move.routes[0].is_rule else 'Listener'}, real calls on the emulator)"
    )
    return moved
