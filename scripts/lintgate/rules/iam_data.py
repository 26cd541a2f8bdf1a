"""AWS's IAM authorization data as bundled with cfn-lint, and ARN matching for the E9110 rule.

The data is cfn-lint's ``cfnlint/data/AdditionalSpecs/Policies.json`` (built by cfn-lint's maintenance
script from the Service Authorization Reference, https://servicereference.us-east-1.amazonaws.com),
loaded with cfn-lint's own loader. Per service prefix:

* ``Actions``: lower-case action name -> ``{"Resources": [resource type, ...]}``, or ``{}`` when the
  action has no resource types (AWS grants it only on ``"*"``);
* ``Resources``: lower-case resource type -> ``{"ARNFormats": [...]}``, formats such as
  ``arn:${Partition}:logs:${Region}:${Account}:log-group:.*`` (cfn-lint cuts each format at its first
  ``${Name}`` part after the account and puts ``.*`` there).

The rule module imports it; it defines no rules itself.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource

# Pattern tokens. A literal character is itself (a one-character string); the others are markers.
ANY = "\x00any"  # any string, colons included: "*" in a policy ARN, ".*" or "*" in an ARN format
SEGMENT = "\x00seg"  # any string without ":": ${Partition}, ${Region}, ${Account} in an ARN format
ONE = "\x00one"  # any one character: "?" in a policy ARN
# Stands in for what a template cannot tell (a parameter, an attribute that is no ARN): any string.
PLACEHOLDER = "\ue000"

# The sample account every resolved ARN uses (the ARN formats accept any partition, region, account).
PARTITION, REGION, ACCOUNT = "aws", "eu-west-1", "123456789012"
PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}
_RA = f"{REGION}:{ACCOUNT}"
_ID = "0123456789abcdef"

# A sample ARN per (CloudFormation resource type, "Ref" or attribute) whose value is an ARN (the
# CloudFormation resource reference, "Return values"). Every type in out/ with an ARN-valued Ref or
# attribute is here. Types in out/ without one are deliberately absent, so a reference to them is
# skipped: AWS::EC2::* (IDs), AWS::CodeDeploy::Application and ::DeploymentGroup (names),
# AWS::ECS::TaskSet and ::PrimaryTaskSet, AWS::ApplicationAutoScaling::ScalableTarget,
# AWS::S3::BucketPolicy, AWS::SNS::TopicPolicy.
_ARNS: dict[tuple[str, ...], str] = {
    ("AWS::ApplicationAutoScaling::ScalingPolicy", "Ref", "Arn"): (
        f"arn:aws:autoscaling:{_RA}:scalingPolicy:00000000-0000-0000-0000-000000000000:"
        "resource/ecs/service/x/y:policyName/x"
    ),
    ("AWS::CloudWatch::Alarm", "Arn"): f"arn:aws:cloudwatch:{_RA}:alarm:x",
    ("AWS::CodeBuild::Project", "Arn"): f"arn:aws:codebuild:{_RA}:project/x",
    ("AWS::CodePipeline::Pipeline", "Arn"): f"arn:aws:codepipeline:{_RA}:x",
    ("AWS::CodeStarConnections::Connection", "Ref", "ConnectionArn"): (
        f"arn:aws:codestar-connections:{_RA}:connection/x"
    ),
    ("AWS::CodeStarNotifications::NotificationRule", "Ref", "Arn"): (
        f"arn:aws:codestar-notifications:{_RA}:notificationrule/x"
    ),
    ("AWS::ECR::Repository", "Arn"): f"arn:aws:ecr:{_RA}:repository/x",
    ("AWS::ECS::Cluster", "Arn"): f"arn:aws:ecs:{_RA}:cluster/x",
    ("AWS::ECS::Service", "Ref", "ServiceArn"): f"arn:aws:ecs:{_RA}:service/x/y",
    ("AWS::ECS::TaskDefinition", "Ref", "TaskDefinitionArn"): f"arn:aws:ecs:{_RA}:task-definition/x:1",
    ("AWS::ElasticLoadBalancingV2::Listener", "Ref", "ListenerArn"): (
        f"arn:aws:elasticloadbalancing:{_RA}:listener/app/x/{_ID}/{_ID}"
    ),
    ("AWS::ElasticLoadBalancingV2::ListenerRule", "Ref", "RuleArn"): (
        f"arn:aws:elasticloadbalancing:{_RA}:listener-rule/app/x/{_ID}/{_ID}/{_ID}"
    ),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Ref", "LoadBalancerArn"): (
        f"arn:aws:elasticloadbalancing:{_RA}:loadbalancer/app/x/{_ID}"
    ),
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Ref", "TargetGroupArn"): (
        f"arn:aws:elasticloadbalancing:{_RA}:targetgroup/x/{_ID}"
    ),
    ("AWS::IAM::ManagedPolicy", "Ref", "PolicyArn"): f"arn:aws:iam::{ACCOUNT}:policy/x",
    ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{ACCOUNT}:role/x",
    ("AWS::KMS::Key", "Arn"): f"arn:aws:kms:{_RA}:key/x",
    ("AWS::Lambda::Function", "Arn"): f"arn:aws:lambda:{_RA}:function:x",
    ("AWS::Logs::LogGroup", "Arn"): f"arn:aws:logs:{_RA}:log-group:x:*",
    ("AWS::S3::Bucket", "Arn"): "arn:aws:s3:::x",
    ("AWS::SecretsManager::Secret", "Ref", "Id"): f"arn:aws:secretsmanager:{_RA}:secret:x-AbCdEf",
    ("AWS::SNS::Topic", "Ref", "TopicArn"): f"arn:aws:sns:{_RA}:x",
    ("AWS::SQS::Queue", "Arn"): f"arn:aws:sqs:{_RA}:x",
}
SAMPLE_ARNS: dict[tuple[str, str], str] = {(key[0], how): arn for key, arn in _ARNS.items() for how in key[1:]}


@functools.lru_cache(maxsize=1)
def service_map() -> dict[str, Any]:
    return load_resource(AdditionalSpecs, "Policies.json")


def actions_of(service: str) -> dict[str, Any] | None:
    """The service's actions (lower-case name -> entry), None for an unknown service prefix."""
    entry = service_map().get(service.lower())
    return entry.get("Actions", {}) if isinstance(entry, dict) else None


def resource_types(service: str, action: str) -> list[str]:
    """The resource types the data lists for a known action ([] when it is granted only on "*")."""
    actions = actions_of(service) or {}
    return list(actions.get(action.lower(), {}).get("Resources", []))


def arn_formats(service: str, resource_type: str) -> list[str]:
    resources = service_map()[service.lower()].get("Resources", {})
    return list(resources.get(resource_type.lower(), {}).get("ARNFormats", []))


def wildcard_matches(service: str, pattern: str) -> list[str]:
    """The service's action names an action pattern with * or ? names (case-insensitive)."""
    regex = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()))
    return [name for name in actions_of(service) or {} if regex.fullmatch(name)]


# --- patterns -------------------------------------------------------------------------------------------


def policy_pattern(arn: str) -> tuple[str, ...]:
    """A policy's Resource ARN as tokens: * any string, ? any one character, the placeholder any string."""
    return tuple(ANY if c in ("*", PLACEHOLDER) else ONE if c == "?" else c for c in arn)


@functools.lru_cache(maxsize=4096)
def format_pattern(arn_format: str) -> tuple[str, ...]:
    """An ARN format as tokens: ${Name} before the resource part matches one ARN field, after it any
    string; ".*" and a bare "*" any string; everything else (a literal ".") is itself."""
    tokens: list[str] = []
    i = 0
    while i < len(arn_format):
        if arn_format.startswith("${", i) and "}" in arn_format[i:]:
            i = arn_format.index("}", i) + 1
            tokens.append(SEGMENT if tokens.count(":") < 5 else ANY)
        elif arn_format.startswith(".*", i):
            tokens.append(ANY)
            i += 2
        else:
            tokens.append(ANY if arn_format[i] == "*" else arn_format[i])
            i += 1
    return tuple(tokens)


def _accepts(star: str, token: str) -> bool:
    """Whether a star (ANY or SEGMENT) can consume the one character that token stands for."""
    return star == ANY or token != ":"


def overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Whether some ARN matches both patterns (the two wildcard languages intersect)."""
    stars = (ANY, SEGMENT)

    @functools.cache
    def walk(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        ta = a[i] if i < len(a) else None
        tb = b[j] if j < len(b) else None
        if ta in stars and walk(i + 1, j):
            return True
        if tb in stars and walk(i, j + 1):
            return True
        if ta is None or tb is None:
            return False
        if ta in stars and tb not in stars:
            return _accepts(ta, tb) and walk(i, j + 1)
        if tb in stars and ta not in stars:
            return _accepts(tb, ta) and walk(i + 1, j)
        if ta in stars:  # both stars: consuming a common character leads back to this state
            return False
        return (ta == tb or ONE in (ta, tb)) and walk(i + 1, j + 1)

    return walk(0, 0)


def matches_format(arn: str, arn_format: str) -> bool:
    return overlaps(policy_pattern(arn), format_pattern(arn_format))


# --- resolving a policy's Resource element --------------------------------------------------------------


@dataclass(frozen=True)
class Arn:
    """A Resource entry as far as the template tells: its ARN (with placeholders) and how it is written."""

    arn: str
    shown: str


def _fragment(value: Any, resources: dict) -> str | None:
    """A value inside Fn::Sub or Fn::Join: a literal, a pseudo parameter, a resource's ARN, else the
    placeholder; None for what is no string at all (Fn::If and other functions)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref" and isinstance(argument, str):
            return _name(argument, resources)
        if function == "Fn::GetAtt":
            if isinstance(argument, list) and all(isinstance(part, str) for part in argument):
                return _name(".".join(argument), resources)
            return _name(argument, resources) if isinstance(argument, str) else None
    return None


def _name(name: str, resources: dict) -> str:
    """${Name} or ${Name.Attr}: a pseudo parameter's sample value, a resource's sample ARN, else the placeholder."""
    if name in PSEUDO:
        return PSEUDO[name]
    logical_id, _, attribute = name.partition(".")
    resource = resources.get(logical_id)
    kind = resource.get("Type") if isinstance(resource, dict) else None
    return SAMPLE_ARNS.get((kind, attribute or "Ref"), PLACEHOLDER) if isinstance(kind, str) else PLACEHOLDER


def _sub(text: str, variables: dict, resources: dict) -> str | None:
    pieces = re.split(r"\$\{([^}]*)\}", text)  # literal, name, literal, name, ..., literal
    parts = pieces[::2]
    for index, name in enumerate(pieces[1::2]):
        if name.startswith("!"):  # ${!Literal} is the text ${Literal}
            value: str | None = "${" + name[1:] + "}"
        else:
            value = _fragment(variables[name], resources) if name in variables else _name(name, resources)
        if value is None:
            return None
        parts[index] += value
    return "".join(parts)


def resolve(value: Any, resources: dict) -> Arn | None:
    """The ARN a Resource entry stands for, or None when the template cannot tell (skipped, not guessed)."""
    text: str | None = None
    shown = json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        text, shown = value, value
    elif isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Sub" and isinstance(argument, str):
            text, shown = _sub(argument, {}, resources), argument
        elif function == "Fn::Sub" and isinstance(argument, list) and len(argument) == 2:
            if isinstance(argument[0], str) and isinstance(argument[1], dict):
                text, shown = _sub(argument[0], argument[1], resources), argument[0]
        elif function == "Fn::Join" and isinstance(argument, list) and len(argument) == 2:
            if isinstance(argument[0], str) and isinstance(argument[1], list):
                parts = [_fragment(part, resources) for part in argument[1]]
                text = None if None in parts else argument[0].join(p for p in parts if p is not None)
        elif function in ("Ref", "Fn::GetAtt"):
            text = _fragment(value, resources)
            name = ".".join(map(str, argument)) if isinstance(argument, list) else str(argument)
            resource = resources.get(name.split(".")[0])
            kind = resource.get("Type") if isinstance(resource, dict) else None
            shown = f"{function} {name} (the ARN of an {kind}, such as {text})"
    if text is None or not (text == "*" or text.startswith("arn:")):
        return None
    return Arn(text, shown)
