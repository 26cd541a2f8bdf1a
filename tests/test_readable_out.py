"""Readable diffs of out/: no line over LINE_LIMIT, long texts one line per JSON line, and what
CloudFormation resolves is exactly the text the blueprints built (README, Review workflow)."""

from __future__ import annotations

import json

import pytest

from blueprints import assets, environment
from blueprints.config import load_environment
from blueprints.template import JOINED_PROPERTIES, LINE_LIMIT, render, resolve_joins, split_lines
from tests.helpers import OUT, PARAMS, environments


def test_every_line_in_out_fits():
    files = sorted(p for p in OUT.rglob("*") if p.is_file())
    assert files
    long = [
        f"{path.relative_to(OUT)}:{number}: {len(line)} characters"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if len(line) > LINE_LIMIT
    ]
    assert not long, "\n".join(long)


def _joined_values(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in JOINED_PROPERTIES:
                found.append(value)
            _joined_values(value, found)
    elif isinstance(node, list):
        for value in node:
            _joined_values(value, found)
    return found


@pytest.mark.parametrize("env", environments())
def test_out_resolves_to_exactly_what_the_blueprints_built(env):
    """Resolving the Fn::Joins of out/ gives the built template, every buildspec, the hook's
    source and the lifecycle policy byte for byte; only those properties are joined, and never in
    Hooks (the AWS::CodeDeployBlueGreen transform wants literal values there)."""
    config = load_environment(PARAMS / f"{env}.yaml")
    joined = 0
    for stack in environment.stacks(config):
        built = json.loads(json.dumps(stack.template.to_dict(), sort_keys=True))  # out/'s key order
        written = json.loads((OUT / env / f"{stack.name}.json").read_text())
        assert resolve_joins(written) == resolve_joins(built)
        assert "Fn::Join" not in json.dumps(written.get("Hooks", {}))
        for before, after in zip(_joined_values(built, []), _joined_values(written, []), strict=True):
            if isinstance(before, str):
                assert resolve_joins(after) == before
                joined += after != before
        assert written.get("Description") == built.get("Description")
    assert joined >= 2  # at least the build's buildspec and the hook's source


def test_the_hook_source_is_the_asset_line_by_line():
    text = assets.text(assets.VALIDATION_HOOK)
    zip_file = json.loads((OUT / "dev" / "service.json").read_text())["Resources"]["ValidationHookFunction"]
    lines = zip_file["Properties"]["Code"]["ZipFile"]["Fn::Join"]
    assert lines[0] == "\n" and lines[1] == text.split("\n")


@pytest.mark.parametrize(
    "text",
    [
        "one line",
        "a\nb\n",
        "\n\n",
        'quotes " and \\ back\tslash ${Sub} é\n',
        "x " * 400 + "\ntail",
        "  - " + " ".join(["word"] * 300) + "  double  spaces ",
    ],
)
def test_split_lines_joins_back_to_the_text(text):
    joined = split_lines(text)
    assert resolve_joins(joined) == text
    body = {"Resources": {"R": {"Type": "AWS::CodeBuild::Project", "Properties": {"Source": {"BuildSpec": text}}}}}
    rendered = render(body)
    assert all(len(line) <= LINE_LIMIT for line in rendered.splitlines())
    assert resolve_joins(json.loads(rendered)) == body


def test_a_line_without_spaces_to_cut_at_is_refused():
    with pytest.raises(ValueError, match="cannot split"):
        split_lines("a\n" + "x" * 500)


def test_only_named_properties_under_resources_are_joined():
    text = "a\nb\n"
    body = {
        "Description": "d",
        "Hooks": {"H": {"Properties": {"ZipFile": text}}},
        "Resources": {"R": {"Properties": {"Other": text, "Code": {"ZipFile": text}}}},
    }
    written = json.loads(render(body))
    assert written["Hooks"] == body["Hooks"]
    assert written["Resources"]["R"]["Properties"]["Other"] == text
    assert written["Resources"]["R"]["Properties"]["Code"]["ZipFile"] == {"Fn::Join": ["\n", ["a", "b", ""]]}


@pytest.mark.parametrize("env", environments())
def test_the_rehearsal_reads_the_buildspecs_of_out(env):
    """The deployer reads out/ without the generator (tests/test_layout.py): its own join of a
    project's BuildSpec must give the text the blueprints built."""
    from deployer.template_values import literal_text

    body = json.loads((OUT / env / "pipeline.json").read_text())
    specs = [
        r["Properties"]["Source"]["BuildSpec"]
        for r in body["Resources"].values()
        if r["Type"] == "AWS::CodeBuild::Project"
    ]
    assert specs and all(literal_text(spec) == resolve_joins(spec) for spec in specs)
    assert all(isinstance(literal_text(spec), str) for spec in specs)
