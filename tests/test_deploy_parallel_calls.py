"""What keeps an apply of several environments at once cheap (issue 15): environments share their AWS
clients, and a stack's description serves every reader of one moment (its outputs are read once while
planning, and its dependants use those of its final DescribeStacks after deploying it); the guard of
gap 19 reuses the change set the planner described. On the emulator (moto on 127.0.0.1) and offline."""

from __future__ import annotations

import datetime as dt
import io
import json
import threading

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from deployer import changesets, cli, commands, executor
from deployer.aws import Aws
from deployer.changesets import Options
from deployer.context import Context
from deployer.emulator import FAKE_CREDENTIALS, EmulatorProvider, guard_obsolete_create
from deployer.executor import InFlight, execute
from deployer.manifest import Manifest
from deployer.plans import ChangeKind, Plan
from deployer.reporter import Reporter
from tests.helpers import (
    fast_waiter,
    log_group_template,
    run_deploy,
    stack_entry,
    stub_client,
    two_wired_stacks,
    write_env,
)
from tests.moto_support import client

REGION = "eu-west-1"


def test_a_shared_aws_shares_session_and_clients_but_not_where_its_lines_go():
    first = Aws(endpoint_url="http://127.0.0.1:9", credentials=FAKE_CREDENTIALS)
    said: list[str] = []
    other = first.sharing(said.append)
    assert other.session is first.session
    assert other.cfn(REGION) is first.cfn(REGION)  # made by either: one client per service and region
    assert first.client("s3", REGION) is other.client("s3", REGION)
    other.say("creating bucket")
    first.say("not shown")
    assert said == ["creating bucket"]


def test_every_environment_of_one_apply_uses_the_first_ones_clients_with_its_own_prefix(tmp_path):
    out = tmp_path / "out"
    for env in ("alpha", "beta"):
        write_env(out, [{"name": "base", "template": log_group_template(f"/t/{env}")}], env=env)
    args = cli.parser().parse_args(["apply", "--env", "alpha", "--env", "beta", "--out", str(out)])
    cli._environments(args)
    stream = io.StringIO()
    reporter = Reporter(stream, stream)
    provider = EmulatorProvider("http://127.0.0.1:9")
    alpha = cli._context(args, provider, reporter.prefixed("[alpha] "), "alpha")
    beta = cli._context(args, provider, reporter.prefixed("[beta] "), "beta", alpha)
    assert beta.aws.cfn(REGION) is alpha.aws.cfn(REGION)
    assert beta.waiter is alpha.waiter and beta.slots is alpha.slots
    beta.aws.say("creating bucket")
    assert stream.getvalue() == "[beta] creating bucket\n"


def _outputs_reads(monkeypatch) -> list[str]:
    """Stack names the planner describes to read their outputs (Planner.outputs_of)."""
    read: list[str] = []
    describe = changesets.describe_stack

    def counted(cfn, name):
        read.append(name)
        return describe(cfn, name)

    monkeypatch.setattr(changesets, "describe_stack", counted)
    monkeypatch.setattr(commands, "PLANNING_THREADS", 1)  # manifest order: base is planned before app
    return read


def _parameter(endpoint: str, stack: str, key: str) -> str:
    described = client(endpoint).describe_stacks(StackName=stack)["Stacks"][0]
    return next(p["ParameterValue"] for p in described["Parameters"] if p["ParameterKey"] == key)


@pytest.mark.deploy
def test_upstream_outputs_are_read_from_descriptions_already_made(moto, capsys, tmp_path, monkeypatch):
    out = two_wired_stacks(tmp_path)
    read = _outputs_reads(monkeypatch)
    code, stdout, _ = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out))
    assert code == 0, stdout
    # planning: base's own description (not there yet); after deploying it: its final DescribeStacks
    assert read == []
    assert _parameter(moto, "t-test-app", "Retention") == "7"


@pytest.mark.deploy
def test_an_upstream_deployed_again_passes_its_new_outputs_on(moto, capsys, tmp_path, monkeypatch):
    out = two_wired_stacks(tmp_path)
    assert run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out))[0] == 0
    out = two_wired_stacks(tmp_path, retention="14")
    read = _outputs_reads(monkeypatch)
    code, stdout, _ = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out))
    assert code == 0, stdout
    assert "== t-test-app: upstream outputs changed; planning again" in stdout
    assert read == []
    assert _parameter(moto, "t-test-app", "Retention") == "14"


def _counting(cfn, operation: str) -> list[dict]:
    calls: list[dict] = []
    cfn.meta.events.register(f"before-call.cloudformation.{operation}", lambda params, **_: calls.append(params))
    return calls


def _change_set(cfn, stack: str, name: str) -> dict:
    template = log_group_template(f"/g/{stack}", outputs=False)
    made = cfn.create_change_set(
        StackName=stack,
        ChangeSetName=name,
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "7"}],
    )
    return cfn.describe_change_set(ChangeSetName=made["Id"])  # as the planner waits for it


@pytest.mark.deploy
def test_the_obsolete_change_set_guard_uses_the_change_set_the_planner_described(moto):
    cfn = client(moto)
    guard_obsolete_create(cfn)
    described = _change_set(cfn, "g", "a")
    calls = _counting(cfn, "DescribeChangeSet")
    cfn.execute_change_set(ChangeSetName=described["ChangeSetId"])
    assert calls == []
    assert cfn.describe_stacks(StackName="g")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


@pytest.mark.deploy
def test_the_guard_still_refuses_a_change_set_whose_stack_was_replaced(moto):
    cfn = client(moto)
    guard_obsolete_create(cfn)
    described = _change_set(cfn, "g", "a")
    other = client(moto)  # another run: gap 5's workaround deletes the stack, then makes its own
    other.delete_stack(StackName=described["StackId"])
    _change_set(other, "g", "b")
    with pytest.raises(ClientError, match="is obsolete") as refused:
        cfn.execute_change_set(ChangeSetName=described["ChangeSetId"])
    assert refused.value.response["Error"]["Code"] == "InvalidChangeSetStatus"


@pytest.mark.deploy
def test_the_guard_describes_a_change_set_it_has_not_seen(moto):
    cfn = client(moto)
    described = _change_set(cfn, "g", "a")  # described before the guard was registered
    guard_obsolete_create(cfn)
    calls = _counting(cfn, "DescribeChangeSet")
    cfn.execute_change_set(ChangeSetName=described["ChangeSetId"])
    assert len(calls) == 1


@pytest.mark.deploy
def test_a_stack_made_by_its_own_change_set_needs_no_event_marker(moto, capsys, tmp_path, monkeypatch):
    looked_up: list[str] = []
    latest = executor.latest_event_id
    monkeypatch.setattr(
        executor, "latest_event_id", lambda cfn, stack_id: looked_up.append(stack_id) or latest(cfn, stack_id)
    )
    out = two_wired_stacks(tmp_path)
    code, stdout, _ = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out))
    assert code == 0, stdout
    assert looked_up == []  # both stacks were created by this run's change sets
    assert "REVIEW_IN_PROGRESS" not in stdout
    assert "t-test-base  AWS::CloudFormation::Stack  CREATE_COMPLETE" in stdout
    out = two_wired_stacks(tmp_path, retention="14")
    code, stdout, _ = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out))
    assert code == 0, stdout
    assert len(looked_up) == 2  # updates: only the events after the stack's last one are shown
    assert "CREATE_COMPLETE" not in stdout.split("executing", 1)[1]


def test_a_created_stack_is_executed_without_looking_up_its_events_first(capsys):
    """AWS's shapes (DescribeStackEvents pages newest first): the change set made the stack in
    REVIEW_IN_PROGRESS, its only event until ExecuteChangeSet; that event is not reported."""
    stack_id = "arn:aws:cloudformation:eu-west-1:123456789012:stack/app-net/1"
    change_set_id = "arn:aws:cloudformation:eu-west-1:123456789012:changeSet/c1/1"
    now = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)

    def event(event_id: str, status: str) -> dict:
        return {
            "StackId": stack_id,
            "EventId": event_id,
            "StackName": "app-net",
            "LogicalResourceId": "app-net",
            "ResourceType": "AWS::CloudFormation::Stack",
            "Timestamp": now,
            "ResourceStatus": status,
        }

    def stacks(status: str) -> dict:
        return {"Stacks": [{"StackName": "app-net", "StackId": stack_id, "StackStatus": status, "CreationTime": now}]}

    entry = stack_entry("net")
    cfn = stub_client()

    class OneClient:
        def cfn(self, region):
            return cfn

    manifest = Manifest(env="dev", folder=None, stacks=[entry], selected=[entry])
    ctx = Context(manifest, OneClient(), Options(), fast_waiter(), yes=True, reporter=Reporter())  # type: ignore[arg-type]
    change_set = {"ChangeSetId": change_set_id, "ChangeSetName": "c1", "StackId": stack_id}
    plan = Plan(entry=entry, kind=ChangeKind.CREATE, change_set=change_set, created_stack=True)
    with Stubber(cfn) as stub:
        stub.add_response("execute_change_set", {}, {"ChangeSetName": change_set_id})
        stub.add_response("describe_stacks", stacks("CREATE_IN_PROGRESS"), {"StackName": stack_id})
        first_page = [event("e1", "CREATE_IN_PROGRESS"), event("e0", "REVIEW_IN_PROGRESS")]
        stub.add_response("describe_stack_events", {"StackEvents": first_page}, {"StackName": stack_id})
        stub.add_response("describe_stacks", stacks("CREATE_COMPLETE"), {"StackName": stack_id})
        stub.add_response(
            "describe_stack_events",
            {"StackEvents": [event("e2", "CREATE_COMPLETE"), *first_page]},
            {"StackName": stack_id},
        )
        assert execute(ctx, plan, InFlight()) is True
        stub.assert_no_pending_responses()
    out = capsys.readouterr().out
    assert "REVIEW_IN_PROGRESS" not in out
    assert out.index("CREATE_IN_PROGRESS") < out.index("AWS::CloudFormation::Stack  CREATE_COMPLETE")


def test_a_dependant_planned_while_its_upstream_is_described_reads_that_description(monkeypatch):
    entered, release = threading.Event(), threading.Event()
    described: list[str] = []

    class SlowProvider:
        def describe_stack(self, cfn, name):
            described.append(name)
            entered.set()
            release.wait()
            return {
                "StackName": name,
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": "A", "OutputValue": "1"}],
            }

    read: list[str] = []
    monkeypatch.setattr(changesets, "describe_stack", lambda cfn, name: read.append(name))
    base = stack_entry("base")

    class OneClient:
        def cfn(self, region):
            return None

    manifest = Manifest(env="dev", folder=None, stacks=[base], selected=[base])
    planner = changesets.Planner(OneClient(), manifest, Options(), fast_waiter(), SlowProvider(), Reporter())  # type: ignore[arg-type]
    planning = threading.Thread(target=planner._described, args=(None, base))
    planning.start()
    entered.wait()
    got: list = []
    reading = threading.Thread(target=lambda: got.append(planner.outputs_of("base")))
    reading.start()
    reading.join(timeout=0.2)
    assert reading.is_alive()  # waiting for the description under way, not describing the stack itself
    release.set()
    reading.join()
    planning.join()
    assert got == [{"A": "1"}]
    assert described == ["app-base"] and read == []
