"""The lint gate: every template in out/ has zero cfn-lint and checkov findings, and the gate
really fails on a bad template."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import OUT, run_lint


def _lint(*files) -> subprocess.CompletedProcess:
    return run_lint("--no-cache", *map(str, files))


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


def _cached_lint(cache, *files):
    env = {k: v for k, v in os.environ.items() if k != "LINT_NO_CACHE"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "fargate-lint"), "--cache-dir", str(cache), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_warm_cache_skips_unchanged_templates_and_rechecks_changed_ones(tmp_path):
    template = tmp_path / "network.json"
    shutil.copy(OUT / "dev" / "network.json", template)
    cache = tmp_path / "cache"

    cold = _cached_lint(cache, template)
    assert cold.returncode == 0 and "1 checked, 0 unchanged" in cold.stderr
    warm = _cached_lint(cache, template)
    assert warm.returncode == 0 and "0 checked, 1 unchanged since they passed" in warm.stderr

    body = json.loads(template.read_text())
    body["Resources"]["Vpc"]["Properties"]["CidrBlok"] = "10.0.0.0/16"
    template.write_text(json.dumps(body))
    changed = _cached_lint(cache, template)
    assert changed.returncode == 1 and "1 checked" in changed.stderr and "E3002" in changed.stdout
    # A template with findings is never remembered as passed.
    assert _cached_lint(cache, template).returncode == 1


def test_cache_key_covers_tool_versions_config_and_rules(monkeypatch, tmp_path):
    from lintgate import cli as lint

    before = lint.toolchain_fingerprint()
    rules = tmp_path / "rules"
    shutil.copytree(lint.RULES, rules)
    (rules / "extra_rule.py").write_text("# a new project rule\n")
    monkeypatch.setattr(lint, "RULES", rules)
    with_rule = lint.toolchain_fingerprint()
    assert with_rule != before
    config = tmp_path / ".cfnlintrc"
    config.write_text(lint.CONFIG.read_text() + "ignore_checks: [W3005]\n")
    monkeypatch.setattr(lint, "CONFIG", config)
    with_config = lint.toolchain_fingerprint()
    assert with_config != with_rule
    monkeypatch.setattr(lint.metadata, "version", lambda name: "0.0.0")
    assert lint.toolchain_fingerprint() != with_config
