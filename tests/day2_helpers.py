"""Shared by the day-2 tests: out/ generated from a changed copy of a sample params file, and plans of
an update between two generated trees, as the deployer builds them (no AWS calls)."""

from __future__ import annotations

import re
from pathlib import Path

from blueprints import cli as generate
from deployer import manifest
from deployer.plans import ChangeKind, Plan, PlanState
from tests.deploy_helpers import ROOT

SUBNETS = {
    "PrivateSubnetIds": "subnet-p1,subnet-p2",
    "PublicSubnetIds": "subnet-u1,subnet-u2",
    "VpcId": "vpc-1",
    "VpcCidr": "10.20.0.0/16",
}


def variant(tmp_path: Path, env: str, edits: dict[str, str]) -> Path:
    """out/ of params/<env>.yaml with each regex replaced (every one must match), under tmp_path."""
    params = tmp_path / "params"
    params.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "params" / f"{env}.yaml").read_text()
    for pattern, replacement in edits.items():
        text, count = re.subn(pattern, replacement, text, flags=re.M)
        assert count, pattern
    (params / f"{env}.yaml").write_text(text)
    code = generate.main(["--env", env, "--params-dir", str(params), "--out-dir", str(tmp_path / "out"), "-q"])
    assert code == 0
    return tmp_path / "out"


def update_plan(env: str, name: str, new_out: Path, changes: list[dict] | None = None, **deployed: str) -> Plan:
    """The plan of updating the stack deployed from the committed out/<env> to new_out/<env>; parameters
    wired to outputs get SUBNETS (or ``deployed``) on both sides; the change set holds ``changes``."""
    old = manifest.load(ROOT / "out", env).by_name(name)
    new = manifest.load(new_out, env).by_name(name)
    values = {**new.parameters, **{k: v for k, v in SUBNETS.items() if k in new.parameters_from_outputs}, **deployed}
    return Plan(
        entry=new,
        kind=ChangeKind.UPDATE,
        state=PlanState.CHANGES,
        stack={"Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]},
        change_set={"ChangeSetName": "c1", "ChangeSetId": "cs", "Changes": changes or []},
        api_parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
        deployed_template=old.template,
        sent_template=new.template,
    )


def moto_change(logical_id: str, kind: str) -> dict:
    """A Modify as moto reports it: no Replacement, no Details."""
    return {
        "Type": "Resource",
        "ResourceChange": {"Action": "Modify", "LogicalResourceId": logical_id, "ResourceType": kind},
    }
