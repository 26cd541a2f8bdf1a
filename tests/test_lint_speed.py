"""The lint gate's speed measures (issue 15) keep its results: checkov's worker (a fork of the gate's
process, or a new interpreter; started before cfn-lint runs in the gate, and without what the
CloudFormation checks never use) finds exactly what checkov finds in-process, a failing worker is a
finding, the leaner imports stay lean and complete, and a run with every template unchanged imports
neither tool. tests/test_lint_equal.py compares whole runs of the gate with the tools' own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from lintgate import checkov_gate
from lintgate import cli as lint_cli
from tests.helpers import OUT

# In a fresh interpreter (no threads, so the worker is a fork): the worker's kind and its findings.
_IN_A_FORK = """
import json, sys
from pathlib import Path
from lintgate import checkov_gate
paths = [Path(p) for p in sys.argv[2:]]
if sys.argv[1] == "fail":
    def fail(files):
        print("checkov printed this")
        raise RuntimeError("no checkov here")
    checkov_gate._worker_records = fail
worker = checkov_gate.start_checkov(paths)
json.dump([type(worker).__name__, checkov_gate.finish_checkov(worker, paths)], sys.stdout)
"""


def _in_a_fork(how: str, paths: list[Path]) -> tuple[str, list[tuple]]:
    done = subprocess.run(
        [sys.executable, "-c", _IN_A_FORK, how, *map(str, paths)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    kind, found = json.loads(done.stdout)
    return kind, [tuple(finding) for finding in found]


@pytest.mark.slow
def test_the_checkov_worker_finds_what_checkov_finds_in_process(tmp_path):
    body = json.loads((OUT / "dev" / "network.json").read_text())
    body["Resources"]["FlowLogGroup"].pop("Metadata")  # its written skip: without it, CKV_AWS_158
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body))
    paths = [bad, OUT / "dev" / "service.json"]
    forked = _in_a_fork("check", paths)
    # With threads about (forking them is unsafe), a new interpreter.
    release = threading.Event()
    waiting = threading.Thread(target=release.wait)
    waiting.start()
    try:
        spawned = checkov_gate.start_checkov(paths)
    finally:
        release.set()
        waiting.join()
    assert isinstance(spawned, subprocess.Popen)
    in_process = checkov_gate.run_checkov(paths)
    assert "CKV_AWS_158" in {rule for _, _, _, rule, _ in in_process}
    assert forked == ("_Fork", in_process)
    assert checkov_gate.finish_checkov(spawned, paths) == in_process


def test_a_failing_worker_is_a_finding_not_a_pass(tmp_path):
    broken = subprocess.Popen(
        [sys.executable, "-c", "raise SystemExit('no checkov here')"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = checkov_gate.finish_checkov(broken, [tmp_path / "t.json"])
    assert found == [(str(tmp_path / "t.json"), 1, "checkov", "error", "checkov failed (exit 1): no checkov here")]


def test_a_failing_fork_is_a_finding_not_a_pass(tmp_path):
    found = _in_a_fork("fail", [tmp_path / "t.json"])
    message = "checkov failed (exit 1): RuntimeError: no checkov here"
    assert found == ("_Fork", [(str(tmp_path / "t.json"), 1, "checkov", "error", message)])


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


# In a fresh interpreter: the gate's cfn-lint run of each template named, in turn, in one process; for
# each, its findings and whether sympy's package was then complete (its __init__ run).
_CFN_LINT_IN_TURN = """
import json, sys, types
from pathlib import Path
from lintgate import cli
runs = []
for name in sys.argv[1:]:
    found = cli.run_cfn_lint([Path(name)])
    runs.append([sorted(found), type(sys.modules["sympy"]) is types.ModuleType])
json.dump(runs, sys.stdout)
"""


def _cfn_lint_in_turn(*paths: Path) -> list:
    done = subprocess.run(
        [sys.executable, "-c", _CFN_LINT_IN_TURN, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_sympy_is_imported_whole_only_for_templates_with_conditions(tmp_path):
    plain = OUT / "dev" / "service.json"  # IAM policy Conditions only
    body = json.loads((OUT / "dev" / "network.json").read_text())
    body["Conditions"] = {"Never": {"Fn::Equals": ["a", "b"]}}
    conditional = tmp_path / "conditional.json"
    conditional.write_text(json.dumps(body))
    (first, partial), (second, whole) = _cfn_lint_in_turn(plain, conditional)
    assert first == [] and not partial
    # A package entered without its __init__, then completed: the same findings as sympy imported whole.
    assert {rule for _, _, _, rule, _ in second} == {"W8001", "W8003"} and whole
    assert _cfn_lint_in_turn(conditional) == [[second, True]]


@pytest.mark.slow
def test_a_template_with_rules_and_no_conditions_gets_all_of_sympy(tmp_path):
    """cfn-lint reasons about a Rules section's RuleCondition with sympy too: with sympy's logic only,
    that run ends in an ImportError among sympy's circular imports (lean._sympy_whole)."""
    body = json.loads((OUT / "dev" / "network.json").read_text())
    in_us_east_1 = {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    body["Rules"] = {"InUsEast1": {"RuleCondition": in_us_east_1, "Assertions": [{"Assert": in_us_east_1}]}}
    ruled = tmp_path / "ruled.json"
    ruled.write_text(json.dumps(body))
    assert "Conditions" not in body
    assert _cfn_lint_in_turn(OUT / "dev" / "service.json", ruled) == [[[], False], [[], True]]


# In a fresh interpreter: how often Policies.json is parsed in each of the gate's cfn-lint runs of the
# templates named, one after another in one process, and then in one cfn-lint run without the gate.
_IAM_DATA_PARSES = """
import json, sys
from pathlib import Path
import cfnlint.helpers
from cfnlint.api import lint_by_config
from lintgate import cli
real, parsed = cfnlint.helpers.load_resource, []
def counting(package, filename="us-east-1.json"):
    parsed.append(filename)
    return real(package, filename)
cfnlint.helpers.load_resource = counting
def parses(run):
    before = len(parsed)
    run()
    return parsed[before:].count("Policies.json")
gate = [parses(lambda: cli.run_cfn_lint([Path(name)])) for name in sys.argv[1:]]
config = {"templates": sys.argv[1:2], "regions": ["us-east-1"]} | cli.cfn_lint_settings()
json.dump([gate, parses(lambda: lint_by_config(config))], sys.stdout)
"""


@pytest.mark.slow
def test_a_gate_run_parses_the_iam_data_once():
    """cfn-lint reads its rule modules again for every run, each binding the loader then in force: so
    every run of the gate, the first (which also imports the project's E9110) and the next, parses
    Policies.json once, where cfn-lint on its own parses it for each rule that reads it."""
    template = OUT / "dev" / "service.json"  # IAM policies: the rules that read the data have work
    done = subprocess.run(
        [sys.executable, "-c", _IAM_DATA_PARSES, str(template), str(template)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    gate, alone = json.loads(done.stdout)
    assert gate == [1, 1]
    assert alone >= 2


def test_the_iam_data_is_parsed_once_per_cfn_lint_run():
    import cfnlint.helpers
    from cfnlint.data import AdditionalSpecs as specs  # noqa: N813

    from lintgate import lean

    load = cfnlint.helpers.load_resource
    with lean.lean_cfn_lint([OUT / "dev" / "network.json"]):
        shared = cfnlint.helpers.load_resource
        assert shared(specs, "Policies.json") is shared(specs, filename="Policies.json")
        assert shared(specs, "StatefulResources.json") is not shared(specs, "StatefulResources.json")
        assert shared(specs, "Policies.json") == load(specs, "Policies.json")
    assert cfnlint.helpers.load_resource is load


def test_a_rules_schema_file_is_read_when_the_rule_first_reads_it():
    import importlib

    import cfnlint.helpers

    from lintgate import lean

    module = importlib.import_module("cfnlint.rules.jsonschema.CfnLintJsonSchema")
    load = module.load_resource
    with lean.lean_cfn_lint([OUT / "dev" / "network.json"]):
        from cfnlint.rules.resources.rds.DbInstanceDbInstanceClassWithEngine import (
            DbInstanceDbInstanceClassWithEngine as Rule,
        )

        rule = Rule()
        assert type(rule.__dict__["_schema"]).__name__ == "_Pending"  # created, not read
        details = rule.__dict__["_schema"]
        assert rule.schema == cfnlint.helpers.load_resource(details.module, details.filename)
        assert rule.__dict__["_schema"] is rule.schema  # read once, then kept
    assert module.load_resource is load
    assert Rule()._schema == rule.schema  # after the run, cfn-lint's own loader
