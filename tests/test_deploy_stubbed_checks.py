"""Checks made on a change set before it runs, with botocore's Stubber and the DescribeChangeSet shape
documented in the CloudFormation API reference (Changes[].ResourceChange: Action, LogicalResourceId,
ResourceType, Replacement, Scope, Details[].Target/Evaluation/ChangeSource/CausingEntity); moto reports
no Replacement or Details."""

from __future__ import annotations

import json

import pytest
from botocore.stub import ANY, Stubber

from blueprints.manifest import OutputRef
from deployer import commands, policy, render
from deployer.manifest import Manifest
from deployer.plans import ChangeKind, Plan, PlanState
from deployer.scheduler import Run
from tests.helpers import ROOT
from tests.test_deploy_stubbed import CS_ID, NOW, STACK_ID, _cfn, _context, _entry, _fast_waiter, _stack

STAGING_SERVICE = json.loads((ROOT / "out" / "staging" / "service.json").read_text())
DEPLOYED = {
    "Parameters": [{"ParameterKey": "A", "ParameterValue": "1"}],
    # A tag the stack has and out/ does not: what it runs differs from what would be sent, so a change set
    # decides (and the templates are judged as they are, equal here).
    "Tags": [{"Key": "Environment", "Value": "dev"}, {"Key": "Owner", "Value": "before"}],
}


def _change(logical, kind, replacement="False", name="Properties", source="DirectModification"):
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": logical,
            "PhysicalResourceId": f"{logical}-1",
            "ResourceType": kind,
            "Replacement": replacement,
            "Scope": ["Properties"],
            "Details": [
                {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": name,
                        "RequiresRecreation": "Always" if replacement == "True" else "Never",
                    },
                    "Evaluation": "Static",
                    "ChangeSource": source,
                }
            ],
        },
    }


NEW_IMAGE = [  # what an ImageUri change does: the blue task definition is replaced, and with it the task set
    _change("TaskDefinition", "AWS::ECS::TaskDefinition", "True", "ContainerDefinitions", "ParameterReference"),
    _change("BlueTaskSet", "AWS::ECS::TaskSet", "True", "TaskDefinition", "ResourceReference"),
    _change("PrimaryTaskSet", "AWS::ECS::PrimaryTaskSet", "True", "TaskSetId", "ResourceAttribute"),
]
INFRASTRUCTURE = [_change("LoadBalancerSecurityGroup", "AWS::EC2::SecurityGroup", "False", "SecurityGroupIngress")]


def _apply(changes, template=STAGING_SERVICE, confirm=False):
    """`apply` of one stack whose change set holds `changes`; returns (exit code, stub, ctx)."""
    cfn = _cfn()
    entry = _entry(stack_name="app-net", template=template, body="{}")
    ctx = _context(cfn, entry, _fast_waiter())
    ctx.confirm = lambda question: confirm
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE", **DEPLOYED), {"StackName": "app-net"})
        # The deployed template, read once: the planner compares it before planning (the parameters
        # differ, so the change set decides) and the day-2 checks judge the update on it.
        stub.add_response(
            "get_template",
            {"TemplateBody": json.dumps(template)},
            {"StackName": "app-net", "TemplateStage": "Original"},
        )
        stub.add_response(
            "create_change_set",
            {"Id": CS_ID, "StackId": STACK_ID},
            {
                "StackName": "app-net",
                "ChangeSetName": ANY,
                "ChangeSetType": "UPDATE",
                "Parameters": ANY,
                "Capabilities": [],
                "Tags": ANY,
                "Description": ANY,
                "TemplateBody": ANY,
            },
        )
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": CS_ID,
                "ChangeSetName": "c1",
                "StackId": STACK_ID,
                "StackName": "app-net",
                "CreationTime": NOW,
                "Status": "CREATE_COMPLETE",
                "ExecutionStatus": "AVAILABLE",
                "Changes": changes,
            },
            {"ChangeSetName": CS_ID, "IncludePropertyValues": True},
        )
        # day-2 facts: the deployed template (here the same as out/'s, so only the change set is judged)
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        code = commands.apply(ctx)
        stub.assert_no_pending_responses()  # the change set is deleted, never executed
    return code


def test_green_deployment_with_other_changes_is_marked_and_refused(capsys):
    code = _apply(NEW_IMAGE + INFRASTRUCTURE, confirm=True)
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "!! blue/green: this update starts a green deployment (changes BlueTaskSet, TaskDefinition) and also "
        "changes LoadBalancerSecurityGroup"
    ) in out
    refusal = out[out.index("Refused: app-net would start a green deployment") :]
    assert "Apply the infrastructure change first with the task definition unchanged" in refusal
    assert "then release the new task definition in a separate apply" in refusal


@pytest.mark.parametrize("changes", [NEW_IMAGE, NEW_IMAGE[:1], INFRASTRUCTURE], ids=["image", "taskdef", "infra"])
def test_a_release_alone_or_infrastructure_alone_is_allowed(capsys, changes):
    assert _apply(changes) == 0  # reached the confirmation (answered no), nothing refused
    out = capsys.readouterr().out
    assert "Not applied." in out and "blue/green" not in out and "Refused" not in out


def test_without_the_transform_the_same_change_set_is_not_refused(capsys):
    template = {k: v for k, v in STAGING_SERVICE.items() if k not in ("Transform", "Hooks")}
    assert _apply(NEW_IMAGE + INFRASTRUCTURE, template=template) == 0
    assert "blue/green" not in capsys.readouterr().out
    assert policy.uses_transform(STAGING_SERVICE) and policy.uses_transform({"Transform": policy.TRANSFORM})


def test_a_dependant_planned_again_after_its_upstream_is_checked_for_refusal_again(capsys):
    """The upstream changed an output: the dependant's new change set removes a stateful resource,
    so it is shown, refused and deleted, never executed."""
    cfn = _cfn()
    upstream = _entry(name="base", stack_name="app-base")
    entry = _entry(
        parameters={}, parameters_from_outputs={"A": OutputRef("base", "Flag")}, depends_on=["base"], body="{}"
    )
    ctx = _context(cfn, entry, _fast_waiter())
    ctx.manifest = Manifest(env="dev", folder=None, stacks=[upstream, entry], selected=[upstream, entry])
    ctx.__post_init__()
    old = Plan(
        entry=entry,
        kind=ChangeKind.UPDATE,
        state=PlanState.UP_TO_DATE,
        stack=_stack("UPDATE_COMPLETE", **DEPLOYED)["Stacks"][0],
        api_parameters=[{"ParameterKey": "A", "ParameterValue": "1"}],
    )
    removal = {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Remove",
            "LogicalResourceId": "Kept",
            "PhysicalResourceId": "/t/kept",
            "ResourceType": "AWS::Logs::LogGroup",
            "Scope": [],
            "Details": [],
        },
    }
    run = Run(ctx, [Plan(entry=upstream), old])
    run.finish("base", True)
    with Stubber(cfn) as stub:
        upstream_stack = {
            "StackName": "app-base",
            "StackId": STACK_ID,
            "StackStatus": "UPDATE_COMPLETE",
            "CreationTime": NOW,
            "Outputs": [{"OutputKey": "Flag", "OutputValue": "2"}],
        }
        stub.add_response("describe_stacks", {"Stacks": [upstream_stack]}, {"StackName": "app-base"})
        stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE", **DEPLOYED), {"StackName": "app-net"})
        # The deployed template, read once: the planner compares it before planning (the parameters
        # differ, so the change set decides) and the day-2 checks judge the update on it.
        stub.add_response(
            "get_template",
            {"TemplateBody": json.dumps(entry.template)},
            {"StackName": "app-net", "TemplateStage": "Original"},
        )
        stub.add_response(
            "create_change_set",
            {"Id": CS_ID, "StackId": STACK_ID},
            {
                "StackName": "app-net",
                "ChangeSetName": ANY,
                "ChangeSetType": "UPDATE",
                "Parameters": [{"ParameterKey": "A", "ParameterValue": "2"}],
                "Capabilities": [],
                "Tags": ANY,
                "Description": ANY,
                "TemplateBody": ANY,
            },
        )
        stub.add_response(
            "describe_change_set",
            {
                "ChangeSetId": CS_ID,
                "ChangeSetName": "c2",
                "StackId": STACK_ID,
                "StackName": "app-net",
                "Status": "CREATE_COMPLETE",
                "ExecutionStatus": "AVAILABLE",
                "Changes": [removal],
            },
            {"ChangeSetName": CS_ID, "IncludePropertyValues": True},
        )
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        run.stack(old)
        stub.assert_no_pending_responses()  # no ExecuteChangeSet
    out = capsys.readouterr().out
    assert run.ok["net"] is False
    assert "== app-net: upstream outputs changed; planning again" in out and "~ A: 1 -> 2" in out
    assert "!! this change set removes stateful AWS::Logs::LogGroup Kept" in out and "--allow-replacement" in out


def test_destroy_refuses_protected_stacks_and_stacks_whose_outputs_are_in_use():
    """Pure policy: nothing is deleted while any stack of the order is protected or still needed."""
    deletions = [
        policy.Deletion("app-service", "eu-west-1", termination_protection=True),
        policy.Deletion("app-net", "eu-west-1", False, deployed_dependants=(("app-pipeline", "pipeline"),)),
    ]
    lines = render.refusal_lines(policy.deletion_refusals(deletions))
    assert lines == [
        "Refused: app-service has termination protection. Turn it off first: aws cloudformation "
        "update-termination-protection --no-enable-termination-protection --stack-name app-service "
        "--region eu-west-1",
        "Refused: app-pipeline is deployed and uses outputs of app-net. Destroy it first (or add --stack pipeline).",
    ]
    assert policy.deletion_refusals([policy.Deletion("app-net", "eu-west-1", False)]) == []


def test_stacks_refused_for_the_same_reason_share_one_line():
    same = [policy.Refusal(name, policy.Rule.STATEFUL, "would do harm", "Do not.") for name in ("a", "b")]
    assert render.refusal_lines(same) == ["Refused: a, b would do harm. Do not."]
