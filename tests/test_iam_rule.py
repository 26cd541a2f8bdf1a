"""The project's E9110 rule (scripts/lintgate/rules/iam_authorization.py): IAM statements checked
against AWS's IAM authorization data bundled with cfn-lint.

The rule runs in-process through cfn-lint's API with a rules collection holding only this rule, on
small templates; one test runs it on today's templates in out/.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.rules import RulesCollection

from lintgate.rules import iam_data
from lintgate.rules.iam_authorization import IamAuthorization
from tests.helpers import OUT

STATEMENT = "Resources/Role/Properties/Policies/0/PolicyDocument/Statement/0"
NO_RESOURCE_LEVEL = 'has no resource-level permissions in the IAM authorization data: AWS grants it only on "*"'
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
SIDE_RESOURCES = {
    "Bucket": {"Type": "AWS::S3::Bucket"},
    "LogGroup": {"Type": "AWS::Logs::LogGroup"},
}


def _findings(template: dict) -> list[tuple[list, str]]:
    """(path, message) of every finding of E9110 alone on the template."""
    rules = RulesCollection()
    rules.register(IamAuthorization())
    matches = lint(json.dumps(template), rules=rules, regions=["eu-west-1"])
    assert {m.rule.id for m in matches} <= {"E9110"}, [m.message for m in matches]
    return [(list(m.path), m.message) for m in matches]


def _role(*statements: dict, **resources: Any) -> dict:
    """A template with one role whose inline policy holds the statements."""
    role = {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": TRUST,
            "Policies": [
                {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}
            ],
        },
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"RoleArn": {"Type": "String"}},
        "Resources": {"Role": role, **SIDE_RESOURCES, **resources},
    }


def _allow(action: Any, resource: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _sub(text: str) -> dict:
    return {"Fn::Sub": text}


def test_action_without_resource_types_scoped_to_an_arn_is_reported():
    arn = "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:*"
    found = _findings(_role(_allow(["codedeploy:CreateCloudFormationDeployment"], [_sub(arn)])))
    assert len(found) == 1, found
    path, message = found[0]
    assert path == ["Resources", "Role", "Properties", "Policies", 0, "PolicyDocument", "Statement", 0, "Action", 0]
    assert message.startswith(f"{STATEMENT}/Action/0: codedeploy:CreateCloudFormationDeployment {NO_RESOURCE_LEVEL}")
    assert arn in message


def test_unknown_action_is_reported_with_the_closest_name():
    arn = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-set/c/s/*"
    found = _findings(_role(_allow("ecs:DescribeTaskSet", _sub(arn))))
    assert found == [
        (
            ["Resources", "Role", "Properties", "Policies", 0, "PolicyDocument", "Statement", 0, "Action"],
            f"{STATEMENT}/Action: ecs:DescribeTaskSet is not an action of ecs in the IAM authorization data; "
            "did you mean ecs:describetasksets (names compare case-insensitively)?",
        )
    ]


def test_unknown_service_prefix_is_reported():
    found = _findings(_role(_allow(["ecs:DescribeServices", "ecss:DescribeServices"], "*")))
    assert [m for _, m in found] == [
        f"{STATEMENT}/Action/1: ecss:DescribeServices: 'ecss' is no service prefix in the IAM authorization data"
    ]


@pytest.mark.parametrize(
    "resource",
    [{"Fn::GetAtt": ["Bucket", "Arn"]}, "arn:aws:s3:::my-bucket", _sub("${Bucket.Arn}/*")],
    ids=["getatt", "literal", "sub"],
)
def test_action_scoped_to_a_resource_of_another_type_is_reported(resource):
    found = _findings(_role(_allow(["logs:CreateLogStream", "logs:PutLogEvents"], [resource])))
    assert [p[-1] for p, _ in found] == [0, 1], found
    message = found[1][1]
    assert message.startswith(f"{STATEMENT}/Action/1: logs:PutLogEvents accepts resource types log-stream; ")
    assert message.endswith(" is none of them")


def test_the_same_actions_correctly_scoped_or_on_star_have_no_findings():
    region_account = "${AWS::Region}:${AWS::AccountId}"
    template = _role(
        _allow("codedeploy:CreateCloudFormationDeployment", "*"),
        _allow(["ecs:DescribeTaskSets"], [_sub(f"arn:${{AWS::Partition}}:ecs:{region_account}:task-set/c/s/*")]),
        _allow(["ecs:DescribeTaskSets"], "*"),
        _allow(["logs:CreateLogStream", "logs:PutLogEvents"], [{"Fn::GetAtt": ["LogGroup", "Arn"]}]),
        _allow(["logs:PutLogEvents"], [_sub(f"arn:${{AWS::Partition}}:logs:{region_account}:log-group:/ecs/x:*")]),
        _allow(["s3:GetObject", "s3:GetBucketLocation"], [{"Fn::GetAtt": ["Bucket", "Arn"]}, _sub("${Bucket.Arn}/*")]),
        # A service and its task sets in one statement: each action has a Resource of its type.
        _allow(
            ["ecs:DescribeServices", "ecs:CreateTaskSet"],
            [
                _sub(f"arn:${{AWS::Partition}}:ecs:{region_account}:service/c/s"),
                _sub(f"arn:${{AWS::Partition}}:ecs:{region_account}:task-set/c/s/*"),
            ],
        ),
        # Wildcards in ARNs, ? included.
        _allow("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-??????"),
    )
    assert _findings(template) == []


def test_allow_listed_put_lifecycle_event_hook_execution_status_on_a_deployment_group_passes():
    group = "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:app/group"
    assert _findings(_role(_allow("codedeploy:PutLifecycleEventHookExecutionStatus", _sub(group)))) == []
    # The allow-list is for deployment groups only: on an application, the data's "*" rule applies.
    application = "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:application:app"
    found = _findings(_role(_allow("codedeploy:PutLifecycleEventHookExecutionStatus", _sub(application))))
    assert len(found) == 1 and NO_RESOURCE_LEVEL in found[0][1], found
    assert "the allow-list accepts only arn:${Partition}:codedeploy:" in found[0][1]


def test_action_star_is_reported_as_not_least_privilege():
    found = _findings(_role(_allow("*", "*")))
    assert found == [
        (
            ["Resources", "Role", "Properties", "Policies", 0, "PolicyDocument", "Statement", 0, "Action"],
            f'{STATEMENT}/Action: "Action": "*" grants every action of every service; name the actions it needs',
        )
    ]


def test_wildcard_actions_must_match_an_action():
    found = _findings(_role(_allow(["ecs:Describe*", "ecs:List?asks", "ecs:Nothing*"], "*")))
    assert [m for _, m in found] == [
        f"{STATEMENT}/Action/2: ecs:Nothing* matches no action of ecs in the IAM authorization data"
    ]


def test_what_the_template_cannot_tell_is_skipped_and_deny_and_trust_policies_are_not_checked():
    template = _role(
        _allow("logs:PutLogEvents", [{"Ref": "RoleArn"}]),  # a parameter: skipped, not guessed
        _allow("logs:PutLogEvents", [_sub("${RoleArn}")]),  # its value alone: no ARN to check
        _allow("logs:PutLogEvents", [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Ref": "RoleArn"}]),
        _allow("logs:PutLogEvents", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "*"]),
        {"Effect": "Deny", "Action": "ecs:NoSuchAction", "Resource": "*"},
    )
    template["Resources"]["Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Action"] = "sts:Nope"
    assert _findings(template) == []


def test_standalone_policy_resources_are_checked():
    policy = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {"PolicyDocument": {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}},
    }
    found = _findings({"Resources": {"Policy": policy}})
    assert [p for p, _ in found] == [["Resources", "Policy", "Properties", "PolicyDocument", "Statement", "Action"]]


def test_arn_pattern_overlap():
    def overlaps(arn: str, arn_format: str) -> bool:
        return iam_data.matches_format(arn, arn_format)

    logs = "arn:${Partition}:logs:${Region}:${Account}:log-group:.*"
    assert overlaps("arn:aws:logs:eu-west-1:1:log-group:/x:*", logs)
    assert overlaps("arn:aws:logs:*:*:*", logs)
    assert overlaps("arn:aws:*", logs)
    assert not overlaps("arn:aws:s3:::x", logs)
    assert not overlaps("arn:aws:logs:eu-west-1:1:destination:x", logs)
    # ${Region} is one ARN field: it does not swallow a colon.
    assert not overlaps("arn:aws:logs:a:b:c:1:log-group:x", logs)


TEMPLATES = sorted(
    p for p in OUT.glob("*/*.json") if not p.name.endswith(".parameters.json") and p.name != "stacks.json"
)


def test_todays_templates_have_no_findings():
    assert TEMPLATES
    found = [f"{path.relative_to(OUT)}: {message}" for path in TEMPLATES for _, message in _findings(_load(path))]
    assert found == []


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_the_lint_gate_runs_the_rule(tmp_path):
    """make lint (fargate-lint with .cfnlintrc) loads E9110 from lintgate.rules and fails on a grant AWS would deny."""
    from tests.helpers import lint as run_gate

    denied = _role(
        _allow(
            "codedeploy:CreateCloudFormationDeployment",
            _sub("arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:*"),
        )
    )
    path = tmp_path / "denied.json"
    path.write_text(json.dumps(denied))
    result = run_gate("--no-cache", str(path))
    assert result.returncode == 1
    assert "E9110" in result.stdout and "codedeploy:CreateCloudFormationDeployment" in result.stdout
