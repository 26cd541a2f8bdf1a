"""Hand-off with only the AWS CLI: out/<env>/deploy.sh, generated from the manifest, deploys the
environment with the AWS CLI alone. The end-to-end tests (marker ``deploy``) run it against the
hand-off emulator of tests/moto_server_patches.py (what `make emulator` starts): create, update
after a params change, and a re-run with nothing to change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from blueprints import cli, environment, manifest
from tests.helpers import OUT, PARAMS, ROOT, tree_digest
from tests.moto_server_patches import adapt_templates, adapted_copy, handoff_server, in_process_server

AWS = Path(sys.executable).parent / "aws"
REGION = "eu-west-1"
ENVIRONMENTS = manifest.environments(OUT)


def _cli_env(endpoint: str = "http://127.0.0.1:9") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        PATH=f"{AWS.parent}{os.pathsep}{env['PATH']}",
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return env


def _run(folder: Path, *args: str, endpoint: str = "http://127.0.0.1:9") -> subprocess.CompletedProcess:
    # stdin is no terminal, as in CI: without --yes the script refuses.
    return subprocess.run(
        ["bash", str(folder / "deploy.sh"), *args],
        env=_cli_env(endpoint),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _client(endpoint: str, service: str = "cloudformation"):
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_script_is_the_manifest_rendered(env):
    """deploy.sh is generated from stacks.json alone (deterministic), names every stack in manifest
    order and keeps every line within 400 characters."""
    document = manifest.read(OUT / env)
    text = (OUT / env / environment.DEPLOY_SCRIPT).read_text()
    assert text == environment.deploy_script(document) == environment.deploy_script(manifest.read(OUT / env))
    assert text.startswith("#!/usr/bin/env bash\n") and "\nset -euo pipefail\n" in text
    assert max(len(line) for line in text.splitlines()) <= 400
    positions = [text.index(f"\nstack={entry.stack_name}\n") for entry in document.stacks]
    assert positions == sorted(positions)
    for entry in document.stacks:
        block = text.split(f"\nstack={entry.stack_name}\n", 1)[1].split("\ndeploy_stack\n", 1)[0]
        assert f"adopt={'true' if entry.adoptable_resources else 'false'}" in block
        assert f"protect={'true' if entry.termination_protection else 'false'}" in block
        assert f"alarms=({' '.join(entry.rollback_alarms)})" in block
        assert f"monitoring_minutes={entry.rollback_monitoring_minutes}" in block
        for key in entry.parameters_kept_on_update:
            assert f"then add_previous {key};" in block
        for key, ref in entry.parameters_from_outputs.items():
            upstream = document.by_name(ref.stack).stack_name
            assert f"value=$(output {upstream} {ref.output} {key})" in block


@pytest.mark.slow
def test_script_passes_shellcheck():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed (Debian: apt-get install shellcheck)")
    scripts = [str(OUT / env / environment.DEPLOY_SCRIPT) for env in ENVIRONMENTS]
    result = subprocess.run([shellcheck, *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_without_a_terminal_or_yes_it_refuses_before_any_call():
    result = _run(OUT / "dev")
    assert result.returncode == 2
    assert "no terminal to confirm change sets on" in result.stderr and "--yes" in result.stderr


def test_a_template_over_51200_bytes_needs_a_bucket(tmp_path):
    folder = tmp_path / "dev"
    shutil.copytree(OUT / "dev", folder)
    with (folder / "service.json").open("a") as template:
        template.write(" " * 51200)
    result = _run(folder, "--yes")
    assert result.returncode == 2
    assert "service.json is" in result.stderr and "--s3-bucket BUCKET or DEPLOY_S3_BUCKET=BUCKET" in result.stderr


def _service_entry(document: manifest.Manifest, folder: Path) -> manifest.StackEntry:
    """The first service stack of the manifest: ``service``, or ``service-<name>`` with ``services:``."""
    for entry in document.stacks:
        body = json.loads((folder / entry.template).read_text())
        if any(r["Type"] == "AWS::ECS::Service" for r in body["Resources"].values()):
            return entry
    raise AssertionError("no service stack")


def _service_params(data: dict, entry: manifest.StackEntry) -> dict:
    """The params section of that service: ``service:``, or its entry of ``services:``."""
    return data["services"][entry.name.removeprefix("service-")] if "services" in data else data["service"]


def _stacks(endpoint: str, document: manifest.Manifest) -> dict[str, dict]:
    cfn = _client(endpoint)
    return {entry.name: cfn.describe_stacks(StackName=entry.stack_name)["Stacks"][0] for entry in document.stacks}


# The sample environments the emulator can create and update: prod's certificate_arn is a placeholder
# (its service stack fails on the emulator as it would on AWS: README, "Deploying"); staging's update is
# not modelled: moto 5.2.5 gives the change set of its (emulator-adapted, transform) service template no
# Changes, so the script rightly reports "up to date" — staging is created (and re-run) below instead.
EMULATED = [env for env in ENVIRONMENTS if env not in ("prod", "staging")]


@pytest.mark.deploy
@pytest.mark.parametrize("env", EMULATED)
def test_deploy_script_creates_updates_and_reports_up_to_date(tmp_path, env):
    """Each environment with the AWS CLI alone: create every stack, update after a params change, then
    nothing to do. Templates over 51,200 bytes go through the bucket given with --s3-bucket. With several
    services (apps) the change is the first service's; the other service's stacks stay as they are."""
    folder = adapted_copy(OUT / env, tmp_path / "out" / env)
    document = manifest.read(folder)
    service = _service_entry(document, folder)
    before = tree_digest(folder)
    with handoff_server() as endpoint:
        _client(endpoint, "s3").create_bucket(
            Bucket="handoff", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        created = _run(folder, "--yes", "--s3-bucket", "handoff", endpoint=endpoint)
        assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-3000:]
        assert tree_digest(folder) == before, "the script writes nothing beside itself"
        stacks = _stacks(endpoint, document)
        cfn = _client(endpoint)
        for entry in document.stacks:
            deployed = stacks[entry.name]
            assert deployed["StackStatus"] == "CREATE_COMPLETE"
            assert {t["Key"]: t["Value"] for t in deployed["Tags"]} == entry.tags
            policy = cfn.get_stack_policy(StackName=entry.stack_name).get("StackPolicyBody")
            assert (json.loads(policy) if policy else None) == entry.stack_policy
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["network"]["Outputs"]}
        service_parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stacks[service.name]["Parameters"]}
        assert service_parameters["VpcId"] == outputs["VpcId"] and outputs["VpcId"].startswith("vpc-")
        # Each change set was shown as a table before it ran.
        assert created.stdout.count("DescribeChangeSet") == len(document.stacks)

        # A params change, regenerated as `make generate` would, then adapted for the emulator again.
        params = tmp_path / "params"
        shutil.copytree(PARAMS, params)
        data = yaml.safe_load((params / f"{env}.yaml").read_text())
        _service_params(data, service)["desired_count"] = 2
        (params / f"{env}.yaml").write_text(yaml.safe_dump(data))
        assert cli.main(["--env", env, "--params-dir", str(params), "--out-dir", str(tmp_path / "out"), "-q"]) == 0
        adapt_templates(folder)
        updated = _run(folder, "--yes", "--s3-bucket", "handoff", endpoint=endpoint)
        assert updated.returncode == 0, updated.stdout[-3000:] + updated.stderr[-3000:]
        assert f"webapp-{env}-network is up to date: no changes" in updated.stdout
        assert f"== {service.stack_name}: UPDATE change set" in updated.stdout
        assert f"done: 1 of {len(document.stacks)} stacks of webapp {env} changed" in updated.stdout
        after = _stacks(endpoint, document)
        assert after[service.name]["StackStatus"] == "UPDATE_COMPLETE"
        template = cfn.get_template(StackName=service.stack_name)["TemplateBody"]
        template = template if isinstance(template, dict) else json.loads(template)
        assert template["Resources"]["Service"]["Properties"]["DesiredCount"] == 2

        again = _run(folder, "--yes", "--s3-bucket", "handoff", endpoint=endpoint)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        assert again.stdout.count("is up to date: no changes") == len(document.stacks)
        assert f"up to date: no stack of webapp {env} had changes" in again.stdout
        # Empty change sets are deleted (moto also lists executed ones, and those of every stack).
        summaries = cfn.list_change_sets(StackName=service.stack_name)["Summaries"]
        assert not [s["ChangeSetName"] for s in summaries if s["Status"] == "FAILED"]


@pytest.mark.deploy
def test_deploy_script_creates_staging_through_s3(tmp_path):
    """staging, whose adapted templates may exceed 51,200 bytes: those go through the given bucket."""
    folder = adapted_copy(OUT / "staging", tmp_path / "staging")
    document = manifest.read(folder)
    large = [e.template for e in document.stacks if (folder / e.template).stat().st_size > 51200]
    with handoff_server() as endpoint:
        s3 = _client(endpoint, "s3")
        s3.create_bucket(Bucket="handoff", CreateBucketConfiguration={"LocationConstraint": REGION})
        result = _run(folder, "--yes", "--s3-bucket", "handoff", endpoint=endpoint)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert {s["StackStatus"] for s in _stacks(endpoint, document).values()} == {"CREATE_COMPLETE"}
        uploaded = [o["Key"].rsplit("/", 1)[1] for o in s3.list_objects_v2(Bucket="handoff").get("Contents", [])]
        assert sorted(uploaded) == sorted(large)
        again = _run(folder, "--yes", "--s3-bucket", "handoff", endpoint=endpoint)
        assert again.returncode == 0 and again.stdout.count("is up to date: no changes") == len(document.stacks)


@pytest.mark.deploy
def test_a_missing_output_stops_the_script_with_its_name(tmp_path):
    """A wired output the upstream stack does not have: a clear message, never the literal "None"."""
    (tmp_path / "a.json").write_text(
        json.dumps({"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}})
    )
    (tmp_path / "b.json").write_text(
        json.dumps(
            {
                "Parameters": {"Value": {"Type": "String"}},
                "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            }
        )
    )
    (tmp_path / "a.parameters.json").write_text("[]")
    entries = [
        manifest.StackEntry("a", "t-a", "a.json", "a.parameters.json", REGION),
        manifest.StackEntry(
            "b",
            "t-b",
            "b.json",
            "b.parameters.json",
            REGION,
            parameters_from_outputs={"Value": manifest.OutputRef("a", "Gone")},
        ),
    ]
    (tmp_path / "deploy.sh").write_text(environment.deploy_script(manifest.Manifest("t", "test", REGION, entries)))
    with handoff_server() as endpoint:
        result = _run(tmp_path, "--yes", endpoint=endpoint)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "stack t-a has no output Gone, which parameter Value of t-b takes" in result.stderr
    assert "None" not in result.stderr
    assert "t-b" not in result.stdout


@pytest.mark.deploy
def test_moto_still_needs_the_outputs_fix():
    """Without the server-side fix moto 5.2.5 reports no Outputs after a change set is executed;
    when this fails, moto has closed the gap and the fix can go."""
    template = {
        "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "x"}}},
        "Outputs": {"Name": {"Value": {"Ref": "Logs"}}},
    }
    with in_process_server() as endpoint:
        cfn = _client(endpoint)
        cfn.create_change_set(
            StackName="s", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=json.dumps(template)
        )
        cfn.execute_change_set(StackName="s", ChangeSetName="c")
        assert "Outputs" not in cfn.describe_stacks(StackName="s")["Stacks"][0]


@pytest.mark.deploy
def test_moto_still_needs_the_empty_change_set_fix():
    """Without the server-side fix moto 5.2.5 fails CreateChangeSet for an update with no changes,
    where CloudFormation creates it FAILED ("didn't contain changes"); when this fails, the fix can go."""
    from botocore.exceptions import ClientError

    template = json.dumps(
        {
            "Parameters": {"Value": {"Type": "String"}},
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        }
    )
    same = {
        "StackName": "s",
        "TemplateBody": template,
        "Parameters": [{"ParameterKey": "Value", "ParameterValue": "v"}],
    }
    with in_process_server() as endpoint:
        cfn = _client(endpoint)
        cfn.create_stack(**same)
        with pytest.raises(ClientError, match="No updates are to be performed"):
            cfn.create_change_set(ChangeSetName="c", ChangeSetType="UPDATE", **same)
    with handoff_server() as endpoint:
        cfn = _client(endpoint)
        cfn.create_stack(**same)
        cfn.create_change_set(ChangeSetName="c", ChangeSetType="UPDATE", **same)
        described = cfn.describe_change_set(StackName="s", ChangeSetName="c")
        assert described["Status"] == "FAILED" and "didn't contain changes" in described["StatusReason"]


def test_readme_hand_off_names_the_script_and_the_emulator():
    """The README's hand-off section shows what these tests run: deploy.sh against `make emulator`."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Hand-off", 1)[1].split("\n## ", 1)[0]
    makefile = (ROOT / "Makefile").read_text()
    assert "emulator:" in makefile and "-m tests.moto_server_patches" in makefile
    for needle in (
        "make emulator",
        "bash out/dev/deploy.sh",
        "--yes",
        "--s3-bucket",
        "AWS_ENDPOINT_URL",
        ".cache/handoff/",
    ):
        assert needle in section, needle
