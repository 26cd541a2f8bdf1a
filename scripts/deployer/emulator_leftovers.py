"""EMULATOR SUPPORT, gap 28 of deployer.emulator: what moto 5.2.5's DeleteStack leaves in place.

moto's models of these resource types have no CloudFormation delete, so deleting their stack leaves
them: ECS services and task definitions, ELB listener rules and target groups. A service stack of an
environment with several services puts its rules on the platform stack's shared listeners, where they
would keep routing to the leftover target groups, and creating the stack again would fail on the
target groups' names or the rules' priorities. destroy reads them before DeleteStack and deletes them
after it, as CloudFormation would have. None of this code runs against AWS.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .aws import Aws
from .retention import RETAINING

# What moto's DeleteStack leaves in place, in the order destroy then deletes it.
LEFT_BEHIND = (
    "AWS::ECS::Service",
    "AWS::ElasticLoadBalancingV2::ListenerRule",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ECS::TaskDefinition",
)


def deletion_leftovers(cfn: Any, stack_id: str) -> list[tuple[str, str]]:
    """Gap 28: (type, physical ID) of the stack's resources moto's DeleteStack will leave in place,
    those a DeletionPolicy retains excepted (CloudFormation keeps them too)."""
    try:
        body = cfn.get_template(StackName=stack_id)["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
    except (ClientError, ValueError):
        template = {}
    retained = {k for k, v in (template.get("Resources") or {}).items() if v.get("DeletionPolicy") in RETAINING}
    found = []
    for resource in cfn.describe_stack_resources(StackName=stack_id)["StackResources"]:
        kind, physical = resource.get("ResourceType"), resource.get("PhysicalResourceId")
        if kind in LEFT_BEHIND and physical and resource.get("LogicalResourceId") not in retained:
            found.append((kind, physical))
    return sorted(found, key=lambda item: LEFT_BEHIND.index(item[0]))


def remove_leftovers(aws: Aws, region: str, leftovers: list[tuple[str, str]]) -> list[str]:
    """Gap 28: delete what moto left of a deleted stack, as CloudFormation's DeleteStack would have."""
    if not leftovers:
        return []
    ecs, elbv2 = aws.client("ecs", region), aws.client("elbv2", region)
    removed = []
    for kind, physical in leftovers:
        try:
            if kind == "AWS::ECS::Service":
                ecs.delete_service(cluster=physical.split("/")[-2], service=physical, force=True)
            elif kind == "AWS::ElasticLoadBalancingV2::ListenerRule":
                elbv2.delete_rule(RuleArn=physical)
            elif kind == "AWS::ElasticLoadBalancingV2::TargetGroup":
                elbv2.delete_target_group(TargetGroupArn=physical)
            else:
                ecs.deregister_task_definition(taskDefinition=physical)
        except ClientError:
            continue  # already gone (moto deleted it after all): nothing to do
        removed.append(kind.rsplit("::", 1)[-1])
    if not removed:
        return []
    counts = ", ".join(f"{removed.count(kind)} {kind}" for kind in dict.fromkeys(removed))
    return [f"  emulator: moto's DeleteStack left {counts} in place (gap 28); deleted now, as CloudFormation does"]
