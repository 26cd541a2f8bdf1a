"""What an update does to each resource, worked out from the deployed template and the one in out/,
not from the change set alone (moto reports no Replacement or Details, and AWS reports Replacement
"Conditional" where the template already decides it). Pure functions: no AWS calls, no output.

Sources, one per rule (each rule is tested with the change that triggers it):

- Replacement: a change to a property listed in the resource type's ``createOnlyProperties`` replaces
  the resource; ``conditionalCreateOnlyProperties`` may replace it. The schemas are the CloudFormation
  registry's, as bundled with cfn-lint (``cfnlint.schema.PROVIDER_SCHEMA_MANAGER``):
  https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html
  A resource that refers (Ref, Fn::GetAtt) to a replaced one changes with it.
- Custom names: "CloudFormation cannot update a stack when a custom-named resource requires
  replacing" (the CloudFormation "Name type" page):
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html
- ECS deployment controllers: "For services using the blue/green (CODE_DEPLOY) deployment controller,
  only the desired count, deployment configuration, health check grace period, task placement
  constraints and strategies, enable ECS managed tags option, and propagate tags can be updated using
  this API"; for EXTERNAL only the desired count, placement, grace period, managed tags and propagate
  tags (ECS API reference, UpdateService):
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The property that holds a resource's custom name, for the types these stacks use that the
# "Name type" page lists (tests check that each is create-only in the bundled schema).
NAME_PROPERTIES = {
    "AWS::ApplicationAutoScaling::ScalingPolicy": "PolicyName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodeDeploy::Application": "ApplicationName",
    "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::CodeStarConnections::Connection": "ConnectionName",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::Service": "ServiceName",
    "AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
    "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
}
# What UpdateService may change, per deployment controller (ECS API reference, UpdateService);
# Tags are applied with TagResource, not UpdateService. Any other property change is rejected.
UPDATABLE_BY_CONTROLLER = {
    "CODE_DEPLOY": frozenset(
        {
            "DesiredCount",
            "DeploymentConfiguration",
            "HealthCheckGracePeriodSeconds",
            "PlacementConstraints",
            "PlacementStrategies",
            "EnableECSManagedTags",
            "PropagateTags",
            "Tags",
        }
    ),
    "EXTERNAL": frozenset(
        {
            "DesiredCount",
            "HealthCheckGracePeriodSeconds",
            "PlacementConstraints",
            "PlacementStrategies",
            "EnableECSManagedTags",
            "PropagateTags",
            "Tags",
        }
    ),
}
REPLACED = "<replaced>"


@dataclass(frozen=True)
class ResourceUpdate:
    """A resource present in both templates whose resolved properties differ."""

    logical_id: str
    resource_type: str
    changed: tuple[str, ...]  # top-level properties whose value changes
    replaced_by: tuple[str, ...] = ()  # create-only properties among them ("Type" when the type changes)
    may_replace_by: tuple[str, ...] = ()  # conditionally create-only properties among them

    @property
    def replaces(self) -> bool:
        return bool(self.replaced_by)


@dataclass(frozen=True)
class NamedReplacement:
    logical_id: str
    resource_type: str
    name_property: str
    name: str
    replaced_by: tuple[str, ...]


@dataclass(frozen=True)
class ControllerLimit:
    logical_id: str
    controller: str
    rejected: tuple[str, ...]  # changed properties UpdateService cannot change on this controller


@functools.cache
def create_only(resource_type: str, region: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(createOnlyProperties, conditionalCreateOnlyProperties) of a type as property paths without the
    leading "/properties/" (e.g. "Port", "EncryptionConfiguration/KmsKey"); empty for an unknown type."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except ResourceNotFoundError:
        return (), ()

    def paths(key: str) -> tuple[str, ...]:
        return tuple(p.removeprefix("/properties/") for p in schema.get(key) or [])

    return paths("createOnlyProperties"), paths("conditionalCreateOnlyProperties")


def effective_parameters(template: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, str]:
    """Parameter values as the stack sees them: those given, else the template's defaults; a list
    (moto returns CommaDelimitedList values as lists) is joined with commas."""
    values: dict[str, str] = {}
    for key, declared in (template.get("Parameters") or {}).items():
        value = given.get(key, declared.get("Default"))
        if value is not None:
            values[key] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return values


def _resolve(value: Any, parameters: Mapping[str, str], replaced: set[str]) -> Any:
    """The value with parameter Refs replaced by their values, and Refs/GetAtts of replaced resources by
    a marker (their new physical ID or attribute differs from the deployed one)."""
    if isinstance(value, list):
        return [_resolve(v, parameters, replaced) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and "Ref" in value and isinstance(value["Ref"], str):
        name = value["Ref"]
        if name in parameters:
            return parameters[name]
        return f"{REPLACED}{name}" if name in replaced else value
    if len(value) == 1 and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        name = target[0] if isinstance(target, list) else str(target).split(".")[0]
        return f"{REPLACED}{name}" if name in replaced else value
    return {k: _resolve(v, parameters, replaced) for k, v in value.items()}


def _at(properties: Any, path: str) -> Any:
    for part in path.split("/"):
        if not isinstance(properties, dict):
            return None
        properties = properties.get(part)
    return properties


def resource_updates(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_parameters: Mapping[str, str],
    new_parameters: Mapping[str, str],
    region: str,
) -> list[ResourceUpdate]:
    """Every resource in both templates whose resolved properties differ, with what replaces it,
    in logical-ID order. Replacement spreads to whatever refers to a replaced resource."""
    old_resources, new_resources = old.get("Resources") or {}, new.get("Resources") or {}
    common = sorted(set(old_resources) & set(new_resources))
    replaced: set[str] = set()
    while True:
        found = [
            _update(lid, old_resources[lid], new_resources[lid], old_parameters, new_parameters, replaced, region)
            for lid in common
        ]
        updates = [u for u in found if u]
        now = {u.logical_id for u in updates if u.replaces}
        if now <= replaced:
            return updates
        replaced |= now


def _update(
    logical_id: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_parameters: Mapping[str, str],
    new_parameters: Mapping[str, str],
    replaced: set[str],
    region: str,
) -> ResourceUpdate | None:
    kind = new.get("Type", "?")
    if old.get("Type") != kind:
        return ResourceUpdate(logical_id, kind, ("Type",), ("Type",))
    before = _resolve(old.get("Properties") or {}, old_parameters, set())
    after = _resolve(new.get("Properties") or {}, new_parameters, replaced)
    changed = tuple(sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)))
    if not changed:
        return None
    always, maybe = create_only(kind, region)
    return ResourceUpdate(
        logical_id,
        kind,
        changed,
        tuple(p for p in always if _at(before, p) != _at(after, p)),
        tuple(p for p in maybe if _at(before, p) != _at(after, p)),
    )


def named_replacements(
    updates: Iterable[ResourceUpdate], new: Mapping[str, Any], parameters: Mapping[str, str]
) -> list[NamedReplacement]:
    """Replaced resources that keep a custom name: CloudFormation cannot replace them (it would have to
    create the new one under the name the old one still holds)."""
    found = []
    resources = new.get("Resources") or {}
    for update in updates:
        prop = NAME_PROPERTIES.get(update.resource_type)
        if not update.replaces or not prop or prop in update.replaced_by:
            continue
        name = _resolve((resources.get(update.logical_id, {}).get("Properties") or {}).get(prop), parameters, set())
        if name is not None:
            found.append(NamedReplacement(update.logical_id, update.resource_type, prop, str(name), update.replaced_by))
    return found


def controller_limits(updates: Iterable[ResourceUpdate], old: Mapping[str, Any]) -> list[ControllerLimit]:
    """ECS services whose deployed controller (CODE_DEPLOY, EXTERNAL) rejects an UpdateService of the
    properties this update changes (replaced services are not updated, so they are not listed)."""
    found = []
    resources = old.get("Resources") or {}
    for update in updates:
        if update.resource_type != "AWS::ECS::Service" or update.replaces:
            continue
        controller = ((resources[update.logical_id].get("Properties") or {}).get("DeploymentController") or {}).get(
            "Type", "ECS"
        )
        allowed = UPDATABLE_BY_CONTROLLER.get(str(controller))
        rejected = tuple(p for p in update.changed if allowed is not None and p not in allowed)
        if rejected:
            found.append(ControllerLimit(update.logical_id, str(controller), rejected))
    return found


def as_changes(updates: Iterable[ResourceUpdate]) -> list[dict[str, Any]]:
    """The updates in DescribeChangeSet's Changes shape (Modify, Replacement True or False)."""
    return [
        {
            "Type": "Resource",
            "ResourceChange": {
                "Action": "Modify",
                "LogicalResourceId": u.logical_id,
                "ResourceType": u.resource_type,
                "Replacement": "True" if u.replaces else ("Conditional" if u.may_replace_by else "False"),
            },
        }
        for u in updates
    ]


def changed_outputs(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    old_parameters: Mapping[str, str],
    new_parameters: Mapping[str, str],
    updates: Iterable[ResourceUpdate],
) -> set[str]:
    """Outputs whose value the update may change (their expression differs, or names a replaced
    resource): a stack wired to them will be planned again with new values."""
    replaced = {u.logical_id for u in updates if u.replaces}
    before, after = old.get("Outputs") or {}, new.get("Outputs") or {}
    return {
        name
        for name in set(before) & set(after)
        if _resolve(before[name].get("Value"), old_parameters, set())
        != _resolve(after[name].get("Value"), new_parameters, replaced)
    }
