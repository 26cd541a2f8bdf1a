"""The manifest's day-2 keys (adoptable resources, rollback alarms and monitoring time, stack policy):
what generation writes, how version-1 manifests without them read, and destroy's retained list."""

from __future__ import annotations

import json

import pytest

from blueprints import environment
from blueprints import manifest as contract
from deployer import retention
from tests.helpers import OUT, PARAMS, stack_entry


def _stacks(env: str) -> dict[str, dict]:
    return {s["name"]: s for s in json.loads((OUT / env / "stacks.json").read_text())["stacks"]}


def test_generated_manifests_protect_stateful_resources_and_name_the_alarms():
    prod = _stacks("prod")
    protected = {
        name: sorted(r.split("/", 1)[1] for r in s["stack_policy"]["Statement"][1]["Resource"])
        for name, s in prod.items()
    }
    assert protected["network"] == [
        "FlowLogGroup",
        "PrivateSubnet1",
        "PrivateSubnet2",
        "PrivateSubnet3",
        "PublicSubnet1",
        "PublicSubnet2",
        "PublicSubnet3",
        "Vpc",
    ]
    assert {"Repository", "ArtifactBucket", "BuildLogGroup"} <= set(protected["pipeline"])
    assert prod["network"]["stack_policy"]["Statement"][1]["Action"] == ["Update:Delete", "Update:Replace"]
    assert prod["service"]["rollback_alarms"] == [
        "BlueTarget5xxAlarm",
        "BlueUnhealthyHostsAlarm",
        "GreenTarget5xxAlarm",
        "GreenUnhealthyHostsAlarm",
    ]
    assert prod["service"]["rollback_monitoring_minutes"] == 15
    assert prod["network"]["rollback_alarms"] == [] and prod["network"]["rollback_monitoring_minutes"] == 0


def test_adoptable_resources_are_the_retained_ones_with_static_names():
    prod, dev, staging = _stacks("prod"), _stacks("dev"), _stacks("staging")
    assert prod["network"]["adoptable_resources"] == ["FlowLogGroup"]
    assert prod["service"]["adoptable_resources"] == ["ServiceLogGroup"]
    assert prod["pipeline"]["adoptable_resources"] == ["Repository"]
    assert dev["network"]["adoptable_resources"] == [] and dev["pipeline"]["adoptable_resources"] == ["Repository"]
    assert staging["service"]["adoptable_resources"] == []
    kept = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain", "Properties": {"LogGroupName": "/x"}}
    assert environment.adoptable({"Resources": {"L": kept}}) == ["L"]
    # the blue/green transform does not support import; a computed name is not a static custom name
    assert environment.adoptable({"Transform": ["AWS::CodeDeployBlueGreen"], "Resources": {"L": kept}}) == []
    computed = {**kept, "Properties": {"LogGroupName": {"Fn::Sub": "/${AWS::StackName}"}}}
    assert environment.adoptable({"Resources": {"L": computed}}) == []


def _minimal(**entry) -> dict:
    base = {"name": "s", "stack_name": "p-s", "template": "s.json", "region": "eu-west-1"}
    return {"format_version": 1, "environment": "dev", "stacks": [{**base, **entry}]}


def test_a_version_1_manifest_without_the_new_keys_reads_with_defaults():
    entry = contract.from_dict(_minimal(), "m").stacks[0]
    assert entry.adoptable_resources == [] and entry.rollback_alarms == []
    assert entry.rollback_monitoring_minutes == 0 and entry.stack_policy is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"rollback_alarms": ["a", "b", "c", "d", "e", "f"]}, "takes at most 5"),
        ({"rollback_monitoring_minutes": 181}, "must be 0-180"),
        ({"rollback_monitoring_minutes": "5"}, "must be a int"),
        ({"stack_policy": {"Statement": "x"}}, "stack_policy must be null or a policy document"),
        ({"adoptable_resources": [1]}, "adoptable_resources must be a list of strings"),
    ],
)
def test_bad_day2_keys_are_refused(extra, message):
    with pytest.raises(contract.ManifestError, match=message):
        contract.from_dict(_minimal(**extra), "m")


def test_rollback_monitoring_minutes_is_validated_in_params(tmp_path):
    from blueprints.config import ParamsError, load_environment

    source = (PARAMS / "dev.yaml").read_text()
    path = tmp_path / "dev.yaml"
    path.write_text(source.replace("rollback_monitoring_minutes: 2", "rollback_monitoring_minutes: 181"))
    with pytest.raises(ParamsError, match="rollback_monitoring_minutes"):
        load_environment(path)


def test_destroy_lists_what_stays_how_it_is_adopted_and_how_to_delete_it():
    entry = stack_entry("pipeline", adoptable_resources=["Repository"])
    kept = [
        retention.Kept("Logs", "AWS::Logs::LogGroup", "/ecs/app"),
        retention.Kept("Repository", "AWS::ECR::Repository", "app"),
        retention.Kept("Never", "AWS::Logs::LogGroup", None),
    ]
    text = "\n".join(retention.kept_lines(entry, kept))
    assert "kept after deletion (DeletionPolicy): Repository (AWS::ECR::Repository) app" in text
    assert "the next apply adopts it (CREATE change set with ImportExistingResources)" in text
    assert "aws ecr delete-repository --region eu-west-1 --repository-name app --force" in text
    assert "not adopted by the next apply" in text
    assert "aws logs delete-log-group --region eu-west-1 --log-group-name /ecs/app" in text
    assert "Never (AWS::Logs::LogGroup) (not created)" in text
