"""The generator: determinism, --check, --env, atomic writes, manifest contents.

Most tests call it in-process (tests.helpers.generate); two run its command lines: the
fargate-generate console script as `make check` does, and generate.py's --help.
"""

from __future__ import annotations

import json
import shutil

from tests.helpers import (
    OUT,
    console_script,
    copy_params,
    edit_params,
    environments,
    generate,
    generate_script,
    tree_digest,
)


def test_out_is_current():
    """out/ is committed: it must be exactly what the generator writes for params/ (`make check`)."""
    result = console_script("fargate-generate", "--check")
    assert result.returncode == 0, f"out/ is stale; run `make generate`:\n{result.stdout}{result.stderr}"


def test_two_runs_give_identical_bytes(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert generate("--out-dir", str(first)).returncode == 0
    assert generate("--out-dir", str(second)).returncode == 0
    assert tree_digest(first) == tree_digest(second)
    assert tree_digest(first) == tree_digest(OUT)


def test_output_format_is_review_friendly():
    for path in sorted(OUT.rglob("*.json")):
        text = path.read_text()
        assert text.endswith("}\n") or text.endswith("]\n"), path
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n", path


def test_check_names_stale_missing_and_extra_files(tmp_path):
    params = copy_params(tmp_path, ("dev",))
    out = tmp_path / "out"
    assert generate("--params-dir", str(params), "--out-dir", str(out)).returncode == 0
    edit_params(params / "dev.yaml", lambda d: d["network"].update(flow_log_retention_days=30))
    (out / "dev" / "stacks.json").unlink()
    (out / "dev" / "leftover.json").write_text("{}\n")
    (out / "qa").mkdir()
    before = tree_digest(out)

    result = generate("--params-dir", str(params), "--out-dir", str(out), "--check")

    assert result.returncode == 1
    assert "stale:   " in result.stdout and "dev/network.json" in result.stdout
    assert "missing: " in result.stdout and "dev/stacks.json" in result.stdout
    assert "extra:   " in result.stdout and "dev/leftover.json" in result.stdout
    assert "qa" in result.stdout
    assert tree_digest(out) == before, "--check must not write"


def test_env_limits_generation(tmp_path):
    out = tmp_path / "out"
    assert generate("--env", "dev", "--out-dir", str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["dev"]


def test_writing_removes_files_no_longer_generated(tmp_path):
    out = tmp_path / "out"
    shutil.copytree(OUT, out)
    (out / "dev" / "old-stack.json").write_text("{}\n")
    (out / "retired").mkdir()
    (out / "retired" / "stacks.json").write_text("{}\n")
    assert generate("--out-dir", str(out)).returncode == 0
    assert tree_digest(out) == tree_digest(OUT)


def test_help_explains_options():
    result = generate_script("--help")
    assert result.returncode == 0
    for option in ("--env", "--check", "Exit codes"):
        assert option in result.stdout


def test_manifest_describes_every_stack_for_deployment():
    for env in environments():
        manifest = json.loads((OUT / env / "stacks.json").read_text())
        assert manifest["environment"] == env
        names = [s["name"] for s in manifest["stacks"]]
        assert names[0] == "network"
        seen = set()
        for stack in manifest["stacks"]:
            template = json.loads((OUT / env / stack["template"]).read_text())
            assert stack["stack_name"] == f"{manifest['project']}-{env}-{stack['name']}"
            assert stack["region"] == manifest["region"]
            # Every template parameter has exactly one source: a static value or an upstream output.
            declared = set(template.get("Parameters", {}))
            assert set(stack["parameters"]) | set(stack["parameters_from_outputs"]) == declared
            assert not set(stack["parameters"]) & set(stack["parameters_from_outputs"])
            for wired in stack["parameters_from_outputs"].values():
                assert wired["stack"] in seen, "a stack may only use outputs of stacks deployed before it"
                upstream = next(s for s in manifest["stacks"] if s["name"] == wired["stack"])
                outputs = json.loads((OUT / env / upstream["template"]).read_text()).get("Outputs", {})
                assert wired["output"] in outputs
            assert stack["termination_protection"] is (env == "prod")
            assert {"Project", "Environment"} <= set(stack["tags"])
            params_file = json.loads((OUT / env / stack["parameters_file"]).read_text())
            assert {p["ParameterKey"]: p["ParameterValue"] for p in params_file} == stack["parameters"]
            seen.add(stack["name"])


def test_capabilities_follow_template_contents():
    from blueprints.template import capabilities

    assert capabilities({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}) == []
    assert capabilities({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {}}}}) == ["CAPABILITY_IAM"]
    assert capabilities({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "x"}}}}) == [
        "CAPABILITY_IAM",
        "CAPABILITY_NAMED_IAM",
    ]
    assert "CAPABILITY_AUTO_EXPAND" in capabilities({"Transform": ["AWS::CodeDeployBlueGreen"], "Resources": {}})
    manifest = json.loads((OUT / "dev" / "stacks.json").read_text())
    network = next(s for s in manifest["stacks"] if s["name"] == "network")
    assert network["capabilities"] == ["CAPABILITY_IAM"]


def test_writing_leaves_folders_it_did_not_generate(tmp_path):
    """--out-dir pointed at a folder with other content: only generated environments are touched."""
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "todo.txt").write_text("keep me\n")
    assert generate("--out-dir", str(out)).returncode == 0
    assert (out / "notes" / "todo.txt").read_text() == "keep me\n"


def test_every_template_describes_and_groups_its_parameters():
    for path in sorted(OUT.glob("*/*.json")):
        if path.name == "stacks.json" or path.name.endswith(".parameters.json"):
            continue
        body = json.loads(path.read_text())
        assert body.get("Description"), path
        parameters = body.get("Parameters", {})
        assert all(spec.get("Description") for spec in parameters.values()), path
        groups = body.get("Metadata", {}).get("AWS::CloudFormation::Interface", {}).get("ParameterGroups", [])
        grouped = [name for group in groups for name in group["Parameters"]]
        assert sorted(grouped) == sorted(parameters), path
        # Plain CloudFormation: the only metadata is the console's parameter groups and, on a resource,
        # checkov's skips with their written reasons (the project's standard for a security exception).
        assert set(body.get("Metadata", {})) <= {"AWS::CloudFormation::Interface"}, path
        for name, resource in body["Resources"].items():
            skips = resource.get("Metadata", {}).pop("checkov", {"skip": []})["skip"]
            assert resource.get("Metadata", {}) == {}, (path, name)
            assert all(skip["comment"] for skip in skips), (path, name)
