"""End to end against moto on 127.0.0.1: every command and exit code, as the user sees them."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers import ROOT, log_group_template, run_deploy, two_wired_stacks, write_env
from tests.moto_support import client

pytestmark = pytest.mark.deploy
DEV = json.loads((ROOT / "out" / "dev" / "stacks.json").read_text())["stacks"]


def _deployed(endpoint, stack_name):
    return client(endpoint).describe_stacks(StackName=stack_name)["Stacks"][0]


def test_plan_of_a_new_environment_shows_creates_and_known_after_apply(moto, capsys):
    code, out, _ = run_deploy(capsys, moto, "plan", "--env", "dev", "--detailed-exitcode")
    assert code == 3
    first = DEV[0]
    assert f"== {first['stack_name']} ({first['region']}): create ==" in out
    assert "Add     Vpc " in out and "+ FlowLogRetentionInDays = 14" in out
    for entry in DEV[1:]:
        if entry["depends_on"]:
            assert f"{entry['stack_name']} ({entry['region']}): create after" in out
            assert "known after apply" in out
    # plan leaves nothing behind: the change set and the empty stack it made are deleted
    assert client(moto).describe_stacks()["Stacks"] == []
    code, _, _ = run_deploy(capsys, moto, "plan", "--env", "dev")
    assert code == 0


def test_apply_creates_every_stack_of_dev_in_order_with_outputs_wired(moto, capsys):
    code, out, _ = run_deploy(capsys, moto, "apply", "--env", "dev", "--yes")
    assert code == 0, out
    stacks = {e["name"]: _deployed(moto, e["stack_name"]) for e in DEV}
    for entry in DEV:
        assert stacks[entry["name"]]["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
        assert f"== {entry['stack_name']}: CREATE_COMPLETE ==" in out
        params = {p["ParameterKey"]: p["ParameterValue"] for p in stacks[entry["name"]]["Parameters"]}
        for key, ref in entry["parameters_from_outputs"].items():
            upstream = {o["OutputKey"]: o["OutputValue"] for o in stacks[ref["stack"]]["Outputs"]}
            assert params[key].replace("'", "").strip("[]").replace(" ", "") == upstream[ref["output"]]
    assert out.index(f"{DEV[0]['stack_name']}: executing") < out.index(f"{DEV[-1]['stack_name']}: CREATE_COMPLETE")
    assert "VpcId" in out  # outputs printed after apply
    code, out, _ = run_deploy(capsys, moto, "outputs", "--env", "dev", "--stack", "network")
    assert code == 0 and "VpcId" in out and "vpc-" in out


def test_reapply_is_up_to_date_and_deletes_the_empty_change_set(moto, capsys):
    assert run_deploy(capsys, moto, "apply", "--env", "dev", "--yes")[0] == 0

    def names(entry):
        return {c["ChangeSetName"] for c in client(moto).list_change_sets(StackName=entry["stack_name"])["Summaries"]}

    before = {e["name"]: names(e) for e in DEV}  # the executed ones (moto keeps them listed; AWS does not)
    code, out, _ = run_deploy(capsys, moto, "apply", "--env", "dev", "--yes")
    assert code == 0
    for entry in DEV:
        assert f"{entry['stack_name']} ({entry['region']}): up to date" in out
        assert names(entry) == before[entry["name"]]  # the empty change set is gone
    assert "Nothing to apply" in out
    assert run_deploy(capsys, moto, "plan", "--env", "dev", "--detailed-exitcode")[0] == 0


def test_parameter_change_is_shown_in_the_plan_then_applied(moto, capsys, tmp_path):
    out_dir = two_wired_stacks(tmp_path)
    assert run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))[0] == 0
    two_wired_stacks(tmp_path, retention="14")
    code, out, _ = run_deploy(capsys, moto, "plan", "--env", "test", "--out", str(out_dir), "--detailed-exitcode")
    assert code == 3
    assert "~ Retention: 7 -> 14" in out
    code, out, _ = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))
    assert code == 0, out
    params = _deployed(moto, "t-test-base")["Parameters"]
    assert params == [{"ParameterKey": "Retention", "ParameterValue": "14"}]
    # app's Retention comes from base's output, which just changed: app followed in the same apply
    assert _deployed(moto, "t-test-app")["Parameters"] == [{"ParameterKey": "Retention", "ParameterValue": "14"}]


def test_failing_template_exits_1_with_the_reason_and_cleanup_command(moto, capsys, tmp_path):
    bad = {
        "Resources": {
            "Net": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Sub": {
                "Type": "AWS::EC2::Subnet",
                "Properties": {"VpcId": {"Ref": "Net"}, "CidrBlock": "10.0.0.0/24", "AvailabilityZone": "eu-west-1z"},
            },
        }
    }
    out_dir = write_env(tmp_path / "out", [{"name": "bad", "template": bad}])
    code, out, _ = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))
    assert code == 1
    failure = out[out.index("== t-test-bad: FAILED ==") :]
    assert "eu-west-1z" in failure  # the endpoint's reason
    assert failure.index("failed resources") < failure.index("final status:")
    assert "destroy --env test --stack bad" in failure


def test_destroy_deletes_in_reverse_order_after_confirmation(moto, capsys, tmp_path):
    out_dir = two_wired_stacks(tmp_path)
    assert run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))[0] == 0
    code, _, err = run_deploy(capsys, moto, "destroy", "--env", "test", "--out", str(out_dir))
    assert code == 2 and "pass --yes" in err  # no terminal, no --yes: refused
    code, out, _ = run_deploy(
        capsys, moto, "destroy", "--env", "test", "--stack", "base", "--yes", "--out", str(out_dir)
    )
    assert code == 1 and "t-test-app is deployed and uses outputs of t-test-base" in out
    code, out, _ = run_deploy(capsys, moto, "destroy", "--env", "test", "--yes", "--out", str(out_dir))
    assert code == 0
    assert out.index("t-test-app: DELETE_COMPLETE") < out.index("t-test-base: DELETE_COMPLETE")
    code, out, _ = run_deploy(capsys, moto, "status", "--env", "test", "--out", str(out_dir))
    assert code == 0 and "t-test-base (eu-west-1): not deployed" in out


def test_destroy_lists_what_the_template_retains(moto, capsys, tmp_path):
    kept = log_group_template("/t/kept")
    kept["Resources"]["Logs"]["DeletionPolicy"] = "Retain"
    out_dir = write_env(tmp_path / "out", [{"name": "kept", "template": kept, "parameters": {"Retention": "7"}}])
    assert run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))[0] == 0
    code, out, _ = run_deploy(capsys, moto, "destroy", "--env", "test", "--yes", "--out", str(out_dir))
    assert code == 0 and "kept after deletion (DeletionPolicy): Logs (AWS::Logs::LogGroup)" in out


def test_removing_a_stateful_resource_is_refused_without_allow_replacement(moto, capsys, tmp_path):
    extra = {"Extra": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/t/extra"}}}
    out_dir = write_env(
        tmp_path / "out",
        [{"name": "s", "template": log_group_template("/t/s", extra=extra), "parameters": {"Retention": "7"}}],
    )
    assert run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))[0] == 0
    write_env(
        tmp_path / "out", [{"name": "s", "template": log_group_template("/t/s"), "parameters": {"Retention": "7"}}]
    )
    code, out, _ = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))
    assert code == 1
    assert "!! this change set removes stateful AWS::Logs::LogGroup Extra" in out and "--allow-replacement" in out
    pending = [
        c
        for c in client(moto).list_change_sets(StackName="t-test-s")["Summaries"]
        if c["ExecutionStatus"] != "EXECUTE_COMPLETE"
    ]
    assert pending == []  # the refused change set was deleted
    resources = client(moto).describe_stack_resources(StackName="t-test-s")["StackResources"]
    assert "Extra" in {r["LogicalResourceId"] for r in resources}
    code, out, _ = run_deploy(
        capsys, moto, "apply", "--env", "test", "--yes", "--allow-replacement", "--out", str(out_dir)
    )
    assert code == 0


def test_large_template_goes_through_an_encrypted_private_bucket(moto, capsys, tmp_path):
    big = log_group_template("/t/big")
    big["Metadata"] = {"Padding": "x" * 60_000}
    out_dir = write_env(tmp_path / "out", [{"name": "big", "template": big, "parameters": {"Retention": "7"}}])
    code, out, _ = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))
    assert code == 0, out
    s3 = client(moto, "s3")
    bucket = "cfn-templates-123456789012-eu-west-1"
    assert [o["Key"].split("/")[0] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["t-test-big"]
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_template_over_one_megabyte_is_bad_input(moto, capsys, tmp_path):
    huge = log_group_template("/t/huge")
    huge["Metadata"] = {"Padding": "x" * 1_100_000}
    out_dir = write_env(tmp_path / "out", [{"name": "huge", "template": huge}])
    code, _, err = run_deploy(capsys, moto, "plan", "--env", "test", "--out", str(out_dir))
    assert code == 2 and "over CloudFormation's 1 MB template limit" in err
    assert client(moto).describe_stacks()["Stacks"] == []


def test_status_and_diff_report_the_deployed_state(moto, capsys, tmp_path):
    out_dir = two_wired_stacks(tmp_path)
    assert run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))[0] == 0
    code, out, _ = run_deploy(capsys, moto, "status", "--env", "test", "--out", str(out_dir))
    assert code == 0 and "t-test-base (eu-west-1): " in out and "last event:" in out
    assert run_deploy(capsys, moto, "diff", "--env", "test", "--out", str(out_dir), "--detailed-exitcode")[0] == 0
    two_wired_stacks(tmp_path, retention="30", log_name="/t/renamed")
    code, out, _ = run_deploy(capsys, moto, "diff", "--env", "test", "--out", str(out_dir), "--detailed-exitcode")
    assert code == 3
    assert any(line.startswith("+") and '"LogGroupName": "/t/renamed"' in line for line in out.splitlines())
    assert any(line.startswith("-") and '"LogGroupName": "/t/base"' in line for line in out.splitlines())
    assert "-Retention=7" in out and "+Retention=30" in out


def test_usage_errors_exit_2_and_deploy_nothing(moto, capsys, tmp_path):
    code, _, err = run_deploy(capsys, moto, "plan", "--env", "nope")
    assert code == 2 and "no manifest for environment 'nope'" in err
    code, _, err = run_deploy(capsys, moto, "plan", "--env", "dev", "--stack", "nope")
    assert code == 2 and "unknown stack 'nope'" in err
    code, _, err = run_deploy(capsys, moto, "apply", "--env", "dev")
    assert code == 2 and "pass --yes" in err
    assert client(moto).describe_stacks()["Stacks"] == []
    from deployer import cli as deploy

    assert deploy.main(["plan", "--env", "dev", "--local-endpoint", "http://10.0.0.1:5000"]) == 2
    with pytest.raises(SystemExit) as exc:
        deploy.main(["launch", "--env", "dev"])
    assert exc.value.code == 2


def _with_format_version(out_dir, version):
    """Rewrite out/test/stacks.json with this format_version (None: without the key)."""
    path = out_dir / "test" / "stacks.json"
    data = json.loads(path.read_text())
    data.pop("format_version")
    if version is not None:
        data["format_version"] = version
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(("version", "shown"), [(2, "format_version 2"), (None, "format_version missing")])
def test_a_manifest_of_another_format_version_is_bad_input(moto, capsys, tmp_path, version, shown):
    """A newer generator may have added something the deploy depends on: refuse, say what to do."""
    out_dir = write_env(tmp_path / "out", [{"name": "one", "template": log_group_template("/t/one")}])
    _with_format_version(out_dir, version)
    code, out, err = run_deploy(capsys, moto, "plan", "--env", "test", "--out", str(out_dir))
    assert code == 2, out + err
    assert f"stacks.json: {shown} is not one this tool reads (it reads 1)" in err
    assert "regenerate out/ with the same version of the generator (make generate), or upgrade this tool" in err
    assert client(moto).describe_stacks()["Stacks"] == []


def test_ctrl_c_stops_waiting_but_not_the_deployment(moto, capsys, tmp_path, monkeypatch):
    from deployer import executor

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(executor, "wait_for_stack", interrupted)
    out_dir = two_wired_stacks(tmp_path)
    code, out, err = run_deploy(capsys, moto, "apply", "--env", "test", "--yes", "--out", str(out_dir))
    assert code == 130
    assert "Stopped waiting. Nothing was cancelled" in err and "status --env test --stack base" in err
    assert _deployed(moto, "t-test-base")["StackStatus"] == "CREATE_COMPLETE"  # executed, not cancelled
    assert "t-test-app: executing" not in out  # nothing new started after Ctrl-C


def test_local_flag_starts_and_stops_its_own_emulator(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    out_dir = write_env(
        tmp_path / "out", [{"name": "one", "template": log_group_template("/t/one"), "parameters": {"Retention": "7"}}]
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # no AWS credentials at all
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "fargate-deploy"),
            "apply",
            "--env",
            "test",
            "--yes",
            "--local",
            "--out",
            str(out_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "LOCAL EMULATOR: deploying to moto at http://127.0.0.1:" in done.stdout
    assert "t-test-one: CREATE_COMPLETE" in done.stdout and "LOCAL EMULATOR stopped" in done.stdout
    shutil.rmtree(out_dir)


def test_apply_replans_a_dependant_when_its_upstream_outputs_change(moto, capsys, tmp_path):
    """A dependant planned as up to date must be planned again when its upstream's outputs change
    during the same apply, not left on the old values."""
    out_dir = tmp_path / "out"
    shutil.copytree(ROOT / "out" / "preview", out_dir / "preview")
    assert run_deploy(capsys, moto, "apply", "--env", "preview", "--yes", "--out", str(out_dir))[0] == 0
    network_path = out_dir / "preview" / "network.json"
    network = json.loads(network_path.read_text())
    network["Outputs"]["VpcCidr"]["Value"] = "10.99.0.0/16"
    network["Resources"]["HarmlessLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": "/t/harmless", "RetentionInDays": 7},
    }
    network_path.write_text(json.dumps(network, indent=2))
    code, out, _ = run_deploy(capsys, moto, "apply", "--env", "preview", "--yes", "--out", str(out_dir))
    assert code == 0, out
    service = next(
        e for e in json.loads((out_dir / "preview" / "stacks.json").read_text())["stacks"] if e["name"] == "service"
    )["stack_name"]
    replanned = out[out.index(f"== {service}: upstream outputs changed") :]
    assert "~ VpcCidr: 10.50.0.0/16 -> 10.99.0.0/16" in replanned
    assert f"== {service}: executing" in replanned
    params = {p["ParameterKey"]: p["ParameterValue"] for p in _deployed(moto, service)["Parameters"]}
    assert params["VpcCidr"] == "10.99.0.0/16"
    code, out, _ = run_deploy(capsys, moto, "plan", "--env", "preview", "--out", str(out_dir), "--detailed-exitcode")
    assert code == 0, out
    assert f"== {service} (eu-west-1): up to date ==" in out and "VpcCidr" not in out


def test_ctrl_c_under_local_says_the_emulator_and_its_stacks_are_gone(capsys, tmp_path, monkeypatch):
    from deployer import cli as deploy
    from deployer import executor

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(executor, "wait_for_stack", interrupted)
    out_dir = write_env(
        tmp_path / "out", [{"name": "one", "template": log_group_template("/t/one"), "parameters": {"Retention": "7"}}]
    )
    code = deploy.main(["apply", "--env", "test", "--yes", "--local", "--out", str(out_dir)])
    captured = capsys.readouterr()
    assert code == 130
    assert "LOCAL EMULATOR stopped" in captured.out
    assert "Nothing was cancelled" not in captured.err and "status --env" not in captured.err
    assert "every stack deployed to it goes with it" in captured.err
    assert "--local-endpoint http://127.0.0.1:PORT" in captured.err
