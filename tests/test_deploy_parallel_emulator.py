"""The emulator's share of a cheap apply (issue 15): templates reach moto as JSON it parses without
PyYAML (gap 30), and gap 2's refresh is left out where the emulator computed a created stack's Outputs
itself (the hand-off emulator, tests/moto_server_patches.py)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import yaml
from yaml.scanner import ScannerError

from deployer import emulator
from deployer.emulator_templates import body_for_emulator, template_for_emulator
from tests.helpers import SUBNET_TEMPLATE, log_group_template, run_deploy, stack_entry, write_env
from tests.moto_server_patches import in_process_server, outputs_after_change_set
from tests.moto_support import client


def test_gap30_the_body_is_the_adapted_template_as_json_that_yaml_refuses():
    body = body_for_emulator(SUBNET_TEMPLATE, "eu-west-1")
    assert body.startswith("\t") and "\n" not in body
    assert json.loads(body) == json.loads(template_for_emulator(SUBNET_TEMPLATE, "eu-west-1"))
    with pytest.raises(ScannerError):
        yaml.load(body, Loader=yaml.Loader)


@pytest.mark.deploy  # imports moto's CloudFormation models: seconds
def test_gap30_moto_parses_a_template_as_yaml_first_and_the_body_as_json():
    """When moto tries JSON first (or stops falling back to it), gap 30 can go."""
    from moto.cloudformation.models import Stack

    plain = json.dumps(SUBNET_TEMPLATE)
    with mock.patch("moto.cloudformation.models.yaml.load", wraps=yaml.load) as loaded:
        assert Stack.parse_template(plain) == SUBNET_TEMPLATE
    assert loaded.call_count == 1 and loaded.call_args.args[0] == plain
    body = body_for_emulator(SUBNET_TEMPLATE, "eu-west-1")
    assert Stack.parse_template(body) == json.loads(body)


@pytest.mark.parametrize(
    ("status", "outputs", "declared", "current"),
    [
        ("CREATE_COMPLETE", [{"OutputKey": "A", "OutputValue": "1"}], True, True),
        ("CREATE_COMPLETE", None, True, False),  # moto 5.2.5 alone: none after a create (gap 2)
        ("CREATE_COMPLETE", None, False, True),  # nothing to compute
        ("UPDATE_COMPLETE", [{"OutputKey": "A", "OutputValue": "1"}], True, False),  # maybe the previous ones
        ("UPDATE_COMPLETE", None, False, False),  # maybe the previous template's, now gone
    ],
)
def test_gap2_outputs_are_current_only_after_a_create(status, outputs, declared, current):
    stack = {"StackStatus": status, **({"Outputs": outputs} if outputs else {})}
    template = {"Resources": {}, **({"Outputs": {"A": {"Value": "1"}}} if declared else {})}
    assert emulator.outputs_current(stack, template) is current


def _refreshes(monkeypatch) -> list[str]:
    made: list[str] = []
    refresh = emulator.refresh_outputs

    def counted(cfn, stack_id, capabilities):
        made.append(stack_id.split("/")[1])
        refresh(cfn, stack_id, capabilities)

    monkeypatch.setattr(emulator, "refresh_outputs", counted)
    return made


def _one_env(tmp_path):
    return write_env(
        tmp_path / "out",
        [{"name": "base", "template": log_group_template("/t/base"), "parameters": {"Retention": "7"}}],
    )


def _apply_and_outputs(capsys, endpoint: str, out) -> list[dict]:
    code, stdout, _ = run_deploy(capsys, endpoint, "apply", "--env", "test", "--yes", "--out", str(out))
    assert code == 0, stdout
    return client(endpoint).describe_stacks(StackName="t-test-base")["Stacks"][0]["Outputs"]


@pytest.mark.deploy
def test_gap2_refresh_is_left_out_where_the_emulator_computed_the_outputs(capsys, tmp_path, monkeypatch):
    made = _refreshes(monkeypatch)
    with outputs_after_change_set(), in_process_server() as endpoint:
        outputs = _apply_and_outputs(capsys, endpoint, _one_env(tmp_path))
    assert made == []
    assert outputs == [{"OutputKey": "LogGroupName", "OutputValue": "/t/base"}]


@pytest.mark.deploy
def test_gap2_refresh_still_runs_on_moto_alone(moto, capsys, tmp_path, monkeypatch):
    made = _refreshes(monkeypatch)
    outputs = _apply_and_outputs(capsys, moto, _one_env(tmp_path))
    assert made == ["t-test-base"]
    assert outputs == [{"OutputKey": "LogGroupName", "OutputValue": "/t/base"}]


def test_the_body_sent_is_made_once_per_template(monkeypatch):
    made: list[dict] = []
    body = emulator.body_for_emulator
    monkeypatch.setattr(
        emulator, "body_for_emulator", lambda template, region: made.append(template) or body(template, region)
    )
    provider = emulator.EmulatorProvider("http://127.0.0.1:9")
    entry = stack_entry("net", SUBNET_TEMPLATE)
    sent = provider.prepare_template(entry)
    assert provider.prepare_template(entry) == sent and provider.sent_template(entry) == json.loads(sent)
    assert len(made) == 1
    changed = stack_entry("net", {**SUBNET_TEMPLATE, "Outputs": {}})  # another manifest's template for the same stack
    assert json.loads(provider.prepare_template(changed))["Outputs"] == {}
    assert len(made) == 2


def test_the_emulator_lists_moto_s_services_once_with_the_same_answer():
    from moto import backends

    from tests.moto_server_patches import module_list_read_once

    listed = list(backends.list_of_moto_modules())
    assert "cloudformation" in listed and "sts" in listed
    with module_list_read_once():
        assert list(backends.list_of_moto_modules()) == listed
        assert backends.list_of_moto_modules() is backends.list_of_moto_modules()
    assert list(backends.list_of_moto_modules()) == listed  # restored on the way out


@pytest.mark.deploy
def test_the_emulator_still_routes_each_service_with_the_list_read_once():
    import boto3

    with in_process_server() as endpoint:
        options = {
            "endpoint_url": endpoint,
            "region_name": "eu-west-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        assert boto3.client("sts", **options).get_caller_identity()["Account"]
        assert boto3.client("cloudformation", **options).describe_stacks()["Stacks"] == []
        assert boto3.client("ecs", **options).list_clusters()["clusterArns"] == []
