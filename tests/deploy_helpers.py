"""Shared by the deploy tests: run the deployer's CLI in-process, write synthetic manifests."""

from __future__ import annotations

import json
from pathlib import Path

from blueprints import manifest
from deployer import cli as deploy

ROOT = Path(__file__).resolve().parent.parent


def run_deploy(capsys, endpoint: str, *args: str) -> tuple[int, str, str]:
    code = deploy.main([*args, "--local-endpoint", endpoint])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def log_group_template(name: str, outputs: bool = True, extra: dict | None = None) -> dict:
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"Retention": {"Type": "String", "Description": "days"}},
        "Resources": {
            "Logs": {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {"LogGroupName": name, "RetentionInDays": {"Ref": "Retention"}},
            }
        },
    }
    if outputs:
        template["Outputs"] = {"LogGroupName": {"Value": {"Ref": "Logs"}}}
    template["Resources"].update(extra or {})
    return template


def write_env(out: Path, stacks: list[dict], env: str = "test") -> Path:
    """Write out/<env>/ with a manifest in generate.py's format: stacks are dicts with name,
    template (a dict), parameters, and optionally parameters_from_outputs."""
    folder = out / env
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for stack in stacks:
        (folder / f"{stack['name']}.json").write_text(json.dumps(stack["template"], indent=2))
        wired = stack.get("parameters_from_outputs", {})
        entries.append(
            {
                "name": stack["name"],
                "stack_name": f"t-{env}-{stack['name']}",
                "template": f"{stack['name']}.json",
                "parameters_file": f"{stack['name']}.parameters.json",
                "region": "eu-west-1",
                "parameters": stack.get("parameters", {}),
                "parameters_from_outputs": wired,
                "parameters_kept_on_update": stack.get("kept", []),
                "depends_on": sorted({v["stack"] for v in wired.values()}),
                "capabilities": [],
                "tags": stack.get("tags", {"Environment": env}),
                "termination_protection": False,
            }
        )
    (folder / "stacks.json").write_text(
        json.dumps({"format_version": manifest.FORMAT_VERSION, "environment": env, "stacks": entries}, indent=2)
    )
    return out
