"""Day-2 safety: failing fast and clearly (unreachable endpoint, the emulator's own failures, a stack
busy in another run, bad options), the stale guard of plan/apply, and the emulator gaps 19-22.

Tests without an endpoint (closed ports, botocore's before-send and documented error shapes) run in
the fast tier; the ones against moto are marked `deploy`."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import socket
import time

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from deployer import USAGE, UserError
from deployer import aws as aws_module
from deployer import cli as deploy
from deployer.emulator import EmulatorProvider
from deployer.local_server import check_url
from deployer.provider import AwsProvider
from deployer.reporter import Reporter
from tests.helpers import ROOT, log_group_template, run_deploy, write_env
from tests.moto_support import client

STACK_ARN = "arn:aws:cloudformation:eu-west-1:123456789012:stack/app-net/1"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _one_stack(tmp_path, **extra):
    stack = {"name": "base", "template": log_group_template("/t/base"), "parameters": {"Retention": "7"}, **extra}
    return write_env(tmp_path / "out", [stack])


@pytest.mark.parametrize("command", ["apply", "status"])
def test_unreachable_emulator_exits_2_within_5_seconds_with_the_fix(tmp_path, capsys, command):
    out_dir = _one_stack(tmp_path)
    start = time.monotonic()
    code, _, err = run_deploy(
        capsys, f"http://127.0.0.1:{_closed_port()}", command, "--env", "test", "--yes", "--out", str(out_dir)
    )
    assert code == USAGE and time.monotonic() - start < 5
    assert "cannot reach the local emulator at http://127.0.0.1:" in err
    assert "moto_server -H 127.0.0.1 -p PORT" in err and "--local" in err


def test_unreachable_aws_exits_2_within_5_seconds(tmp_path, capsys, monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "a",
        "AWS_SECRET_ACCESS_KEY": "b",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        # botocore's service-specific endpoint setting: a connect failure without leaving this machine
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_port()}",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    out_dir = _one_stack(tmp_path)
    start = time.monotonic()
    code = deploy.main(["status", "--env", "test", "--out", str(out_dir)])
    err = capsys.readouterr().err
    assert code == USAGE and time.monotonic() - start < 5
    assert "cannot reach AWS" in err and "check the network, proxy (HTTPS_PROXY) and --region" in err


def _answering(aws, service, status, body):
    """A client of `aws` whose every call gets this HTTP answer (botocore's before-send)."""
    c = aws.client(service, "eu-west-1")

    class _Raw:
        def stream(self, **kwargs):
            yield body

    c.meta.events.register(f"before-send.{service}", lambda request, **kw: AWSResponse(request.url, status, {}, _Raw()))
    return c


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        (500, b"<!doctype html><title>500 Internal Server Error</title>", "500 Internal Server Error"),
        (400, b'{"__type": "ResourceAlreadyExistsException", "message": "exists"}', "ResourceAlreadyExistsException"),
    ],
)
def test_the_emulators_own_failures_are_named_as_such(status, body, shown):
    aws = EmulatorProvider(f"http://127.0.0.1:{_closed_port()}").clients(None)
    cfn = _answering(aws, "cloudformation", status, body)
    with pytest.raises(ClientError) as caught:
        cfn.describe_stacks(StackName="app-net")
    message = aws_module.error_message(caught.value)
    assert message.startswith("the local emulator (moto) failed on DescribeStacks: ")
    assert shown in message and "this is an emulator limit, not an AWS answer" in message
    assert "/moto-api/reset" in message  # the fix
    # against AWS the same answer is botocore's, untouched
    plain = _answering(
        aws_module.Aws(credentials={"aws_access_key_id": "a", "aws_secret_access_key": "b"}), "sts", 400, body
    )
    with pytest.raises(ResponseParserError):
        plain.get_caller_identity()


def test_a_busy_stack_is_named_with_its_status_and_what_to_do():
    """CloudFormation's documented answers when another operation holds the stack."""
    busy = ClientError(
        {
            "Error": {
                "Type": "Sender",
                "Code": "ValidationError",
                "Message": f"Stack:{STACK_ARN} is in UPDATE_IN_PROGRESS state and can not be updated.",
            }
        },
        "CreateChangeSet",
    )
    message = aws_module.error_message(busy)
    assert message.startswith("app-net is in UPDATE_IN_PROGRESS: another operation (perhaps another fargate-deploy")
    assert "This run changed nothing on it" in message and "fargate-deploy status" in message
    obsolete = ClientError(
        {
            "Error": {
                "Code": "InvalidChangeSetStatus",
                "Message": f"ChangeSet [c1] cannot be executed in its current status of [CREATE_COMPLETE]: Stack:"
                f"{STACK_ARN} is in UPDATE_IN_PROGRESS state",
            }
        },
        "ExecuteChangeSet",
    )
    failure = AwsProvider().execute_failure(None, STACK_ARN, obsolete)
    assert "app-net is in UPDATE_IN_PROGRESS: another operation" in failure.lines[0] and not failure.stack_left
    in_progress = ClientError(
        {"Error": {"Code": "OperationInProgressException", "Message": "Another Operation on StackSet is in progress"}},
        "DetectStackDrift",
    )
    assert "the stack is busy: another operation" in aws_module.error_message(in_progress)
    other = ClientError({"Error": {"Code": "ValidationError", "Message": "Template format error"}}, "CreateChangeSet")
    assert aws_module.error_message(other) == "Template format error"


def test_ctrl_c_advice_keeps_the_local_endpoint():
    args = argparse.Namespace(env="dev", local_endpoint="http://127.0.0.1:5000")
    output = io.StringIO()
    deploy._interrupted(args, Reporter(err=output), ["network"], ephemeral=False)
    assert "fargate-deploy status --env dev --stack network --local-endpoint http://127.0.0.1:5000" in output.getvalue()


def test_local_endpoint_accepts_localhost_and_nothing_else():
    assert check_url("http://localhost:5000") == "http://127.0.0.1:5000"
    assert check_url("http://127.0.0.1:5000/") == "http://127.0.0.1:5000"
    for bad in (
        "http://10.0.0.1:5000",
        "http://localhost.example.com:5000",
        "https://localhost:5000",
        "http://localhost",
    ):
        with pytest.raises(UserError, match=r"must be http://127\.0\.0\.1:PORT or http://localhost:PORT"):
            check_url(bad)


@pytest.mark.parametrize("value", ["-5", "0", "soon", "nan", "inf"])
def test_wait_timeout_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit) as exited:
        deploy.main(["status", "--env", "dev", "--wait-timeout", value])
    assert exited.value.code == USAGE
    assert "--wait-timeout" in capsys.readouterr().err


# The stale guard: out/<env>/ against params/ beside it, by fargate-generate --check (a subprocess).


def _project_copy(tmp_path, desired_count=None):
    shutil.copytree(ROOT / "out" / "dev", tmp_path / "out" / "dev")
    shutil.copytree(ROOT / "params", tmp_path / "params")
    if desired_count:
        path = tmp_path / "params" / "dev.yaml"
        text = path.read_text()
        assert "desired_count: 1 " in text
        path.write_text(text.replace("desired_count: 1 ", f"desired_count: {desired_count} ", 1))
    return tmp_path / "out"


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_plan_and_apply_refuse_an_out_tree_stale_against_params(tmp_path, capsys, command):
    out_dir = _project_copy(tmp_path, desired_count=2)
    code, out, err = run_deploy(
        capsys, f"http://127.0.0.1:{_closed_port()}", command, "--env", "dev", "--out", str(out_dir)
    )
    assert code == USAGE, out + err
    assert "is stale against params/: out/dev/service.json (stale)" in err
    assert "Run `make generate` (fargate-generate --env dev)" in err and "--allow-stale" in err
    assert "LOCAL EMULATOR" not in out  # refused before anything else


def test_allow_stale_proceeds_and_a_handed_over_out_tree_is_not_checked(tmp_path, capsys):
    out_dir = _project_copy(tmp_path, desired_count=2)
    closed = f"http://127.0.0.1:{_closed_port()}"
    code, _, err = run_deploy(capsys, closed, "plan", "--env", "dev", "--out", str(out_dir), "--allow-stale")
    assert "note: --allow-stale: deploying out/ as it stands" in err and "out/dev/service.json" in err
    assert code == USAGE and "cannot reach the local emulator" in err  # it went on, to the endpoint
    shutil.rmtree(tmp_path / "params")
    code, _, err = run_deploy(capsys, closed, "plan", "--env", "dev", "--out", str(out_dir))
    assert "out/ was not checked against params/ (no params/ beside" in err and "cannot reach" in err


# Against the emulator.


@pytest.mark.deploy
def test_emulator_banner_only_on_commands_that_change_things(moto, capsys, tmp_path):
    out_dir = _one_stack(tmp_path)
    for command in ("status", "outputs", "diff"):
        code, out, _ = run_deploy(capsys, moto, command, "--env", "test", "--out", str(out_dir))
        assert code == 0 and "LOCAL EMULATOR" not in out, command
    code, out, _ = run_deploy(capsys, moto, "plan", "--env", "test", "--out", str(out_dir))
    assert code == 0 and out.startswith("LOCAL EMULATOR: deploying to moto at")


@pytest.mark.deploy
def test_the_template_bucket_is_announced_when_created(moto):
    said: list[str] = []
    aws = EmulatorProvider(moto).clients(None)
    aws.say = said.append
    entry = type("Entry", (), {"region": "eu-west-1", "stack_name": "big"})()
    aws.template_source(entry, "x" * 60_000, None)
    aws.template_source(entry, "y" * 60_000, None)
    assert said == [
        "creating bucket cfn-templates-123456789012-eu-west-1 for templates over 51,200 bytes "
        "(encrypted, public access blocked)"
    ]


@pytest.mark.deploy
def test_two_applies_at_once_the_second_is_refused_clearly_and_nothing_breaks(moto, capsys, tmp_path, monkeypatch):
    """Run 1 plans; while it asks for confirmation, run 2 applies the same stack; run 1 then must not
    execute its obsolete change set (gap 19)."""
    from deployer.context import Context

    out_dir = _one_stack(tmp_path)
    base = ["apply", "--env", "test", "--out", str(out_dir), "--local-endpoint", moto]
    second: list[int] = []

    def confirm(self, question):
        if not second:  # run 1 only; run 2 is confirmed by this very call
            second.append(-1)
            second[0] = deploy.main([*base, "--yes"])
        return True

    monkeypatch.setattr(Context, "confirm", confirm)
    first = deploy.main(base)
    out = capsys.readouterr().out
    assert second == [0] and first == 1, out
    # UPDATE_COMPLETE: the emulator reports it after a create (gap 2's workaround)
    assert "t-test-base is now UPDATE_COMPLETE: another run (perhaps another fargate-deploy apply) created it" in out
    assert "This run changed nothing on it" in out and "clean up with" not in out
    stacks = client(moto).describe_stacks(StackName="t-test-base")["Stacks"]
    assert [s["StackStatus"] for s in stacks] == ["UPDATE_COMPLETE"]


def _raw_template(name):
    return json.dumps({"Resources": {"L": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": name}}}})


@pytest.mark.deploy
def test_gap19_a_change_set_whose_stack_was_replaced_still_runs(moto):
    cfn = client(moto)
    first = cfn.create_change_set(
        StackName="g", ChangeSetName="a", ChangeSetType="CREATE", TemplateBody=_raw_template("/g")
    )
    cfn.delete_stack(StackName=first["StackId"])  # what gap 5's workaround does in a second run
    cfn.create_change_set(StackName="g", ChangeSetName="b", ChangeSetType="CREATE", TemplateBody=_raw_template("/g"))
    # moto 5.2.5 runs it or answers HTTP 500 (no error code botocore can parse). A refusal with an error
    # code (AWS: InvalidChangeSetStatus) escapes as ClientError and fails this test: moto refuses it now,
    # so drop gap 19 and guard_obsolete_create.
    with contextlib.suppress(ResponseParserError):
        cfn.execute_change_set(ChangeSetName=first["Id"])


@pytest.mark.deploy
def test_gap20_no_drift_detection(moto, capsys, tmp_path):
    cfn = client(moto)
    cfn.create_stack(StackName="g", TemplateBody=_raw_template("/g"))
    with pytest.raises((ClientError, ResponseParserError)):  # fails once moto detects drift: drop gap 20
        cfn.detect_stack_drift(StackName="g")
    out_dir = _one_stack(tmp_path)
    assert run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))[0] == 0
    code, out, _ = run_deploy(capsys, moto, "drift", "--env", "test", "--out", str(out_dir))
    assert code == 1 and "the local emulator (moto) failed on DetectStackDrift" in out
    assert "LOCAL EMULATOR" not in out


@pytest.mark.deploy
def test_gap21_tag_changes_are_ignored_in_change_sets(moto):
    cfn = client(moto)
    body = _raw_template("/g")
    made = cfn.create_change_set(
        StackName="g",
        ChangeSetName="a",
        ChangeSetType="CREATE",
        TemplateBody=body,
        Tags=[{"Key": "Owner", "Value": "a"}],
    )
    cfn.execute_change_set(ChangeSetName=made["Id"])
    changed = cfn.create_change_set(
        StackName="g",
        ChangeSetName="b",
        ChangeSetType="UPDATE",
        TemplateBody=body,
        Tags=[{"Key": "Owner", "Value": "b"}],
    )
    described = cfn.describe_change_set(ChangeSetName=changed["Id"])
    if described["Status"] != "FAILED":
        cfn.execute_change_set(ChangeSetName=changed["Id"])
    tags = cfn.describe_stacks(StackName="g")["Stacks"][0]["Tags"]
    assert tags == [{"Key": "Owner", "Value": "a"}], "moto applies tag changes now: drop gap 21"


@pytest.mark.deploy
def test_gap22_termination_protection_is_not_enforced(moto):
    cfn = client(moto)
    cfn.create_stack(StackName="g", TemplateBody=_raw_template("/g"), EnableTerminationProtection=True)
    assert cfn.describe_stacks(StackName="g")["Stacks"][0]["EnableTerminationProtection"] is True
    cfn.delete_stack(StackName="g")  # AWS: ValidationError (termination protection is enabled)
    statuses = [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"] if s["StackName"] == "g"]
    assert statuses == ["DELETE_COMPLETE"], "moto enforces termination protection now: drop gap 22"
