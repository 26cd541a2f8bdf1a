"""The bench's groups of figures: generation, lint, tests. Each returns {figures, targets}.

A figure is {"wall": summary, "cpu": summary} (scripts/dev/measure.py); a target is
{"name", "value", "limit", "unit", "met"} with value and limit in the same unit.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from lintgate.cli import is_template

from .measure import ROOT, Cmd, fit_line, interleaved, ratio

PY = sys.executable
BIN = Path(PY).parent  # the console scripts of the installed project
ENV_COUNTS = (1, 16, 64)
# What a full generate imports before it builds anything: pydantic and the config models, troposphere
# and awacs with the resource modules the blueprints use, jinja2, PyYAML.
GENERATOR_IMPORTS = "import os; os.environ['PYDANTIC_DISABLE_PLUGINS'] = '__all__'; import blueprints.environment"


def target(name: str, value: float, limit: float, unit: str) -> dict:
    return {"name": name, "value": value, "limit": limit, "unit": unit, "met": value <= limit}


def _synthetic_params(folder: Path, count: int) -> Path:
    """``count`` environments made from the dev sample, in a temporary params folder."""
    params = folder / f"params-{count}"
    params.mkdir()
    text = (ROOT / "params" / "dev.yaml").read_text()
    for i in range(count):
        name = f"e{i:03d}"
        (params / f"{name}.yaml").write_text(text.replace("environment: dev", f"environment: {name}"))
    return params


def generation(runs: int, tmp: Path) -> dict:
    out_full, out_same = tmp / "out-full", tmp / "out-same"
    # The no-change run: out-same was written by a run with the same inputs (and so has its stamp).
    subprocess.run([PY, "generate.py", "-q", "--out-dir", str(out_same)], cwd=ROOT, check=True)
    group = interleaved(
        {
            "import_floor": Cmd([PY, "-c", "import troposphere, awacs"]),
            "generate_all": Cmd([PY, "generate.py", "-q", "--no-cache", "--out-dir", str(out_full)]),
            "generate_unchanged": Cmd([PY, "generate.py", "-q", "--out-dir", str(out_same)]),
            # Context, not targets: what any run pays before doing anything of its own.
            "python_start": Cmd([PY, "-c", "pass"]),
            "generator_imports": Cmd([PY, "-c", GENERATOR_IMPORTS]),
        },
        runs,
    )
    full = ratio(group, "generate_all", "import_floor")
    same = ratio(group, "generate_unchanged", "import_floor")
    bounds = {
        "python_start/floor": ratio(group, "python_start", "import_floor"),
        "generator_imports/floor": ratio(group, "generator_imports", "import_floor"),
    }
    scaling = interleaved(
        {
            f"generate_{n}_envs": Cmd(
                [
                    PY,
                    "generate.py",
                    "-q",
                    "--no-cache",
                    "--params-dir",
                    str(_synthetic_params(tmp, n)),
                    "--out-dir",
                    str(tmp / f"out-{n}"),
                ]
            )
            for n in ENV_COUNTS
        },
        runs,
    )
    line = fit_line({n: scaling[f"generate_{n}_envs"]["wall"]["median"] for n in ENV_COUNTS})
    per_env_ms = line["slope"] * 1000
    return {
        "figures": {**group, **scaling},
        "ratios": {"generate_all/floor": full, "generate_unchanged/floor": same, **bounds},
        "fit": line,
        "targets": [
            target("generate all environments / import floor", full["median"], 3.0, "×"),
            target("generate, nothing changed / import floor", same["median"], 0.3, "×"),
            target(f"cost per extra environment (fit over {', '.join(map(str, ENV_COUNTS))})", per_env_ms, 10, "ms"),
            # Linear: no point of 1..64 environments further than 10 % from the fitted line.
            target("distance of the worst point from that line", line["worst"] * 100, 10, "%"),
        ],
    }


def lint(runs: int, tmp: Path) -> dict:
    templates = sorted(str(p) for p in (ROOT / "out").glob("*/*.json") if is_template(p))
    one = str(ROOT / "out" / "dev" / "service.json")
    region = json.loads((ROOT / "out" / "dev" / "stacks.json").read_text())["region"]
    env = {k: v for k, v in os.environ.items() if k != "LINT_NO_CACHE"}
    lint_cmd = str(BIN / "fargate-lint")
    cache = tmp / "lint-cache"
    # The changed template: no pass remembered for it (its own empty cache folder per run).
    group = interleaved(
        {
            "lint_one_changed": Cmd(
                [lint_cmd, "--cache-dir", str(cache / "cold"), one],
                env=env,
                before=lambda: shutil.rmtree(cache / "cold", ignore_errors=True),
                ok_codes=None,
            ),
            "bare_cfn_lint_one": Cmd([str(BIN / "cfn-lint"), "--regions", region, "--", one], ok_codes=None),
        },
        runs,
    )
    subprocess.run([lint_cmd, "--cache-dir", str(cache / "warm"), *templates], cwd=ROOT, env=env, capture_output=True)
    warm = interleaved(
        {"lint_all_warm": Cmd([lint_cmd, "--cache-dir", str(cache / "warm"), *templates], env=env)}, runs
    )
    one_ratio = ratio(group, "lint_one_changed", "bare_cfn_lint_one")
    return {
        "figures": {**group, **warm},
        "ratios": {"lint_one_changed/bare_cfn_lint": one_ratio},
        "targets": [
            target("lint one changed template, all gates / bare cfn-lint", one_ratio["median"], 1.0, "×"),
            target("lint everything, warm", warm["lint_all_warm"]["wall"]["median"], 0.1, "s"),
        ],
    }


def fast_tier_expression(makefile: Path = ROOT / "Makefile") -> str:
    """pytest's -m expression in the recipe of `make test-fast` (tests/test_bench_measure.py checks it
    against make's own reading). Read, not run through make: `make bench ARGS=...` would hand its ARGS on."""
    lines = makefile.read_text().splitlines()
    try:
        recipe = shlex.split(lines[lines.index("test-fast: $(STAMP)") + 1])
        return recipe[recipe.index("-m", recipe.index("pytest")) + 1]  # pytest's -m, not python's
    except (ValueError, IndexError):
        # A RuntimeError: the bench reports this group as failed and keeps the figures of the others.
        raise RuntimeError(f"{makefile.name}: no `pytest -m EXPR` on the line after `test-fast: $(STAMP)`") from None


def tests(runs: int) -> dict:
    """The fast tier is exactly `make test-fast`: the -m expression of its recipe, read from the Makefile."""
    fast_tier = fast_tier_expression()
    pytest = [PY, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    group = interleaved(
        {
            "tests_fast_tier": Cmd([*pytest, "-m", fast_tier], ok_codes=None),
            "tests_full": Cmd(pytest, ok_codes=None),
        },
        runs,
        warmup=0,
    )
    fast = ratio(group, "tests_fast_tier", "tests_full")
    return {
        "figures": group,
        "fast_tier": fast_tier,
        "ratios": {"tests_fast_tier/tests_full": fast},
        "targets": [target("fast test tier / full suite", fast["median"], 0.2, "×")],
    }
