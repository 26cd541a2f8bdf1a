"""The value-level change view (deployer.changes, render.value_lines): paths, truncation, multi-line
diffs, NoEcho masking, and a change set's own property values (IncludePropertyValues) through botocore's
Stubber with the documented response shapes (ResourceChange BeforeContext/AfterContext, Detail Target
Path/BeforeValue/AfterValue/AttributeChangeType):
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeChangeSet.html"""

from __future__ import annotations

import json

from botocore.stub import Stubber

from deployer import changes, render
from deployer.manifest import StackEntry
from deployer.plans import ChangeKind, Plan, PlanState
from deployer.waiting import Waiter, wait_for_change_set
from tests.helpers import stub_client

CS_ID = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/c1/1"
STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/app-svc/1"


def _task(env: str, count_ref: bool = False) -> dict:
    return {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {
            "ContainerDefinitions": [
                {"Name": "app", "Image": "img:1", "Environment": [{"Name": "APP_ENV", "Value": env}]}
            ],
            "Tags": [{"Key": "Owner", "Value": "platform-team"}],
        },
    }


def _template(env: str, secret_default: str = "x") -> dict:
    return {
        "Parameters": {
            "Count": {"Type": "Number"},
            "Secret": {"Type": "String", "NoEcho": True, "Default": secret_default},
        },
        "Resources": {
            "Task": _task(env),
            "Service": {"Type": "AWS::ECS::Service", "Properties": {"DesiredCount": {"Ref": "Count"}}},
            "Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Code": {"ZipFile": "a\nb\nc\n"}, "X": {"Ref": "Secret"}},
            },
        },
    }


def _entry(template: dict, tags: dict) -> StackEntry:
    return StackEntry(
        name="svc",
        stack_name="app-svc",
        template_path=None,
        region="eu-west-1",
        parameters={"Count": "3", "Secret": "new"},
        parameters_from_outputs={},
        kept_on_update=[],
        depends_on=[],
        capabilities=[],
        tags=tags,
        termination_protection=False,
        template=template,
    )


def _plan(change_set_changes: list, new_env: str = "qa", zip_new: str = "a\nB\nc\n") -> Plan:
    old, new = _template("dev"), _template(new_env)
    new["Resources"]["Fn"]["Properties"]["Code"]["ZipFile"] = zip_new
    entry = _entry(new, {"Owner": "web-team"})
    return Plan(
        entry=entry,
        kind=ChangeKind.UPDATE,
        state=PlanState.CHANGES,
        stack={
            "Parameters": [
                {"ParameterKey": "Count", "ParameterValue": "1"},
                {"ParameterKey": "Secret", "ParameterValue": "****"},
            ],
            "Tags": [{"Key": "Owner", "Value": "platform-team"}],
        },
        change_set={"ChangeSetName": "c1", "ChangeSetId": CS_ID, "Changes": change_set_changes},
        api_parameters=[
            {"ParameterKey": "Count", "ParameterValue": "3"},
            {"ParameterKey": "Secret", "ParameterValue": "new"},
        ],
        deployed_template=old,
        sent_template=new,
    )


def _modify(lid: str, kind: str, **extra) -> dict:
    return {
        "Type": "Resource",
        "ResourceChange": {"Action": "Modify", "LogicalResourceId": lid, "ResourceType": kind, **extra},
    }


def test_paths_name_list_items_by_name_or_key_else_by_index():
    before = {"A": [{"Name": "X", "Value": "1"}], "B": [1, 2], "C": {"D": "e"}, "T": [{"Key": "k", "Value": "v"}]}
    after = {"A": [{"Name": "X", "Value": "2"}, {"Name": "Y", "Value": "3"}], "B": [1], "C": {"D": "f"}, "T": []}
    found = {c.path: (c.before, c.after) for c in changes.diff_values(before, after)}
    assert found == {
        "A[X]": ("1", "2"),
        "A[Y]": (changes.MISSING, "3"),
        "B[1]": (2, changes.MISSING),
        "C.D": ("e", "f"),
        "T[k]": ("v", changes.MISSING),
    }


def test_the_emulator_view_is_worked_out_from_the_templates_with_parameters_and_tags():
    plan = _plan([_modify("Service", "AWS::ECS::Service"), _modify("Task", "AWS::ECS::TaskDefinition")])
    lines = render.plan_lines(plan)
    text = "\n".join(lines)
    # the summary table is kept; the value lines follow it
    assert lines.index("  Changed values:") > next(i for i, line in enumerate(lines) if "Modify" in line)
    assert (
        "    Service (AWS::ECS::Service): replacement False (worked out from the deployed and planned templates)"
        in text
    )
    assert "      Service DesiredCount: 1 → 3" in lines
    assert "      Task ContainerDefinitions[app].Environment[APP_ENV]: dev → qa" in lines
    assert "    parameter Count: 1 → 3" in lines
    assert "    tag Owner: platform-team → web-team" in lines
    # NoEcho values never appear, neither as a parameter nor resolved into a property
    assert "new" not in text.replace("new_", "") and "parameter Secret" not in text


def test_multi_line_values_are_a_limited_unified_diff_and_long_values_are_cut():
    long_new = "\n".join(f"line {i}" for i in range(60))
    plan = _plan([_modify("Fn", "AWS::Lambda::Function")], zip_new=long_new)
    lines = render.plan_lines(plan)
    start = lines.index("      Fn Code.ZipFile: (multi-line, unified diff)")
    body = lines[start + 1 : start + 1 + render.DIFF_LIMIT + 1]
    assert body[0].startswith("          @@") and body[-1].endswith("more diff lines")
    change = changes.ValueChange("P", "x" * 200, "y")
    (line,) = render.value_change_lines("", change, "")
    assert line == "P: " + "x" * 79 + "… → y"


def test_change_set_property_values_are_shown_as_the_change_set_reports_them():
    """IncludePropertyValues=True (botocore 1.35.99 knows it): the Stubber checks the request carries it
    and the response validates against the model's BeforeContext/AfterContext and Target fields."""
    cfn = stub_client()
    detail = {
        "Target": {
            "Attribute": "Properties",
            "Name": "DesiredCount",
            "RequiresRecreation": "Never",
            "Path": "/Properties/DesiredCount",
            "BeforeValue": "1",
            "AfterValue": "3",
            "AttributeChangeType": "Modify",
        },
        "Evaluation": "Static",
        "ChangeSource": "DirectModification",
    }
    task_detail = {
        "Target": {
            "Attribute": "Properties",
            "Name": "ContainerDefinitions",
            "RequiresRecreation": "Always",
            "Path": "/Properties/ContainerDefinitions/0/Environment/0/Value",
            "BeforeValue": "dev",
            "AfterValue": "qa",
            "AttributeChangeType": "Modify",
        },
        "Evaluation": "Static",
        "ChangeSource": "DirectModification",
    }
    contexts = {
        "BeforeContext": json.dumps({"Properties": {"Cpu": "256", "Image": "img:1"}}),
        "AfterContext": json.dumps({"Properties": {"Cpu": "512", "Image": "img:1"}}),
    }
    response = {
        "ChangeSetId": CS_ID,
        "ChangeSetName": "c1",
        "StackId": STACK_ID,
        "StackName": "app-svc",
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "Changes": [
            _modify("Service", "AWS::ECS::Service", Replacement="False", Scope=["Properties"], Details=[detail]),
            _modify("Task", "AWS::ECS::TaskDefinition", Replacement="True", Details=[task_detail]),
            _modify("Other", "AWS::ECS::TaskDefinition", Replacement="True", **contexts),
        ],
    }
    with Stubber(cfn) as stub:
        stub.add_response("describe_change_set", response, {"ChangeSetName": CS_ID, "IncludePropertyValues": True})
        described = wait_for_change_set(cfn, CS_ID, Waiter())
        stub.assert_no_pending_responses()
    plan = _plan(described["Changes"])
    lines = render.plan_lines(plan)
    assert "    Service (AWS::ECS::Service): replacement False (from the change set)" in lines
    assert "      Service DesiredCount: 1 → 3" in lines
    assert "    Task (AWS::ECS::TaskDefinition): replacement True (from the change set)" in lines
    assert "      Task ContainerDefinitions[0].Environment[0].Value: dev → qa" in lines
    assert "      Other Cpu: 256 → 512" in lines
    # the existing summary table is unchanged
    assert any(line.split()[:4] == ["Modify", "Task", "AWS::ECS::TaskDefinition", "True"] for line in lines)


def test_text_written_line_by_line_diffs_as_text():
    """out/ writes a buildspec as an Fn::Join of its lines: the change view joins it back, so a changed
    line shows in a unified diff, and the first update after the layout change (a plain string before)
    shows no change at all."""
    from deployer import changes, template_values

    text = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo one\n"
    joined = {"Fn::Join": ["\n", text.split("\n")]}
    assert template_values.resolve({"BuildSpec": joined}, {}) == {"BuildSpec": text}
    assert (
        changes.diff_values(
            template_values.resolve({"BuildSpec": text}, {}), template_values.resolve({"BuildSpec": joined}, {})
        )
        == []
    )
    edited = {"Fn::Join": ["\n", text.replace("echo one", "echo two").split("\n")]}
    (change,) = changes.diff_values(
        template_values.resolve({"BuildSpec": joined}, {}), template_values.resolve({"BuildSpec": edited}, {})
    )
    assert change.path == "BuildSpec" and "echo two" in change.after


def test_plan_shows_the_change_sets_hooks_from_aws():
    """DescribeChangeSetHooks (CloudFormation API reference, documented response shape): each hook the
    change set invokes, with its failure mode; a caller without the permission is told so."""
    from botocore.stub import Stubber

    from deployer.provider import AwsProvider

    cfn = stub_client()
    arn = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/c1/1"
    hook = {
        "InvocationPoint": "PRE_PROVISION",
        "FailureMode": "FAIL",
        "TypeName": "Org::Security::S3Check",
        "TypeVersionId": "00000001",
        "TypeConfigurationVersionId": "00000001",
        "TargetDetails": {
            "TargetType": "RESOURCE",
            "ResourceTargetDetails": {
                "LogicalResourceId": "ArtifactBucket",
                "ResourceType": "AWS::S3::Bucket",
                "ResourceAction": "Modify",
            },
        },
    }
    with Stubber(cfn) as stub:
        stub.add_response("describe_change_set_hooks", {"Hooks": [hook], "Status": "PLANNED"}, {"ChangeSetName": arn})
        stub.add_client_error("describe_change_set_hooks", "AccessDenied", "not authorized", 403)
        lines = AwsProvider().change_set_hooks(cfn, arn)
        denied = AwsProvider().change_set_hooks(cfn, arn)
    assert lines == [
        "  hooks of this change set: PLANNED",
        "  hook Org::Security::S3Check (FAIL, PRE_PROVISION) on ArtifactBucket",
    ]
    assert denied == ["  hooks: not read (not authorized)"]
