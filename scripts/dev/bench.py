"""Benchmark the edit-generate-lint-deploy loop (`make bench`, which runs
``python -m scripts.dev.bench`` from the repository root: a dev tool, not part of the package).

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

from blueprints import manifest
from deployer import emulator, waiting
from tests.moto_server_patches import in_process_server, outputs_after_change_set

ROOT = Path(__file__).resolve().parent.parent.parent
PY = sys.executable
BIN = Path(PY).parent  # the console scripts of the installed project


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
            [PY, "generate.py", "--quiet", "--params-dir", str(params), "--out-dir", str(target)], runs
        )
    per_env = (scaling[50]["median"] - scaling[1]["median"]) / 49
    return {
        "import_floor": floor,
        "generate_all": generate,
        "generate_ratio_to_floor": generate["median"] / floor["median"],
        "generate_envs": {str(k): v for k, v in scaling.items()},
        "generate_seconds_per_extra_env": per_env,
    }


def bench_lint(runs: int) -> dict:
    templates = sorted(str(p) for p in (ROOT / "out").glob("*/*.json"))
    env = {k: v for k, v in os.environ.items() if k != "LINT_NO_CACHE"}
    lint = str(BIN / "fargate-lint")
    cold = timed([lint, "--no-cache", *templates], max(1, runs // 2), env=env)
    subprocess.run([lint, *templates], cwd=ROOT, check=True, capture_output=True, env=env)
    warm = timed([lint, *templates], runs, env=env)
    return {"lint_cold": cold, "lint_warm": warm}


def _reset(endpoint: str) -> None:
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()


def _cli_deploy_script(folder: Path) -> str:
    """`aws cloudformation deploy` of every stack of the manifest in order, passing outputs on
    (describe-stacks per upstream value), as a team with only the AWS CLI would script it."""
    document = manifest.read(folder)
    names = {s.name: s.stack_name for s in document.stacks}
    lines = ["set -euo pipefail"]
    for stack in document.stacks:
        overrides = [_dquote(f"{k}={v}") for k, v in stack.parameters.items()]
        for key, wired in stack.parameters_from_outputs.items():
            query = f"Stacks[0].Outputs[?OutputKey=='{wired.output}'].OutputValue"
            lines.append(
                f"{key}=$(aws cloudformation describe-stacks --stack-name {names[wired.stack]} "
                f'--query "{query}" --output text)'
            )
            overrides.append(f'"{key}=${key}"')
        tags = " ".join(f"{k}={v}" for k, v in stack.tags.items())
        params = f" --parameter-overrides {' '.join(overrides)}" if overrides else ""
        lines.append(
            f"aws cloudformation deploy --stack-name {stack.stack_name} "
            f"--template-file {folder / stack.template}{params} "
            f"--capabilities {' '.join(stack.capabilities)} --tags {tags} --no-fail-on-empty-changeset"
        )
    return "\n".join(lines)


def _dquote(text: str) -> str:
    return '"' + "".join("\\" + c if c in '\\"$`' else c for c in text) + '"'


def bench_deploy(runs: int, tmp: Path, env: str = "dev") -> dict:
    """deploy.py apply of a whole environment on the local endpoint (fresh, then up to date), and
    the AWS CLI's `aws cloudformation deploy` of the same templates and values on the same endpoint."""
    # The AWS CLI gets the templates as fargate-deploy --local sends them (moto 5.2.5 cannot run the
    # originals: scripts/deployer/emulator.py), so both paths ask the emulator for the same work.
    adapted = tmp / "adapted"
    shutil.copytree(ROOT / "out" / env, adapted)
    region = manifest.read(adapted).region
    for path in adapted.glob("*.json"):
        if path.name != manifest.FILE_NAME and not path.name.endswith(".parameters.json"):
            path.write_text(emulator.template_for_emulator(json.loads(path.read_text()), region))
    script = _cli_deploy_script(adapted)
    results = {}
    with outputs_after_change_set(), in_process_server() as endpoint:
        apply = [str(BIN / "fargate-deploy"), "apply", "--env", env, "--yes", "--local-endpoint", endpoint]
        results["apply_fresh"] = timed(apply, runs, before=lambda: _reset(endpoint))
        results["apply_up_to_date"] = timed(apply, runs)
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        cli_env.update(
            PATH=f"{Path(PY).parent}{os.pathsep}{os.environ['PATH']}",
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=region,
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        results["aws_cli_fresh"] = timed(["bash", "-c", script], runs, env=cli_env, before=lambda: _reset(endpoint))
    results["apply_ratio_to_aws_cli"] = results["apply_fresh"]["median"] / results["aws_cli_fresh"]["median"]
    results["notice_delay"] = {
        f"{minutes} min": {"deploy.py": waiting.worst_notice_delay(minutes * 60), "aws cli": 30.0}
        for minutes in (1, 5, 15)
    }
    return results


def _row(name: str, figure: dict, target: str = "") -> str:
    return (
        f"| {name} | {figure['median'] * 1000:.0f} ms | {figure['min'] * 1000:.0f}–{figure['max'] * 1000:.0f} ms "
        f"| {target} |"
    )


def table(results: dict) -> str:
    gen = results["generation"]
    lines = [
        "| figure | median | min–max | target |",
        "| --- | --- | --- | --- |",
        _row("python + import troposphere, awacs (floor)", gen["import_floor"]),
        _row(
            "generate all environments",
            gen["generate_all"],
            f"≤ 1.5× floor: {gen['generate_ratio_to_floor']:.2f}× "
            f"{'met' if gen['generate_ratio_to_floor'] <= 1.5 else 'MISSED'}",
        ),
    ]
    for count, figure in gen["generate_envs"].items():
        lines.append(_row(f"generate {count} synthetic environment(s)", figure))
    per_env = gen["generate_seconds_per_extra_env"] * 1000
    lines.append(
        f"| per additional environment | {per_env:.1f} ms | | ≤ 20 ms: {'met' if per_env <= 20 else 'MISSED'} |"
    )
    lint = results["lint"]
    lines.append(_row("lint all templates, cold (--no-cache)", lint["lint_cold"]))
    lines.append(
        _row(
            "lint all templates, warm (nothing changed)",
            lint["lint_warm"],
            f"< 0.5 s: {'met' if lint['lint_warm']['median'] < 0.5 else 'MISSED'}",
        )
    )
    deploy = results.get("deploy")
    if deploy:
        lines.append(
            _row(
                "deploy.py apply dev, fresh create (local endpoint)",
                deploy["apply_fresh"],
                f"< 3 s and faster than the AWS CLI: "
                f"{'met' if deploy['apply_fresh']['median'] < 3 and deploy['apply_ratio_to_aws_cli'] < 1 else 'MISSED'}",  # noqa: E501 - one table cell
            )
        )
        lines.append(
            _row(
                "aws cloudformation deploy, same stacks (local endpoint)",
                deploy["aws_cli_fresh"],
                f"deploy.py takes {deploy['apply_ratio_to_aws_cli']:.2f}× its time",
            )
        )
        lines.append(
            _row(
                "deploy.py apply dev, up to date",
                deploy["apply_up_to_date"],
                f"< 1.5 s: {'met' if deploy['apply_up_to_date']['median'] < 1.5 else 'MISSED'}",
            )
        )
        for length, delays in deploy["notice_delay"].items():
            ok = delays["deploy.py"] <= 5
            lines.append(
                f"| worst delay noticing a settled stack, {length} operation | "
                f"{delays['deploy.py']:.2f} s (AWS CLI: {delays['aws cli']:.0f} s) | computed from "
                f"the polling schedule | ≤ 5 s: {'met' if ok else 'MISSED'} |"
            )
    return "\n".join(lines)


def _update_readme(text: str) -> None:
    """Replace the table between the bench markers of README.md with this run's."""
    readme = ROOT / "README.md"
    content = readme.read_text()
    begin, end = "<!-- bench:begin -->\n", "\n<!-- bench:end -->"
    head, _, rest = content.partition(begin)
    _, _, tail = rest.partition(end)
    readme.write_text(head + begin + text + end + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs per figure (default 5)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json", help="where to write results")
    parser.add_argument(
        "--no-readme", dest="readme", action="store_false", help="leave README.md's benchmark table alone"
    )
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        results = {
            "generation": bench_generation(args.runs, tmp),
            "lint": bench_lint(args.runs),
            "deploy": bench_deploy(args.runs, tmp),
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(table(results))
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    if args.readme:
        _update_readme(table(results))
    print(f"\nwrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
