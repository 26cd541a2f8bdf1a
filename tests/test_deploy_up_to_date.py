"""apply/plan's "up to date" without a change set: when the deployed template (GetTemplate, Original),
every parameter value and the tags already match what would be sent, no CreateChangeSet is made.
Any doubt (a NoEcho parameter, a different value) leaves the decision to the change set."""

from __future__ import annotations

import io
import json

from botocore.stub import ANY, Stubber

from deployer import waiting
from deployer.changesets import Options, Planner
from deployer.manifest import StackEntry
from deployer.plans import PlanState
from deployer.provider import AwsProvider
from deployer.render import plan_lines
from deployer.reporter import Reporter
from tests.helpers import stub_client

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/app-net/1"
CS_ID = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/c1/1"
TEMPLATE = {
    "Parameters": {"A": {"Type": "String"}, "B": {"Type": "String", "Default": "b"}, "K": {"Type": "String"}},
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
}


class _Aws:
    def __init__(self, cfn):
        self._cfn = cfn

    def cfn(self, region):
        return self._cfn

    def template_source(self, entry, body, bucket):
        return {"TemplateBody": body}


def _entry(template=TEMPLATE, **extra) -> StackEntry:
    base = dict(
        name="net",
        stack_name="app-net",
        template_path=None,
        region="eu-west-1",
        parameters={"A": "1", "K": "new"},
        parameters_from_outputs={},
        kept_on_update=["K"],
        depends_on=[],
        capabilities=[],
        tags={"Environment": "dev"},
        termination_protection=False,
        template=template,
        body=json.dumps(template),
    )
    base.update(extra)
    return StackEntry(**base)


def _deployed(a="1", b="b", k="old", tags=None):
    return {
        "Stacks": [
            {
                "StackName": "app-net",
                "StackId": STACK_ID,
                "StackStatus": "UPDATE_COMPLETE",
                "CreationTime": "2024-05-01T12:00:00Z",
                "Parameters": [
                    {"ParameterKey": "A", "ParameterValue": a},
                    {"ParameterKey": "B", "ParameterValue": b},
                    {"ParameterKey": "K", "ParameterValue": k},
                ],
                "Tags": [{"Key": key, "Value": v} for key, v in (tags or {"Environment": "dev"}).items()],
            }
        ]
    }


def _plan(entry, stub_calls):
    cfn = stub_client()
    waiter = waiting.Waiter()
    waiter.pause = lambda delay: None
    planner = Planner(_Aws(cfn), None, Options(), waiter, AwsProvider(), Reporter(io.StringIO()))
    with Stubber(cfn) as stub:
        stub_calls(stub)
        plan = planner.plan(entry)
        stub.assert_no_pending_responses()
    return plan


def _get_template(stub, template=TEMPLATE):
    stub.add_response(
        "get_template", {"TemplateBody": json.dumps(template)}, {"StackName": "app-net", "TemplateStage": "Original"}
    )


def _change_set_with_changes(stub):
    stub.add_response("create_change_set", {"Id": CS_ID, "StackId": STACK_ID}, {k: ANY for k in _CREATE_ARGS})
    change = {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "Topic"}}
    stub.add_response(
        "describe_change_set",
        {"ChangeSetId": CS_ID, "StackId": STACK_ID, "Status": "CREATE_COMPLETE", "Changes": [change]},
        {"ChangeSetName": CS_ID, "IncludePropertyValues": True},
    )


_CREATE_ARGS = (
    "StackName",
    "ChangeSetName",
    "ChangeSetType",
    "Parameters",
    "Capabilities",
    "Tags",
    "Description",
    "TemplateBody",
)


def test_a_stack_that_runs_exactly_what_would_be_sent_is_up_to_date_without_a_change_set():
    # A parameter kept on update (K) keeps its deployed value; B is at its template default.
    def calls(stub):
        stub.add_response("describe_stacks", _deployed(), {"StackName": "app-net"})
        _get_template(stub)

    plan = _plan(_entry(), calls)
    assert plan.state is PlanState.UP_TO_DATE and plan.change_set is None
    assert plan_lines(plan)[1] == (
        "  no changes: the stack runs this template with these parameters and tags (no change set made)"
    )


def test_a_different_parameter_value_template_or_tag_leaves_it_to_the_change_set():
    changed_template = {**TEMPLATE, "Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}}
    cases = [
        (_deployed(a="2"), TEMPLATE),  # a value sent differs
        (_deployed(b="x"), TEMPLATE),  # a parameter no longer sent goes back to its default
        (_deployed(), changed_template),  # the template differs
    ]
    for deployed, template in cases:

        def calls(stub, deployed=deployed, template=template):
            stub.add_response("describe_stacks", deployed, {"StackName": "app-net"})
            _get_template(stub, template)
            _change_set_with_changes(stub)

        assert _plan(_entry(), calls).state is PlanState.CHANGES

    def tags_differ(stub):  # the template is read anyway: the day-2 checks judge the update on it
        stub.add_response("describe_stacks", _deployed(tags={"Environment": "old"}), {"StackName": "app-net"})
        _get_template(stub)
        _change_set_with_changes(stub)

    assert _plan(_entry(), tags_differ).state is PlanState.CHANGES


def test_a_no_echo_parameter_cannot_be_compared_so_the_change_set_decides():
    secret = {**TEMPLATE, "Parameters": {**TEMPLATE["Parameters"], "A": {"Type": "String", "NoEcho": True}}}

    def calls(stub):
        stub.add_response("describe_stacks", _deployed(a="****"), {"StackName": "app-net"})
        _get_template(stub, secret)
        _change_set_with_changes(stub)

    assert _plan(_entry(template=secret), calls).state is PlanState.CHANGES
