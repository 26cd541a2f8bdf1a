"""The lint gate: every template in out/ has zero cfn-lint and checkov findings, and the gate
really fails on a bad template.

The gate runs in-process (tests.helpers.lint: lintgate.cli.main, what the fargate-lint console
script calls); tests/test_hook_rules.py runs the console script itself.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import OUT, lint


def _lint(*files: Path) -> subprocess.CompletedProcess:
    return lint("--no-cache", *map(str, files))


def _bad_network(tmp_path: Path, change) -> Path:
    """dev's network template with ``change`` applied, in tmp_path."""
    body = json.loads((OUT / "dev" / "network.json").read_text())
    change(body)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    return bad


def _misspell_cidr_block(body: dict) -> None:
    body["Resources"]["Vpc"]["Properties"]["CidrBlok"] = "10.0.0.0/16"


@pytest.mark.slow
def test_every_template_in_out_is_lint_clean():
    result = _lint(*sorted(OUT.glob("*/*.json")))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 finding(s)" in result.stderr


@pytest.mark.slow
def test_gate_fails_on_a_cfn_lint_finding(tmp_path):
    logging_disabled = logging.root.manager.disable
    result = _lint(_bad_network(tmp_path, _misspell_cidr_block))
    assert result.returncode == 1
    assert "E3002" in result.stdout and "CidrBlok" in result.stdout
    # The gate silences checkov's own warnings during its run only: a caller's logging is left as it was.
    assert logging.root.manager.disable == logging_disabled


@pytest.mark.slow
def test_gate_fails_on_a_checkov_finding(tmp_path):
    # Without its written skip, the log group's checkov finding must fail the gate.
    result = _lint(_bad_network(tmp_path, lambda body: body["Resources"]["FlowLogGroup"].pop("Metadata")))
    assert result.returncode == 1
    assert "checkov CKV_AWS_158" in result.stdout and "FlowLogGroup" in result.stdout


@pytest.mark.slow
def test_findings_of_both_tools_are_file_line_tool_rule_message(tmp_path):
    """One format for every finding, in file and line order; checkov's line is where its resource starts."""

    def both(body: dict) -> None:
        body["Resources"]["FlowLogGroup"].pop("Metadata")
        _misspell_cidr_block(body)

    bad = _bad_network(tmp_path, both)
    bad.write_text(json.dumps(json.loads(bad.read_text()), indent=2))
    result = _lint(bad)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    found = [re.fullmatch(r"(.+?):(\d+): (cfn-lint|checkov) (\S+) (.+)", line) for line in lines]
    assert found and all(found), result.stdout
    assert [(m[1], m[3], m[4]) for m in found if m] == [
        (str(bad), "checkov", "CKV_AWS_158"),
        (str(bad), "cfn-lint", "E3002"),
    ]
    text = bad.read_text().splitlines()
    checkov_line, cfn_lint_line = (int(m[2]) for m in found if m)
    assert text[checkov_line - 1].strip() == '"FlowLogGroup": {'
    assert "CidrBlok" in text[cfn_lint_line - 1]


@pytest.mark.slow
def test_warm_cache_skips_unchanged_templates_and_rechecks_changed_ones(tmp_path, monkeypatch):
    monkeypatch.delenv("LINT_NO_CACHE", raising=False)  # CI sets it; this test is about the cache
    template = tmp_path / "network.json"
    shutil.copy(OUT / "dev" / "network.json", template)

    def cached_lint() -> subprocess.CompletedProcess:
        return lint("--cache-dir", str(tmp_path / "cache"), str(template))

    cold = cached_lint()
    assert cold.returncode == 0 and "1 checked, 0 unchanged" in cold.stderr
    warm = cached_lint()
    assert warm.returncode == 0 and "0 checked, 1 unchanged since they passed" in warm.stderr

    body = json.loads(template.read_text())
    _misspell_cidr_block(body)
    template.write_text(json.dumps(body))
    changed = cached_lint()
    assert changed.returncode == 1 and "1 checked" in changed.stderr and "E3002" in changed.stdout
    # A template with findings is never remembered as passed.
    assert cached_lint().returncode == 1


def test_cache_key_covers_tool_versions_config_and_rules(monkeypatch, tmp_path):
    from lintgate import cli as lint_cli

    before = lint_cli.toolchain_fingerprint()
    rules = tmp_path / "rules"
    shutil.copytree(lint_cli.RULES, rules)
    (rules / "extra_rule.py").write_text("# a new project rule\n")
    monkeypatch.setattr(lint_cli, "RULES", rules)
    with_rule = lint_cli.toolchain_fingerprint()
    assert with_rule != before
    config = tmp_path / ".cfnlintrc"
    config.write_text(lint_cli.CONFIG.read_text() + "ignore_checks: [W3005]\n")
    monkeypatch.setattr(lint_cli, "CONFIG", config)
    with_config = lint_cli.toolchain_fingerprint()
    assert with_config != with_rule
    package = tmp_path / "lintgate"
    package.mkdir()
    for module in lint_cli.PACKAGE.glob("*.py"):
        shutil.copy(module, package)
    monkeypatch.setattr(lint_cli, "PACKAGE", package)
    assert lint_cli.toolchain_fingerprint() == with_config
    (package / "lean.py").write_text((package / "lean.py").read_text() + "# changed\n")
    with_module = lint_cli.toolchain_fingerprint()
    assert with_module != with_config
    monkeypatch.setattr(lint_cli, "tool_versions", lambda: ["cfn_lint==0.0.0", "checkov==0.0.0"])
    assert lint_cli.toolchain_fingerprint() != with_module


def test_the_tool_versions_are_those_importlib_metadata_reads():
    from importlib import metadata

    from lintgate import cli as lint_cli

    assert lint_cli.tool_versions() == [
        f"cfn_lint=={metadata.version('cfn-lint')}",
        f"checkov=={metadata.version('checkov')}",
    ]


def test_a_missing_file_is_bad_usage():
    result = lint("nosuch.json")
    assert result.returncode == 2 and "no such file: nosuch.json" in result.stderr
