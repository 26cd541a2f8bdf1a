#!/usr/bin/env python3
"""Benchmark the edit-generate-lint-deploy loop (`make bench`).

Every figure is measured over several runs of whole processes and reported as the median
and min-max, in a table on stdout and in bench-results.json. Targets come from the issue
tracker (issue 7); a figure that misses its target is marked, never hidden.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def timed(cmd: list[str], runs: int, env: dict | None = None, before=None) -> dict:
    """Run ``cmd`` ``runs`` times (after one warm-up run); seconds as median/min/max."""
    samples = []
    for i in range(runs + 1):
        if before:
            before()
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
        if i:  # the first run warms the OS file cache and .pyc files
            samples.append(time.perf_counter() - start)
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": runs}


def synthetic_params(folder: Path, count: int) -> Path:
    """``count`` environments made from the dev sample, in a temporary params folder."""
    params = folder / f"params-{count}"
    params.mkdir()
    text = (ROOT / "params" / "dev.yaml").read_text()
    for i in range(count):
        name = f"e{i:03d}"
        (params / f"{name}.yaml").write_text(text.replace("environment: dev", f"environment: {name}"))
    return params


def bench_generation(runs: int, tmp: Path) -> dict:
    out = tmp / "out-gen"
    floor = timed([PY, "-c", "import troposphere, awacs"], runs)
    generate = timed([PY, "generate.py", "--quiet", "--out-dir", str(out)], runs)
    scaling = {}
    for count in (1, 10, 50):
        params = synthetic_params(tmp, count)
        target = tmp / f"out-{count}"
        scaling[count] = timed(
            [PY, "generate.py", "--quiet", "--params-dir", str(params), "--out-dir", str(target)], runs)
    per_env = (scaling[50]["median"] - scaling[1]["median"]) / 49
    return {
        "import_floor": floor, "generate_all": generate,
        "generate_ratio_to_floor": generate["median"] / floor["median"],
        "generate_envs": {str(k): v for k, v in scaling.items()},
        "generate_seconds_per_extra_env": per_env,
    }


def bench_lint(runs: int) -> dict:
    templates = sorted(str(p) for p in (ROOT / "out").glob("*/*.json"))
    env = {k: v for k, v in os.environ.items() if k != "LINT_NO_CACHE"}
    cold = timed([PY, "scripts/lint.py", "--no-cache", *templates], max(1, runs // 2), env=env)
    subprocess.run([PY, "scripts/lint.py", *templates], cwd=ROOT, check=True, capture_output=True, env=env)
    warm = timed([PY, "scripts/lint.py", *templates], runs, env=env)
    return {"lint_cold": cold, "lint_warm": warm}


def _row(name: str, figure: dict, target: str = "") -> str:
    return (f"| {name} | {figure['median'] * 1000:.0f} ms | {figure['min'] * 1000:.0f}–{figure['max'] * 1000:.0f} ms "
            f"| {target} |")


def table(results: dict) -> str:
    gen = results["generation"]
    lines = ["| figure | median | min–max | target |", "| --- | --- | --- | --- |",
             _row("python + import troposphere, awacs (floor)", gen["import_floor"]),
             _row("generate all environments", gen["generate_all"],
                  f"≤ 1.5× floor: {gen['generate_ratio_to_floor']:.2f}× "
                  f"{'met' if gen['generate_ratio_to_floor'] <= 1.5 else 'MISSED'}")]
    for count, figure in gen["generate_envs"].items():
        lines.append(_row(f"generate {count} synthetic environment(s)", figure))
    per_env = gen["generate_seconds_per_extra_env"] * 1000
    lines.append(f"| per additional environment | {per_env:.1f} ms | | ≤ 20 ms: {'met' if per_env <= 20 else 'MISSED'} |")
    lint = results["lint"]
    lines.append(_row("lint all templates, cold (--no-cache)", lint["lint_cold"]))
    lines.append(_row("lint all templates, warm (nothing changed)", lint["lint_warm"],
                      f"< 0.5 s: {'met' if lint['lint_warm']['median'] < 0.5 else 'MISSED'}"))
    for extra in results.get("extra_rows", []):
        lines.append(extra)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs per figure (default 7)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json", help="where to write results")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        results = {"generation": bench_generation(args.runs, tmp), "lint": bench_lint(args.runs)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(table(results))
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
