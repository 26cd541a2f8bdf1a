"""The lint gate's speed measures (issue 15) keep its results: checkov's worker process (started
before cfn-lint runs in the gate, and without what the CloudFormation checks never use) finds exactly
what checkov finds in-process, and a run with every template unchanged imports neither tool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lintgate import cli as lint_cli
from tests.helpers import OUT


def test_the_checkov_worker_finds_what_checkov_finds_in_process(tmp_path):
    body = json.loads((OUT / "dev" / "network.json").read_text())
    body["Resources"]["FlowLogGroup"].pop("Metadata")  # its written skip: without it, CKV_AWS_158
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    paths = [bad, OUT / "dev" / "service.json"]
    in_worker = lint_cli.finish_checkov(lint_cli.start_checkov(paths), paths)
    assert ("CKV_AWS_158" in {rule for _, _, _, rule, _ in in_worker}) and in_worker == lint_cli.run_checkov(paths)


def test_a_failing_worker_is_a_finding_not_a_pass(tmp_path):
    broken = subprocess.Popen(
        [sys.executable, "-c", "raise SystemExit('no checkov here')"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = lint_cli.finish_checkov(broken, [tmp_path / "t.json"])
    assert found == [(str(tmp_path / "t.json"), 1, "checkov", "error", "checkov failed (exit 1): no checkov here")]


def test_a_run_with_every_template_unchanged_imports_neither_tool(tmp_path):
    template = OUT / "dev" / "network.json"
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / lint_cli.cache_key(template, lint_cli.toolchain_fingerprint())).write_text(f"{template}\n")
    code = (
        "import sys; from lintgate import cli; code = cli.main(['--cache-dir', sys.argv[1], sys.argv[2]]); "
        "print(code, sorted(m for m in ('cfnlint', 'checkov') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(cache), str(template)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        # CI sets LINT_NO_CACHE=1 (every template checked from scratch); this test is about the cache.
        env={k: v for k, v in os.environ.items() if k != "LINT_NO_CACHE"},
    )
    assert result.stdout.strip() == "0 []", result.stdout + result.stderr
    assert "0 checked, 1 unchanged" in result.stderr
