"""Benchmark the edit-generate-lint-test-deploy loop (`make bench`, which runs
``python -m scripts.dev.bench`` from the repository root: a dev tool, not part of the package).

Every figure is the median of whole-process runs (at least 5 measured, after a warm-up), printed
with its min–max and the processes' CPU time (user + system) beside the wall time. Figures that are
compared are measured interleaved (A B A B ...) and compared as per-round ratios of the same session.
Each target (issue 15) is printed with its value and "met" or "MISSED"; a missed target makes the
exit code 1. Results go to bench-results.json; README.md's table only with --readme.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import figures as groups
from .measure import ROOT

NAMES = {
    "import_floor": "python -c 'import troposphere, awacs' (floor)",
    "generate_all": "generate all environments (--no-cache)",
    "generate_unchanged": "generate, nothing changed (fast path)",
    "python_start": "python -c pass (interpreter start, for context)",
    "generator_imports": "the generator's imports alone (for context)",
    "lint_one_changed": "fargate-lint, one changed template (all gates)",
    "bare_cfn_lint_one": "bare cfn-lint, same template and region",
    "lint_all_warm": "fargate-lint everything, warm",
    "tests_fast_tier": "make test-fast (fast tier)",
    "tests_full": "pytest, full suite (emulator)",
    "apply_one_env": "fargate-deploy apply, 1 environment, fresh (emulator)",
    "apply_four_envs": "fargate-deploy apply, 4 environments at once, fresh",
    "apply_up_to_date": "fargate-deploy apply dev, up to date",
    "status": "fargate-deploy status dev",
    "apply_fresh": "fargate-deploy apply dev, fresh",
    "aws_cli_fresh": "aws cloudformation deploy, same stacks",
}


def _ms(summary: dict) -> str:
    return f"{summary['median'] * 1000:.0f} ms ({summary['min'] * 1000:.0f}–{summary['max'] * 1000:.0f})"


def _figure_rows(results: dict) -> list[str]:
    rows = ["| figure | wall, median (min–max) | CPU user+sys, median (min–max) | runs |", "| --- | --- | --- | --- |"]
    for group in results.values():
        for key, figure in group.get("figures", {}).items():
            name = NAMES.get(key) or f"generate {key.split('_')[1]} copies of params/dev.yaml (--no-cache)"
            rows.append(f"| {name} | {_ms(figure['wall'])} | {_ms(figure['cpu'])} | {figure['wall']['runs']} |")
    return rows


def _value(t: dict) -> str:
    if t.get("met") is None:
        return t.get("note", "not measured")
    precision = 2 if t["unit"] in ("×", "s") else 1
    return f"{t['value']:.{precision}f}{t['unit']}"


def _target_rows(results: dict) -> list[str]:
    rows = ["| target | value | limit | result |", "| --- | --- | --- | --- |"]
    for group in results.values():
        for t in group.get("targets", []):
            limit = f"≤ {t['limit']}{t['unit']}" if "limit" in t else ""
            verdict = {True: "met", False: "MISSED", None: "—"}[t.get("met")]
            rows.append(f"| {t['name']} | {_value(t)} | {limit} | {verdict} |")
    return rows


def _extra_rows(results: dict) -> list[str]:
    rows = []
    fit = results["generation"].get("fit")
    if fit:
        rows.append(
            f"Per-environment fit: {fit['slope'] * 1000:.1f} ms per extra environment, "
            f"{fit['intercept'] * 1000:.0f} ms fixed, R² {fit['r2']:.4f}."
        )
    ratios = results["generation"].get("ratios", {})
    if "python_start/floor" in ratios:
        rows.append(
            "Lower bounds, for context: starting the interpreter is "
            f"{ratios['python_start/floor']['median']:.2f}× the floor, the generator's imports alone (before "
            f"building anything) {ratios['generator_imports/floor']['median']:.2f}×."
        )
    from deployer import waiting

    delays = ", ".join(f"{m} min: {waiting.worst_notice_delay(m * 60):.1f} s" for m in (1, 5, 15))
    rows.append(f"Worst delay noticing a settled stack (from the polling schedule; AWS CLI: 30 s): {delays}.")
    for name, r in results.get("deploy", {}).get("ratios", {}).items():
        if name == "apply_fresh/aws_cli_fresh":
            rows.append(
                f"fargate-deploy apply takes {r['median']:.2f}× the AWS CLI's time (same stacks, same emulator)."
            )
    return rows


def table(results: dict) -> str:
    return "\n".join([*_figure_rows(results), "", *_target_rows(results), "", *_extra_rows(results)])


def _update_readme(text: str) -> None:
    """Replace the table between the bench markers of README.md with this run's."""
    readme = ROOT / "README.md"
    content = readme.read_text()
    begin, end = "<!-- bench:begin -->\n", "\n<!-- bench:end -->"
    head, _, rest = content.partition(begin)
    _, _, tail = rest.partition(end)
    readme.write_text(head + begin + text + end + tail)


def _not_measured(name: str) -> dict:
    return {"targets": [{"name": name, "met": None, "note": "not measured"}]}


def _failed(name: str, error: Exception) -> dict:
    """A group that could not be measured: reported as missed, with the command's complaint."""
    first = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    print(f"{name}: {error}", file=sys.stderr)
    return {"targets": [{"name": name, "met": False, "note": f"failed: {first}"}]}


def _group(name: str, measure) -> dict:
    try:
        return measure()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        return _failed(name, error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per figure (at least 5; default 5)")
    parser.add_argument("--test-runs", type=int, default=5, help="measured runs of the two test suites (default 5)")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the test suites (quick runs)")
    parser.add_argument("--skip-deploy", action="store_true", help="do not time deployments on the emulator")
    parser.add_argument("--aws-cli", action="store_true", help="also time the AWS CLI's deploy of the same stacks")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json", help="where to write results")
    parser.add_argument("--readme", action="store_true", help="also write the table into README.md (Benchmarks)")
    args = parser.parse_args(argv)
    if args.runs < 5 or (args.test_runs < 1):
        parser.error("--runs must be at least 5 (and --test-runs at least 1)")
    # The project byte-compiled as a fresh `make` install leaves it (and as pip leaves the
    # dependencies the import floor loads): with PYTHONDONTWRITEBYTECODE set, edited modules would
    # otherwise be compiled again in every measured run.
    for package in ("blueprints", "scripts"):
        compileall.compile_dir(str(ROOT / package), quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    results: dict = {}
    try:
        results["generation"] = _group("generation", lambda: groups.generation(args.runs, tmp))
        results["lint"] = _group("lint", lambda: groups.lint(args.runs, tmp))
        if args.skip_tests:
            results["tests"] = _not_measured("fast test tier / full suite")
        else:
            results["tests"] = _group("tests", lambda: groups.tests(args.test_runs))
        if args.skip_deploy:
            results["deploy"] = _not_measured("fargate-deploy figures")
        else:
            from .deploy_figures import deploy

            results["deploy"] = _group("deploy", lambda: deploy(args.runs, tmp, args.aws_cli))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = table(results)
    print(text)
    for group in results.values():
        for figure in group.get("figures", {}).values():
            figure.pop("samples", None)
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if args.readme:
        _update_readme(text)
    print(f"\nwrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    missed = [
        t["name"]
        for g in results.values()
        if isinstance(g, dict)
        for t in g.get("targets", [])
        if t.get("met") is False
    ]
    if missed:
        print(f"missed {len(missed)} target(s): {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
