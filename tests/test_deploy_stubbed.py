"""AWS-exact sequences that moto does not produce, with botocore's Stubber and the response shapes
documented in the CloudFormation API reference (DescribeStacks, DescribeStackEvents,
DescribeChangeSet: ResourceChange.Replacement and Details[].Target.RequiresRecreation)."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from botocore.stub import ANY, Stubber

from deployer import aws as aws_module
from deployer import policy, waiting
from deployer.changesets import Options
from deployer.context import Context
from deployer.emulator import EmulatorProvider
from deployer.executor import InFlight, execute
from deployer.manifest import Manifest, StackEntry
from deployer.plans import ChangeKind, Plan, PlanState
from deployer.provider import AwsProvider
from deployer.render import parameter_lines, plan_lines
from deployer.reporter import Reporter
from tests.helpers import fast_waiter, stub_client

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/app-net/1"
CS_ID = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/c1/1"
# Stubber tests need no endpoint and run in the fast tier; the one that talks to moto is marked.
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def _cfn():
    return stub_client()


def _entry(**extra) -> StackEntry:
    base = dict(
        name="net",
        stack_name="app-net",
        template_path=None,
        region="eu-west-1",
        parameters={"A": "1"},
        parameters_from_outputs={},
        kept_on_update=[],
        depends_on=[],
        capabilities=[],
        tags={"Environment": "dev"},
        termination_protection=False,
        template={"Parameters": {"A": {"Type": "String"}}, "Resources": {}},
    )
    base.update(extra)
    return StackEntry(**base)


class _FakeAws:
    def __init__(self, cfn):
        self._cfn = cfn

    def cfn(self, region):
        return self._cfn

    def template_source(self, entry, body, bucket):
        return {"TemplateBody": body}


def _context(cfn, entry, waiter=None, reporter=None):
    manifest = Manifest(env="dev", folder=None, stacks=[entry], selected=[entry])
    return Context(
        manifest, _FakeAws(cfn), Options(), waiter or waiting.Waiter(), yes=True, reporter=reporter or Reporter()
    )


def _stack(status, **extra):
    return {
        "Stacks": [{"StackName": "app-net", "StackId": STACK_ID, "StackStatus": status, "CreationTime": NOW, **extra}]
    }


def _event(event_id, logical, kind, status, reason=None):
    event = {
        "StackId": STACK_ID,
        "EventId": event_id,
        "StackName": "app-net",
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "Timestamp": NOW,
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def _fast_waiter():
    return fast_waiter()


def test_first_create_that_rolls_back_lists_failures_first_then_status_and_cleanup(capsys):
    cfn = _cfn()
    entry = _entry()
    plan = Plan(
        entry=entry,
        kind=ChangeKind.CREATE,
        change_set={"ChangeSetId": CS_ID, "ChangeSetName": "c1", "StackId": STACK_ID},
    )
    with Stubber(cfn) as stub:
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [_event("e0", "app-net", "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS")]},
            {"StackName": STACK_ID},
        )
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stacks", _stack("ROLLBACK_IN_PROGRESS"), {"StackName": STACK_ID})
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    _event(
                        "e3",
                        "app-net",
                        "AWS::CloudFormation::Stack",
                        "ROLLBACK_IN_PROGRESS",
                        "The following resource(s) failed to create: [Vpc]. Rollback requested by user.",
                    ),
                    _event("e2", "Vpc", "AWS::EC2::VPC", "CREATE_FAILED", "The CIDR '10.0.0.0/33' is invalid."),
                    _event("e1", "Vpc", "AWS::EC2::VPC", "CREATE_IN_PROGRESS"),
                    _event("e0", "app-net", "AWS::CloudFormation::Stack", "REVIEW_IN_PROGRESS"),
                ]
            },
            {"StackName": STACK_ID},
        )
        stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": STACK_ID})
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    _event("e4", "app-net", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE"),
                    _event("e3", "app-net", "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS"),
                ]
            },
            {"StackName": STACK_ID},
        )
        ok = execute(_context(cfn, entry, _fast_waiter()), plan, InFlight())
    out = capsys.readouterr().out
    assert ok is False
    report = out[out.index("== app-net: FAILED ==") :]
    assert report.index("Vpc (AWS::EC2::VPC): CREATE_FAILED: The CIDR '10.0.0.0/33' is invalid.") < report.index(
        "final status: ROLLBACK_COMPLETE"
    )
    assert "clean up with: fargate-deploy destroy --env dev --stack net" in report
    assert out.index("Vpc  AWS::EC2::VPC  CREATE_IN_PROGRESS") < out.index("CREATE_FAILED  The CIDR")  # events in order


def test_replacement_details_are_shown_and_a_stateful_replacement_is_refused():
    change = {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": "Vpc",
            "PhysicalResourceId": "vpc-1",
            "ResourceType": "AWS::EC2::VPC",
            "Replacement": "True",
            "Scope": ["Properties"],
            "Details": [
                {
                    "Target": {"Attribute": "Properties", "Name": "CidrBlock", "RequiresRecreation": "Always"},
                    "Evaluation": "Static",
                    "ChangeSource": "DirectModification",
                }
            ],
        },
    }
    harmless = {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": "Route",
            "ResourceType": "AWS::EC2::Route",
            "Replacement": "True",
            "Details": [
                {"Target": {"Attribute": "Properties", "Name": "DestinationCidrBlock", "RequiresRecreation": "Always"}}
            ],
        },
    }
    plan = Plan(
        entry=_entry(),
        kind=ChangeKind.UPDATE,
        stack=_stack("UPDATE_COMPLETE")["Stacks"][0],
        change_set={"ChangeSetName": "c1", "Changes": [change, harmless]},
    )
    lines = "\n".join(plan_lines(plan))
    assert "CidrBlock (recreate)" in lines and "!! stateful" in lines
    assert "!! this change set replaces (Replacement: True) stateful AWS::EC2::VPC Vpc" in lines
    assert "Route" in lines and "stateful AWS::EC2::Route" not in lines
    refusals = policy.refusals([plan], allow_replacement=False)
    assert [(r.stack, r.rule) for r in refusals] == [("app-net", policy.Rule.STATEFUL)]
    assert "--allow-replacement" in refusals[0].remedy
    assert policy.refusals([plan], allow_replacement=True) == []


@pytest.mark.deploy
def test_throttling_is_retried_in_standard_mode(moto):
    """A real Throttling answer (HTTP 400) for the first two calls; botocore's standard mode retries."""
    from botocore.awsrequest import AWSResponse

    aws = aws_module.Aws(endpoint_url=moto, credentials={"aws_access_key_id": "a", "aws_secret_access_key": "b"})
    cfn = aws.cfn("eu-west-1")
    assert cfn.meta.config.retries["mode"] == "standard"
    calls = []
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        b"</Error><RequestId>1</RequestId></ErrorResponse>"
    )

    class _Raw:
        def stream(self, **kwargs):
            yield body

    def throttle(request, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            return AWSResponse(request.url, 400, {}, _Raw())
        return None

    cfn.meta.events.register("before-send.cloudformation.DescribeStacks", throttle)
    answer = cfn.describe_stacks()
    assert answer["Stacks"] == [] and answer["ResponseMetadata"]["RetryAttempts"] == 2 and len(calls) == 3


def test_every_client_gets_the_written_retry_settings_and_they_stay_as_written():
    """botocore's Config counts max_attempts as retries and keeps first call + retries as
    total_max_attempts (its docs: boto3 guide/retries.html), rewriting the retries it is given."""
    import copy

    written = copy.deepcopy(aws_module.RETRY_CONFIG), copy.deepcopy(aws_module.PROBE_CONFIG)
    aws = aws_module.Aws(
        endpoint_url="http://127.0.0.1:9", credentials={"aws_access_key_id": "a", "aws_secret_access_key": "b"}
    )
    for service in ("cloudformation", "s3", "cloudformation"):
        config = aws.client(service, "eu-west-1").meta.config
        assert config.retries == {"mode": "standard", "total_max_attempts": 11}
        assert config.max_pool_connections == 32
    for _ in range(2):
        probe = aws._new_client("sts", "eu-west-1", aws_module.PROBE_CONFIG).meta.config
        assert probe.retries == {"mode": "standard", "total_max_attempts": 1} and probe.connect_timeout == 2
    assert written == (aws_module.RETRY_CONFIG, aws_module.PROBE_CONFIG)  # as first read


def test_wait_gives_up_after_the_timeout_without_touching_the_stack():
    cfn = _cfn()
    clock = iter([0.0, 10.0, 20.0, 5000.0, 5000.0])
    waiter = waiting.Waiter(timeout=3600, clock=lambda: next(clock))
    waiter.pause = lambda delay: None
    with Stubber(cfn) as stub:
        for _ in range(3):
            stub.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
            stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        with pytest.raises(waiting.WaitTimeoutError, match="still UPDATE_IN_PROGRESS"):
            waiting.wait_for_stack(cfn, STACK_ID, "e0", waiter, lambda e: None)
        stub.assert_no_pending_responses()


def test_a_stack_busy_in_another_operation_is_waited_for_never_raced():
    cfn = _cfn()
    entry = _entry()
    output = io.StringIO()
    ctx = _context(cfn, entry, _fast_waiter(), Reporter(output))
    deployed = {
        "Parameters": [{"ParameterKey": "A", "ParameterValue": "1"}],
        "Tags": [{"Key": "Environment", "Value": "dev"}],
    }
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS", **deployed), {"StackName": "app-net"})
        stub.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS", **deployed), {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE", **deployed), {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        # only now, with the other operation finished, is a change set created (the deployed template
        # differs from the one to send, so the change set decides)
        stub.add_response("get_template", {"TemplateBody": "{}"}, {"StackName": "app-net", "TemplateStage": "Original"})
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
                "Status": "FAILED",
                "ExecutionStatus": "UNAVAILABLE",
                "StatusReason": (
                    "The submitted information didn't contain changes. "
                    "Submit different information to create a change set."
                ),
                "Changes": [],
            },
            {"ChangeSetName": CS_ID, "IncludePropertyValues": True},
        )
        stub.add_response("delete_change_set", {}, {"ChangeSetName": CS_ID})
        entry.body = "{}"
        plan = ctx.planner.plan(entry)
        stub.assert_no_pending_responses()
    assert "busy in UPDATE_IN_PROGRESS (another operation); waiting for it to finish" in output.getvalue()
    assert plan.state is PlanState.UP_TO_DATE


def test_polling_starts_fast_and_notices_a_settled_stack_within_five_seconds():
    delays = waiting.poll_delays()
    first = [next(delays) for _ in range(4)]
    assert first[0] <= 0.25 and sum(first) < 2.5
    for minutes in (1, 5, 15, 60):
        assert waiting.worst_notice_delay(minutes * 60) <= 4.0


def test_ctrl_c_while_waiting_stops_the_wait_and_calls_nothing_else():
    cfn = _cfn()
    waiter = waiting.Waiter()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        waiter.stop.set()  # what the main thread does on Ctrl-C
        with pytest.raises(waiting.WaitInterruptedError):
            waiting.wait_for_stack(cfn, STACK_ID, "e0", waiter, lambda e: None)
        stub.assert_no_pending_responses()  # no CancelUpdateStack, no DeleteStack


def test_no_echo_parameters_are_never_printed():
    entry = _entry(template={"Parameters": {"Secret": {"Type": "String", "NoEcho": True}, "A": {"Type": "String"}}})
    created = "\n".join(parameter_lines(entry, {"Secret": "hunter2", "A": "1"}, None))
    updated = "\n".join(parameter_lines(entry, {"Secret": "hunter3", "A": "2"}, {"Secret": "****", "A": "1"}))
    assert "hunter" not in created + updated
    assert "Secret = ****" in created and "~ A: 1 -> 2" in updated


def test_waiter_is_shared_between_threads():
    waiter = waiting.Waiter()
    threading.Timer(0.05, waiter.stop.set).start()
    with pytest.raises(waiting.WaitInterruptedError):
        waiter.pause(30)


def test_wait_timeout_advice_depends_on_whether_the_stacks_outlive_the_command():
    entry = _entry()

    def advice(provider):
        ctx = _context(_cfn(), entry)
        ctx.provider = provider
        return ctx.watch_command(["network"])

    assert advice(AwsProvider()) == "fargate-deploy status --env dev --stack network"
    lasting = advice(EmulatorProvider("http://127.0.0.1:1"))
    assert lasting == "fargate-deploy status --env dev --stack network (on the same endpoint)"
    local = advice(EmulatorProvider("http://127.0.0.1:1", ephemeral=True))
    assert local.startswith("nothing: the emulator started by --local stops")
