"""The lint gate finds exactly what the tools find on their own (issue 15: its speed measures weaken nothing).

The gate (fargate-lint: checkov in a fork with its lean imports and no cyclic garbage collection,
cfn-lint here with sympy's logic only and the IAM data parsed once) against the straightforward
runs, each in a fresh interpreter: bare ``cfn-lint`` on the command line (it reads .cfnlintrc, so the
project rules too) and checkov's CloudFormation runner as checkov runs it. Once on a template made to
have findings of both tools, Conditions among them, and once on every template in out/ (no findings).
For checkov, every check's result is compared (passed, failed and skipped), not only the failures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lintgate import cli as lint_cli
from lintgate import lean
from tests.helpers import OUT, ROOT, run_lint

pytestmark = pytest.mark.slow

# checkov's results as checkov itself runs (plain) and as the gate's worker runs (lean), in a fresh
# interpreter each: (result, check, resource, file, lines) of every check, sorted.
_CHECKOV_RESULTS = """
import gc, json, sys
from lintgate import checkov_gate, lean
if sys.argv[1] == "lean":
    gc.disable()
    lean.lean_checkov()
results = []
for report in checkov_gate.checkov_reports(sys.argv[2:]):
    for kind in ("passed_checks", "failed_checks", "skipped_checks"):
        for r in getattr(report, kind):
            results.append([kind, r.check_id, r.resource, r.file_abs_path, list(r.file_line_range)])
    results += [["parse error", p, "", "", []] for p in report.parsing_errors]
json.dump(sorted(results), sys.stdout)
"""


def _checkov_results(how: str, paths: list[Path]) -> list:
    done = subprocess.run(
        [sys.executable, "-c", _CHECKOV_RESULTS, how, *(str(p.resolve()) for p in paths)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _bare_cfn_lint(paths: list[Path]) -> list[tuple]:
    """Findings of the `cfn-lint` command, in the gate's form, each template against the gate's region."""
    by_region: dict[str, list[Path]] = {}
    for path in paths:
        by_region.setdefault(lint_cli.region_of(path), []).append(path)
    found = []
    for region, in_region in sorted(by_region.items()):
        done = subprocess.run(
            [str(Path(sys.executable).parent / "cfn-lint"), "--regions", region, "--format", "json", "--"]
            + [str(p) for p in in_region],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode in (0, 2, 4, 6, 8, 10, 12, 14), done.stderr[-3000:]
        for m in json.loads(done.stdout):
            line = m["Location"]["Start"]["LineNumber"]
            found.append((m["Filename"], line, "cfn-lint", m["Rule"]["Id"], m["Message"]))
    return found


def _plain_checkov_findings(paths: list[Path]) -> list[tuple]:
    """checkov's failed checks (plain run), in the gate's form."""
    given = {str(p.resolve()): str(p) for p in paths}
    return [
        (given.get(file, file), lines[0] if lines else 1, "checkov", check, resource)
        for kind, check, resource, file, lines in _checkov_results("plain", paths)
        if kind == "failed_checks"
    ]


def _gate_findings(paths: list[Path]) -> list[tuple]:
    """fargate-lint's findings (the console script: a fork for checkov), with checkov's resource only."""
    done = run_lint("--no-cache", *(str(p) for p in paths))
    assert done.returncode in (0, 1), done.stderr[-3000:]
    found = []
    for line in done.stdout.splitlines():
        place, tool, rule, message = line.split(" ", 3)
        file, number = place.rstrip(":").rsplit(":", 1)
        if tool == "checkov":  # the gate names the check and then its resource in parentheses
            message = message.rsplit(" (", 1)[1].rstrip(")")
        found.append((file, int(number), tool, rule, message))
    return found


def _bad_template(folder: Path) -> Path:
    """dev's network template with findings of both tools; Conditions, so that cfn-lint uses all of sympy."""
    body = json.loads((OUT / "dev" / "network.json").read_text())
    resources = body["Resources"]
    resources["FlowLogGroup"].pop("Metadata")  # its written checkov skip
    resources["Vpc"]["Properties"]["CidrBlok"] = "10.0.0.0/16"
    body["Conditions"] = {
        "InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
        "NotInUsEast1": {"Fn::Not": [{"Condition": "InUsEast1"}]},
        "NeverUsed": {"Fn::Equals": ["a", "b"]},
    }
    resources["Vpc"]["Properties"]["EnableDnsSupport"] = {"Fn::If": ["InUsEast1", True, "sometimes"]}
    resources["NatElasticIp1"]["Condition"] = "InUsEast1"
    resources["NatGateway1"]["Properties"]["Tags"] = [
        {"Key": "x", "Value": {"Fn::If": ["NotInUsEast1", {"Ref": "NatElasticIp1"}, "y"]}}
    ]
    resources["InternetGateway"]["Properties"]["Tags"] = [{"Key": "x", "Value": {"Fn::If": ["Missing", "a", "b"]}}]
    bad = folder / "bad.json"
    bad.write_text(json.dumps(body, indent=2))
    return bad


def _no_conditions_bad_template(folder: Path) -> Path:
    """dev's service template (IAM policy Conditions only) with findings of both tools: sympy's logic only.
    One of them (E3047) is of a rule whose schema file the gate reads only when the rule first uses it."""
    body = json.loads((OUT / "dev" / "service.json").read_text())
    for resource in body["Resources"].values():
        if resource.get("Metadata", {}).get("checkov"):
            resource.pop("Metadata")
            break
    kind = next(r for r in body["Resources"].values() if r["Type"] == "AWS::ECS::Service")
    kind["Properties"]["DesiredCountt"] = 1
    # 256 CPU units allow 512, 1024 or 2048 MiB on Fargate (cfn-lint's fargate_cpu_memory.json; AWS's table:
    # https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size).
    task = next(r for r in body["Resources"].values() if r["Type"] == "AWS::ECS::TaskDefinition")
    task["Properties"]["Memory"] = "8192"
    bad = folder / "bad-service.json"
    bad.write_text(json.dumps(body, indent=2))
    return bad


def test_the_gate_finds_what_the_tools_find_on_templates_with_findings(tmp_path):
    bad = [_bad_template(tmp_path), _no_conditions_bad_template(tmp_path)]
    assert [lean.uses_conditions(p) for p in bad] == [True, False]  # all of sympy; its logic only
    expected = sorted(_bare_cfn_lint(bad) + _plain_checkov_findings(bad))
    rules = {rule for _, _, _, rule, _ in expected}
    # The templates do what they are made for: findings of both tools, Conditions reasoned about.
    assert {"E3002", "E3012", "E3047", "W1001", "W8001", "CKV_AWS_158"} <= rules, expected
    assert {tool for _, _, tool, _, _ in expected} == {"cfn-lint", "checkov"}
    assert {Path(f).name for f, *_ in expected} == {"bad.json", "bad-service.json"}
    # The gate completes sympy for a run that has any template with Conditions: the template without
    # them is linted in a run of its own, so that sympy's logic alone is compared too.
    assert sorted(_gate_findings(bad[:1]) + _gate_findings(bad[1:])) == expected
    assert _checkov_results("lean", bad) == _checkov_results("plain", bad)


def test_the_gate_and_the_tools_find_nothing_in_out():
    templates = sorted(p for p in OUT.glob("*/*.json") if lint_cli.is_template(p))
    assert _bare_cfn_lint(templates) == []
    plain = _checkov_results("plain", templates)
    assert [r for r in plain if r[0] not in ("passed_checks", "skipped_checks")] == []
    assert _checkov_results("lean", templates) == plain
    assert _gate_findings(templates) == []
