"""Review quality: changing one knob in params changes only the JSON paths it must.

Each case edits a private copy of params/dev.yaml, regenerates into a temporary folder and
compares every file of out/dev/ path by path with the baseline. Reordering, renamed logical
IDs or changes in unrelated stacks would show up as extra paths and fail the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprints.config.service import ServiceConfig
from tests.helpers import OUT, copy_params, edit_params, environments, generate


def _walk(value, path: str, into: dict) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{path}/{key}", into)
    elif isinstance(value, list) and not all(isinstance(v, (str, int, float, bool)) for v in value):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", into)
    else:
        into[path] = value


def flatten(folder: Path) -> dict[str, object]:
    leaves: dict[str, object] = {}
    for path in sorted(folder.glob("*.json")):
        _walk(json.loads(path.read_text()), path.name + ":", leaves)
    return leaves


def changed_paths(before: Path, after: Path) -> set[str]:
    a, b = flatten(before), flatten(after)
    return {key for key in a.keys() | b.keys() if a.get(key, "<absent>") != b.get(key, "<absent>")}


def _regenerate(tmp_path: Path, change) -> set[str]:
    params = copy_params(tmp_path, ("dev",))
    before, after = tmp_path / "before", tmp_path / "after"
    assert generate("--params-dir", str(params), "--out-dir", str(before)).returncode == 0
    edit_params(params / "dev.yaml", change)
    result = generate("--params-dir", str(params), "--out-dir", str(after))
    assert result.returncode == 0, result.stderr
    return changed_paths(before / "dev", after / "dev")


def test_desired_count(tmp_path):
    assert _regenerate(tmp_path, lambda d: d["service"].update(desired_count=2)) == {
        "service.json:/Resources/Service/Properties/DesiredCount",
    }


def test_health_check_path(tmp_path):
    assert _regenerate(tmp_path, lambda d: d["service"].update(health_check_path="/healthz")) == {
        "service.json:/Resources/BlueTargetGroup/Properties/HealthCheckPath",
        "service.json:/Resources/GreenTargetGroup/Properties/HealthCheckPath",
    }


def test_tag(tmp_path):
    changed = _regenerate(tmp_path, lambda d: d["tags"].update(Owner="web-team"))
    # Tags are stack tags (CloudFormation propagates them): only the manifest changes.
    assert changed == {f"stacks.json:/stacks[{i}]/tags/Owner" for i in range(3)}


def test_deployment_configuration(tmp_path):
    changed = _regenerate(tmp_path, lambda d: d["service"].update(deployment_config="Canary10Percent5Minutes"))
    assert changed == {
        "service.json:/Resources/DeploymentGroup/Properties/DeploymentConfigName",
        "service.json:/Outputs/DeploymentConfigName/Value",
    }


@pytest.mark.parametrize("env", environments())
def test_a_release_changes_nothing_in_out(env):
    """The image of a release is a deploy-time value (ImageUri, kept on update) or arrives through
    the pipeline; it is never written into out/, so releasing leaves out/ and its review alone."""
    manifest = json.loads((OUT / env / "stacks.json").read_text())
    service = next(s for s in manifest["stacks"] if s["name"] == "service")
    assert service["parameters_kept_on_update"] == ["ImageUri"]
    body = json.loads((OUT / env / "service.json").read_text())
    images = [
        c["Image"]
        for r in body["Resources"].values()
        if r["Type"] == "AWS::ECS::TaskDefinition"
        for c in r["Properties"]["ContainerDefinitions"]
    ]
    assert images and all(image == {"Ref": "ImageUri"} for image in images)
    # No image can be pinned in params: the key does not exist.
    assert "image" not in ServiceConfig.model_fields and "image_uri" not in ServiceConfig.model_fields
