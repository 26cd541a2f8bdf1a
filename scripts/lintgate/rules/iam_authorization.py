"""Project cfn-lint rule: IAM permissions checked against AWS's own IAM authorization data.

E9110: every Allow statement of every IAM permissions policy in the template (the inline Policies of
       AWS::IAM::Role/User/Group, and AWS::IAM::Policy, ::ManagedPolicy, ::RolePolicy, ::UserPolicy,
       ::GroupPolicy; never AssumeRolePolicyDocument, a trust policy grants no permission) names
       1. actions that exist (service prefix and action, case-insensitive; a wildcard must match at
          least one action; "Action": "*" alone is not least privilege);
       2. an action with no resource types in the data only with "Resource": "*" (AWS grants such an
          action only on "*": an ARN there grants nothing);
       3. an action with resource types with at least one Resource of one of those types.
       Resources are read where the template tells their ARN (a literal, Fn::Sub, Fn::Join, Ref and
       Fn::GetAtt of resources of the template, see iam_data.SAMPLE_ARNS); a statement with a Resource
       the template cannot tell (a parameter, Fn::If, ...) or with "*" is not checked for 2 and 3.
       Checks 2 and 3 apply to actions without wildcards. A statement written for several actions and
       resource types (e.g. a service and its task sets) passes 3 when each action has one Resource
       of its types.

Data: cfn-lint's bundled copy of the Service Authorization Reference (iam_data.py). Known
differences between that data and what AWS accepts are in ALLOW_LIST, each with its source.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import iam_data as iam

# Action (lower case) -> ARN formats (iam_data syntax: ${Partition}/${Region}/${Account}, ".*") that
# AWS accepts for it although the data does not list them. Each entry with its source.
ALLOW_LIST: dict[str, tuple[str, ...]] = {
    # The data lists no resource types for PutLifecycleEventHookExecutionStatus, yet AWS's CDK grants
    # it on the deployment group ARN, and hooks granted so report their status: aws/aws-cdk,
    # packages/aws-cdk-lib/aws-codedeploy/lib/lambda/deployment-group.ts,
    # LambdaDeploymentGroup.grantPutLifecycleEventHookExecutionStatus
    # (iam.Grant.addToPrincipal({ resourceArns: [this.deploymentGroupArn],
    #  actions: ['codedeploy:PutLifecycleEventHookExecutionStatus'] })), called by addPreHook/addPostHook.
    "codedeploy:putlifecycleeventhookexecutionstatus": (
        "arn:${Partition}:codedeploy:${Region}:${Account}:deploymentgroup:.*",
    ),
    # CreateChangeSet on an AWS-hosted transform (the data lists only "stack"): AWS CloudFormation User
    # Guide, "Controlling access with AWS Identity and Access Management" (using-iam-template.html):
    # "To allow AWS::Serverless transforms to create a change set, the policy should include the
    # arn:aws:cloudformation:<region>:aws:transform/Serverless-2016-10-31 resource-level permission".
    # The same ARN form names the other AWS-hosted transforms (AWS::Include, AWS::CodeDeployBlueGreen).
    "cloudformation:createchangeset": ("arn:${Partition}:cloudformation:${Region}:aws:transform/.*",),
}

# Permissions policies: a PolicyDocument, or a Policies list of {PolicyName, PolicyDocument}.
DOCUMENT_TYPES = (
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
)
INLINE_TYPES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


def where(path: Path) -> str:
    return "/".join(str(p) for p in path)


def entries(value: Any, path: Path) -> list[tuple[Path, Any]]:
    """A policy element that is one value or a list of values, as (path, value) pairs."""
    if isinstance(value, list):
        return [((*path, index), item) for index, item in enumerate(value)]
    return [(path, value)]


def policy_documents(template: Any) -> Iterator[tuple[Path, dict]]:
    """(path, document) of every IAM permissions policy document of the template."""
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict) or not isinstance(resource.get("Properties"), dict):
            continue
        properties = resource["Properties"]
        base: Path = ("Resources", str(logical_id), "Properties")
        if resource.get("Type") in DOCUMENT_TYPES and isinstance(properties.get("PolicyDocument"), dict):
            yield (*base, "PolicyDocument"), properties["PolicyDocument"]
        if resource.get("Type") in INLINE_TYPES and isinstance(properties.get("Policies"), list):
            for index, policy in enumerate(properties["Policies"]):
                if isinstance(policy, dict) and isinstance(policy.get("PolicyDocument"), dict):
                    yield (*base, "Policies", index, "PolicyDocument"), policy["PolicyDocument"]


def statements(document: dict, path: Path) -> Iterator[tuple[Path, dict]]:
    for statement_path, statement in entries(document.get("Statement"), (*path, "Statement")):
        if isinstance(statement, dict):
            yield statement_path, statement


def check_action(action: str, path: Path) -> tuple[str | None, list[Problem]]:
    """(the action when it names one known action, else None; problems with its name)."""
    at = where(path)
    if action == "*":
        return None, [(path, f'{at}: "Action": "*" grants every action of every service; name the actions it needs')]
    service, _, name = action.partition(":")
    if not service or not name:
        return None, [(path, f"{at}: '{action}' is not of the form service:action")]
    known = iam.actions_of(service)
    if known is None:
        return None, [(path, f"{at}: {action}: '{service}' is no service prefix in the IAM authorization data")]
    if "*" in name or "?" in name:
        if not iam.wildcard_matches(service, name):
            return None, [(path, f"{at}: {action} matches no action of {service} in the IAM authorization data")]
        return None, []
    if name.lower() not in known:
        guess = difflib.get_close_matches(name.lower(), list(known), n=1)
        hint = f"; did you mean {service}:{guess[0]} (names compare case-insensitively)?" if guess else ""
        return None, [(path, f"{at}: {action} is not an action of {service} in the IAM authorization data{hint}")]
    return action, []


def _listed(arns: list[iam.Arn]) -> str:
    shown = ", ".join(arn.shown for arn in arns)
    return f"{shown} is" if len(arns) == 1 else f"{shown} are"


def check_resources(action: str, path: Path, arns: list[iam.Arn]) -> list[Problem]:
    """Checks 2 and 3 for one known action and the statement's resolved, scoped Resources."""
    at = where(path)
    service, _, name = action.partition(":")
    types = iam.resource_types(service, name)
    allowed = ALLOW_LIST.get(action.lower(), ())

    def fits(arn: iam.Arn, formats: Iterable[str]) -> bool:
        return any(iam.matches_format(arn.arn, arn_format) for arn_format in formats)

    if not types:
        stray = [arn for arn in arns if not fits(arn, allowed)]
        if not stray:
            return []
        exception = f" (the allow-list accepts only {', '.join(allowed)})" if allowed else ""
        return [
            (
                path,
                f"{at}: {action} has no resource-level permissions in the IAM authorization data: "
                f'AWS grants it only on "*"{exception}; {_listed(stray)} not "*", so the statement '
                f'does not grant {action} (grant it in a statement with "Resource": "*")',
            )
        ]
    formats = [f for resource_type in types for f in iam.arn_formats(service, resource_type)] + list(allowed)
    if any(fits(arn, formats) for arn in arns):
        return []
    extra = f" (or, by the allow-list, {', '.join(allowed)})" if allowed else ""
    return [(path, f"{at}: {action} accepts resource types {', '.join(types)}{extra}; {_listed(arns)} none of them")]


def check_statement(statement: dict, path: Path, resources: dict) -> list[Problem]:
    if statement.get("Effect") != "Allow" or "Action" not in statement:
        return []
    problems: list[Problem] = []
    known: list[tuple[Path, str]] = []
    for action_path, action in entries(statement["Action"], (*path, "Action")):
        if isinstance(action, str):
            name, found = check_action(action, action_path)
            problems += found
            if name:
                known.append((action_path, name))
    if not known or "Resource" not in statement:
        return problems
    arns: list[iam.Arn] = []
    for _, value in entries(statement["Resource"], (*path, "Resource")):
        arn = iam.resolve(value, resources)
        if arn is None or arn.arn == "*":
            return problems  # a Resource the template cannot tell, or "*": nothing to check
        arns.append(arn)
    for action_path, action in known:
        problems += check_resources(action, action_path, arns) if arns else []
    return problems


def check_template(template: Any) -> list[Problem]:
    """(path, message) of every E9110 finding of a template."""
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return []
    problems: list[Problem] = []
    for document_path, document in policy_documents(template):
        for statement_path, statement in statements(document, document_path):
            problems += check_statement(statement, statement_path, resources)
    return problems


class IamAuthorization(CloudFormationLintRule):
    """IAM permissions that AWS's authorization data says exist and apply to the resources named."""

    id = "E9110"
    shortdesc = "IAM actions and resources match AWS's IAM authorization data"
    description = (
        "Check every Allow statement of the template's IAM permissions policies against the Service "
        "Authorization Reference data bundled with cfn-lint: each action exists (wildcards match at "
        'least one; "Action": "*" is reported), an action without resource types is granted on "*", '
        "and a scoped Resource is of a type the action accepts; documented exceptions are allow-listed"
    )
    source_url = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"
    tags: ClassVar[list[str]] = ["iam", "permissions", "project"]

    def match(self, cfn):
        return [RuleMatch(list(path), message) for path, message in check_template(cfn.template)]
