"""Day-2 safety with botocore's Stubber (documented response shapes; no endpoint): adoption of
retained resources on CREATE change sets, rollback triggers, and the stack policy with its
one-execution --allow-replacement override, restored after success, failure and Ctrl-C."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from botocore.stub import ANY, Stubber

from blueprints import manifest as contract
from deployer import rollback, stack_policy, waiting
from deployer.changesets import Options, Planner
from deployer.context import Context
from deployer.executor import InFlight, execute
from deployer.manifest import Manifest, StackEntry
from deployer.plans import ChangeKind, Plan, PlanState
from deployer.provider import AwsProvider
from deployer.reporter import Reporter
from tests.helpers import fast_waiter, stack_entry, stub_client

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/app-svc/1"
CS_ID = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/c1/1"
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
POLICY = contract.stack_policy_document(["Vpc", "Logs"])
ALARMS = ["BlueAlarm", "GreenAlarm"]


def _cfn():
    return stub_client()


def _entry(**extra) -> StackEntry:
    return stack_entry("svc", body="{}", **extra)


class _FakeAws:
    def __init__(self, cfn):
        self._cfn = cfn

    def cfn(self, region):
        return self._cfn

    def template_source(self, entry, body, bucket):
        return {"TemplateBody": body}


def _context(cfn, entry, allow_replacement=False, waiter=None, output=None):
    manifest = Manifest(env="dev", folder=None, stacks=[entry], selected=[entry])
    return Context(
        manifest,
        _FakeAws(cfn),
        Options(allow_replacement=allow_replacement),
        waiter or fast_waiter(),
        yes=True,
        reporter=Reporter(output or io.StringIO()),
    )


def _stack(status, **extra):
    return {
        "Stacks": [{"StackName": "app-svc", "StackId": STACK_ID, "StackStatus": status, "CreationTime": NOW, **extra}]
    }


def _event(event_id, logical, kind, status, reason=None):
    event = {
        "StackId": STACK_ID,
        "EventId": event_id,
        "StackName": "app-svc",
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "Timestamp": NOW,
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


def _described(changes):
    return {
        "ChangeSetId": CS_ID,
        "ChangeSetName": "c1",
        "StackId": STACK_ID,
        "StackName": "app-svc",
        "Status": "CREATE_COMPLETE",
        "ExecutionStatus": "AVAILABLE",
        "Changes": changes,
    }


# --- adoption of retained resources ------------------------------------------------------------


def _planned(cfn, entry, stack_response, expected_extra, described=None):
    """Plan one stack against stubbed responses; the CreateChangeSet call must carry expected_extra."""
    planner = Planner(_FakeAws(cfn), None, Options(), fast_waiter(), AwsProvider(), Reporter(io.StringIO()))
    kind = "CREATE" if stack_response is None else "UPDATE"
    with Stubber(cfn) as stub:
        if stack_response is None:
            stub.add_client_error(
                "describe_stacks",
                "ValidationError",
                "Stack with id app-svc does not exist",
                400,
                {"StackName": "app-svc"},
            )
        else:
            stub.add_response("describe_stacks", stack_response, {"StackName": "app-svc"})
            stub.add_response(
                "get_template", {"TemplateBody": "{}"}, {"StackName": "app-svc", "TemplateStage": "Original"}
            )  # differs: the change set decides
        yield stub
        stub.add_response(
            "create_change_set",
            {"Id": CS_ID, "StackId": STACK_ID},
            {
                "StackName": "app-svc",
                "ChangeSetName": ANY,
                "ChangeSetType": kind,
                "Parameters": [],
                "Capabilities": [],
                "Tags": [],
                "Description": ANY,
                "TemplateBody": "{}",
                **expected_extra,
            },
        )
        stub.add_response(
            "describe_change_set", described or _described([]), {"ChangeSetName": CS_ID, "IncludePropertyValues": True}
        )
        plan = planner.plan(entry)
        stub.assert_no_pending_responses()
    yield plan


def _run(generator):
    stub = next(generator)
    return stub, next(generator)


def test_create_change_set_adopts_retained_named_resources():
    cfn = _cfn()
    entry = _entry(adoptable_resources=["Repository"])
    _, plan = _run(_planned(cfn, entry, None, {"ImportExistingResources": True}))
    assert plan.kind is ChangeKind.CREATE and plan.state is PlanState.CHANGES
    assert any("Repository adopted if an earlier stack left them behind" in line for line in plan.safety_lines)


def test_update_change_sets_and_stacks_without_adoptable_resources_do_not_import():
    cfn = _cfn()
    _, plan = _run(_planned(cfn, _entry(), None, {}))  # nothing adoptable: no ImportExistingResources
    assert plan.safety_lines == []
    cfn = _cfn()
    change = {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "X", "ResourceType": "T"}}
    _, plan = _run(
        _planned(cfn, _entry(adoptable_resources=["Repository"]), _stack("UPDATE_COMPLETE"), {}, _described([change]))
    )
    assert plan.kind is ChangeKind.UPDATE and plan.safety_lines == []


# --- rollback triggers ---------------------------------------------------------------------------


def test_alarm_arn_comes_from_the_stacks_partition_region_and_account():
    china = "arn:aws-cn:cloudformation:cn-north-1:210987654321:stack/s/1"
    assert rollback.alarm_arn(china, "a-1") == "arn:aws-cn:cloudwatch:cn-north-1:210987654321:alarm:a-1"


def test_an_update_is_watched_by_the_stacks_deployed_alarms():
    cfn = _cfn()
    entry = _entry(rollback_alarms=[*ALARMS, "NewAlarm"], rollback_monitoring_minutes=10)
    expected = {
        "RollbackConfiguration": {
            "RollbackTriggers": [
                {"Arn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:app-blue", "Type": "AWS::CloudWatch::Alarm"},
                {"Arn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:app-green", "Type": "AWS::CloudWatch::Alarm"},
            ],
            "MonitoringTimeInMinutes": 10,
        }
    }
    change = {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "X", "ResourceType": "T"}}
    gen = _planned(cfn, entry, _stack("UPDATE_COMPLETE"), expected, _described([change]))
    stub = next(gen)

    def summary(logical, physical, kind="AWS::CloudWatch::Alarm"):
        return {
            "LogicalResourceId": logical,
            "PhysicalResourceId": physical,
            "ResourceType": kind,
            "LastUpdatedTimestamp": NOW,
            "ResourceStatus": "CREATE_COMPLETE",
        }

    stub.add_response(
        "list_stack_resources",
        {
            "StackResourceSummaries": [
                summary("BlueAlarm", "app-blue"),
                summary("Cluster", "app", "AWS::ECS::Cluster"),
                summary("GreenAlarm", "app-green"),
            ]
        },
        {"StackName": STACK_ID},
    )
    plan = next(gen)
    assert plan.rollback_configuration == expected["RollbackConfiguration"]
    shown = "\n".join(plan.safety_lines)
    assert "rollback triggers: BlueAlarm, GreenAlarm; watched during the update and 10 min after it" in shown
    assert "not deployed yet, so not watched this time: NewAlarm" in shown


def test_a_first_create_has_no_alarms_to_monitor_and_says_so():
    cfn = _cfn()
    _, plan = _run(_planned(cfn, _entry(rollback_alarms=ALARMS, rollback_monitoring_minutes=10), None, {}))
    assert plan.rollback_configuration is None
    assert "none on this first create (its alarms BlueAlarm, GreenAlarm do not exist yet)" in plan.safety_lines[0]


def test_triggers_left_on_the_stack_are_cleared_when_the_template_has_no_alarms():
    cfn = _cfn()
    stored = {
        "RollbackTriggers": [{"Arn": "arn:aws:cloudwatch:eu-west-1:1:alarm:old", "Type": "AWS::CloudWatch::Alarm"}]
    }
    expected = {"RollbackConfiguration": {"RollbackTriggers": [], "MonitoringTimeInMinutes": 0}}
    change = {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "X", "ResourceType": "T"}}
    _, plan = _run(
        _planned(cfn, _entry(), _stack("UPDATE_COMPLETE", RollbackConfiguration=stored), expected, _described([change]))
    )
    assert plan.safety_lines == ["rollback triggers: cleared (1 set before; the template has no alarms now)"]


# --- stack policy ---------------------------------------------------------------------------------

VPC_REPLACED = {
    "Type": "Resource",
    "ResourceChange": {
        "Action": "Modify",
        "LogicalResourceId": "Vpc",
        "PhysicalResourceId": "vpc-1",
        "ResourceType": "AWS::EC2::VPC",
        "Replacement": "True",
        "Scope": ["Properties"],
        "Details": [],
    },
}
DENIED = (
    "Action denied by stack policy: Statement [#2] does not allow [Update:Replace] "
    "for resource [LogicalResourceId/Vpc];"
)


def _update_plan(changes=(VPC_REPLACED,)):
    entry = _entry(stack_policy=POLICY)
    return entry, Plan(
        entry=entry,
        kind=ChangeKind.UPDATE,
        stack=_stack("UPDATE_COMPLETE")["Stacks"][0],
        change_set={"ChangeSetId": CS_ID, "ChangeSetName": "c1", "StackId": STACK_ID, "Changes": list(changes)},
    )


def _set(stub, policy):
    stub.add_response("set_stack_policy", {}, {"StackName": STACK_ID, "StackPolicyBody": stack_policy.body(policy)})


def _execution(stub, final_status, events=()):
    """ExecuteChangeSet and a wait that finds the stack settled (after the event marker and the policy)."""
    stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
    stub.add_response("describe_stacks", _stack(final_status), {"StackName": STACK_ID})
    stub.add_response("describe_stack_events", {"StackEvents": list(events)}, {"StackName": STACK_ID})


def test_widening_lifts_exactly_the_replaced_resources():
    widened = stack_policy.widened(POLICY, ["Vpc"])
    assert stack_policy.protected(widened) == ["Logs"]
    assert stack_policy.protected(stack_policy.widened(POLICY, ["Vpc", "Logs"])) == []
    assert widened["Statement"][0] == POLICY["Statement"][0]  # the Allow stays
    assert stack_policy.protected(POLICY) == ["Logs", "Vpc"]  # the manifest's document is untouched
    removed = {"ResourceChange": {"Action": "Remove", "LogicalResourceId": "Logs"}}
    unprotected = {"ResourceChange": {"Action": "Modify", "LogicalResourceId": "Route", "Replacement": "True"}}
    _, plan = _update_plan([VPC_REPLACED, removed, unprotected])
    assert stack_policy.replaced_or_removed(plan) == ["Logs", "Vpc"]


def test_without_the_override_the_stack_policy_blocks_the_replacement():
    cfn = _cfn()
    entry, plan = _update_plan()
    output = io.StringIO()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        stub.add_response("get_stack_policy", {}, {"StackName": STACK_ID})  # no policy yet: set it
        _set(stub, POLICY)
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"), {"StackName": STACK_ID})
        stub.add_response(
            "describe_stack_events",
            {
                "StackEvents": [
                    _event("e2", "app-svc", "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE"),
                    _event("e1", "Vpc", "AWS::EC2::VPC", "UPDATE_FAILED", DENIED),
                ]
            },
            {"StackName": STACK_ID},
        )
        ok = execute(_context(cfn, entry, output=output), plan, InFlight())
        stub.assert_no_pending_responses()  # and no second SetStackPolicy: nothing was lifted
    out = output.getvalue()
    assert ok is False
    assert "stack policy: set, denies replacement and removal of 2 resource(s): Logs, Vpc" in out
    assert f"Vpc (AWS::EC2::VPC): UPDATE_FAILED: {DENIED}" in out
    assert "the stack policy protects these resources" in out and "--allow-replacement" in out


def test_with_the_override_the_replacement_runs_and_the_policy_is_restored():
    cfn = _cfn()
    entry, plan = _update_plan()
    output = io.StringIO()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _set(stub, stack_policy.widened(POLICY, ["Vpc"]))  # Logs stays protected
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _set(stub, POLICY)
        ok = execute(_context(cfn, entry, allow_replacement=True, output=output), plan, InFlight())
        stub.assert_no_pending_responses()
    out = output.getvalue()
    assert ok is True
    assert "stack policy: lifted for this execution only (--allow-replacement) on Vpc" in out
    assert "stack policy: restored, denies replacement and removal of 2 resource(s): Logs, Vpc" in out


@pytest.mark.parametrize("final", ["UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"])
def test_the_override_is_restored_after_a_failed_update(final):
    cfn = _cfn()
    entry, plan = _update_plan()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _set(stub, stack_policy.widened(POLICY, ["Vpc"]))
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stacks", _stack(final), {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _set(stub, POLICY)
        assert execute(_context(cfn, entry, allow_replacement=True), plan, InFlight()) is False
        stub.assert_no_pending_responses()


def test_the_override_is_restored_when_execute_change_set_is_refused():
    cfn = _cfn()
    entry, plan = _update_plan()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _set(stub, stack_policy.widened(POLICY, ["Vpc"]))
        stub.add_client_error("execute_change_set", "InvalidChangeSetStatus", "Change set is not executable", 400)
        _set(stub, POLICY)
        assert execute(_context(cfn, entry, allow_replacement=True), plan, InFlight()) is False
        stub.assert_no_pending_responses()


class _Interrupting(waiting.Waiter):
    """Ctrl-C while waiting: KeyboardInterrupt itself (the main thread), or the stop event that the
    scheduler sets for the worker threads (WaitInterruptedError)."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def pause(self, delay):
        raise self.error


@pytest.mark.parametrize("error", [KeyboardInterrupt(), waiting.WaitInterruptedError()])
def test_the_override_is_restored_on_ctrl_c_during_the_wait(error):
    cfn = _cfn()
    entry, plan = _update_plan()
    in_flight = InFlight()
    output = io.StringIO()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _set(stub, stack_policy.widened(POLICY, ["Vpc"]))
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stacks", _stack("UPDATE_IN_PROGRESS"), {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _set(stub, POLICY)
        with pytest.raises(type(error)):
            execute(
                _context(cfn, entry, allow_replacement=True, waiter=_Interrupting(error), output=output),
                plan,
                in_flight,
            )
        stub.assert_no_pending_responses()
    assert "stack policy: restored" in output.getvalue()
    assert in_flight.names() == ["svc"]  # the update goes on; Ctrl-C's advice names it


def test_a_failed_restore_prints_the_command_that_restores_it():
    cfn = _cfn()
    entry, plan = _update_plan()
    output = io.StringIO()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _set(stub, stack_policy.widened(POLICY, ["Vpc"]))
        stub.add_response("execute_change_set", {}, {"ChangeSetName": CS_ID})
        stub.add_response("describe_stacks", _stack("UPDATE_COMPLETE"), {"StackName": STACK_ID})
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        stub.add_client_error("set_stack_policy", "Throttling", "Rate exceeded", 400)
        execute(_context(cfn, entry, allow_replacement=True, output=output), plan, InFlight())
    out = output.getvalue()
    assert "stack policy NOT restored: SetStackPolicy failed: Rate exceeded" in out
    command = out[out.index("aws cloudformation set-stack-policy") :].splitlines()[0]
    assert "--region eu-west-1 --stack-name app-svc --stack-policy-body" in command
    assert json.loads(command.split("--stack-policy-body ", 1)[1].strip("'")) == POLICY


def test_an_unchanged_policy_is_not_set_again_and_a_create_sets_it_once_complete():
    cfn = _cfn()
    entry, plan = _update_plan(changes=[])
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        stub.add_response(
            "get_stack_policy", {"StackPolicyBody": json.dumps(POLICY, indent=2)}, {"StackName": STACK_ID}
        )
        _execution(stub, "UPDATE_COMPLETE")
        assert execute(_context(cfn, entry), plan, InFlight()) is True
        stub.assert_no_pending_responses()
    cfn = _cfn()
    plan.kind = ChangeKind.CREATE
    output = io.StringIO()
    with Stubber(cfn) as stub:
        stub.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": STACK_ID})
        _execution(stub, "CREATE_COMPLETE")
        _set(stub, POLICY)
        assert execute(_context(cfn, entry, output=output), plan, InFlight()) is True
        stub.assert_no_pending_responses()
    assert "stack policy: set, denies replacement and removal of 2 resource(s)" in output.getvalue()


def test_an_up_to_date_stack_of_an_earlier_out_gets_the_policy_without_waiting_for_a_change():
    """Day 2: a stack created before stack policies existed holds none; apply sets it even when the stack
    is up to date, and leaves a matching one alone (GetStackPolicy / SetStackPolicy, CloudFormation API)."""
    cfn = _cfn()
    stack = {"StackId": STACK_ID, "StackName": "app-svc", "StackStatus": "UPDATE_COMPLETE", "CreationTime": NOW}
    plan = Plan(entry=_entry(stack_policy=POLICY), kind=ChangeKind.UPDATE, state=PlanState.UP_TO_DATE, stack=stack)
    with Stubber(cfn) as stub:
        stub.add_response("get_stack_policy", {}, {"StackName": STACK_ID})
        stub.add_response("set_stack_policy", {}, {"StackName": STACK_ID, "StackPolicyBody": stack_policy.body(POLICY)})
        stub.add_response("get_stack_policy", {"StackPolicyBody": stack_policy.body(POLICY)}, {"StackName": STACK_ID})
        first = stack_policy.ensure(cfn, plan)
        second = stack_policy.ensure(cfn, plan)
        stub.assert_no_pending_responses()
    assert first and "stack policy set" in first[0] and "Logs, Vpc" in first[0]
    assert second == []
