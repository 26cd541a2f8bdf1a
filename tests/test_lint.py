"""The lint gate: every template in out/ has zero cfn-lint and checkov findings, and the gate
really fails on a bad template."""
from __future__ import annotations

import json

from tests.helpers import OUT, ROOT, run


def _lint(*files) -> "subprocess.CompletedProcess":  # noqa: F821
    return run(str(ROOT / "scripts" / "lint.py"), "--no-cache", *map(str, files))


def test_every_template_in_out_is_lint_clean():
    templates = sorted(OUT.glob("*/*.json"))
    result = _lint(*templates)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 finding(s)" in result.stderr


def test_gate_fails_on_a_cfn_lint_finding(tmp_path):
    body = json.loads((OUT / "dev" / "network.json").read_text())
    body["Resources"]["Vpc"]["Properties"]["CidrBlok"] = "10.0.0.0/16"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    result = _lint(bad)
    assert result.returncode == 1
    assert "E3002" in result.stdout and "CidrBlok" in result.stdout


def test_gate_fails_on_a_checkov_finding(tmp_path):
    body = json.loads((OUT / "dev" / "network.json").read_text())
    # Without its written skip, the log group's checkov finding must fail the gate.
    del body["Resources"]["FlowLogGroup"]["Metadata"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    result = _lint(bad)
    assert result.returncode == 1
    assert "checkov CKV_AWS_158" in result.stdout and "FlowLogGroup" in result.stdout
