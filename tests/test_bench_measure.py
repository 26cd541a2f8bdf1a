"""The bench's measuring rules (scripts/dev/measure.py): interleaved runs, per-round ratios, CPU time, the fit."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

import pytest

from scripts.dev.figures import fast_tier_expression
from scripts.dev.measure import ROOT, Cmd, fit_line, interleaved, ratio, run_once


def test_commands_run_interleaved_and_ratios_pair_rounds(tmp_path):
    log = tmp_path / "order"
    append = "import sys; open(sys.argv[1], 'a').write(sys.argv[2])"
    cmds = {name: Cmd([sys.executable, "-c", append, str(log), name]) for name in ("A", "B")}
    figures = interleaved(cmds, runs=5, warmup=1)
    assert log.read_text() == "AB" * 6
    assert figures["A"]["wall"]["runs"] == 5 and len(figures["A"]["samples"]) == 5
    assert figures["A"]["wall"]["min"] <= figures["A"]["wall"]["median"] <= figures["A"]["wall"]["max"]
    pairs = [a / b for a, b in zip(figures["A"]["samples"], figures["B"]["samples"], strict=True)]
    assert ratio(figures, "A", "B")["min"] == min(pairs)


def test_cpu_time_is_the_childs():
    wall, cpu = run_once(Cmd([sys.executable, "-c", "sum(range(3_000_000))"]))
    assert cpu > 0.01 and wall >= cpu * 0.5  # the loop itself: ~30 ms of CPU in the child


def test_a_failing_command_is_an_error_unless_any_exit_code_is_accepted():
    with pytest.raises(RuntimeError, match="exited 3"):
        run_once(Cmd([sys.executable, "-c", "raise SystemExit(3)"]))
    run_once(Cmd([sys.executable, "-c", "raise SystemExit(3)"], ok_codes=None))


def test_fit_line_gives_slope_and_distance_from_the_line():
    line = fit_line({1: 0.30, 16: 0.45, 64: 0.93})
    assert line["slope"] == pytest.approx(0.01)
    assert line["intercept"] == pytest.approx(0.29)
    assert line["r2"] == pytest.approx(1.0) and line["worst"] == pytest.approx(0.0, abs=1e-9)
    bent = fit_line({1: 0.3, 16: 0.3, 64: 1.5})
    assert bent["worst"] > 0.1


def test_the_bench_times_the_tier_make_test_fast_runs(tmp_path):
    """The bench reads `make test-fast`'s -m expression from the Makefile; make itself (dry run, the
    stamp taken as up to date, no ARGS) prints the command it would run."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    printed = subprocess.run(
        [make, "-n", "-s", "-o", ".venv/.installed", "test-fast", "ARGS="],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    command = shlex.split(printed)
    assert command[command.index("pytest") + 1] == "-m"
    assert fast_tier_expression() == command[command.index("pytest") + 2]
    broken = tmp_path / "Makefile"
    broken.write_text("test-fast: $(STAMP)\n\t$(BIN)/python -m pytest $(ARGS)\n")
    with pytest.raises(RuntimeError, match="no `pytest -m EXPR`"):
        fast_tier_expression(broken)
