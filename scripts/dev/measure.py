"""Timing whole processes for the bench: interleaved runs, wall and CPU time, ratios within one session.

Every command of a group runs once per round, in turn (A B C A B C ...), so a slow moment of the
machine touches every figure of the group alike; a ratio is taken per round (A's time over B's in
the same round) and summarised like every other figure: median, min and max. CPU time is the
child's user + system time, from ``os.wait4``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class Cmd:
    argv: list[str]
    env: dict[str, str] | None = None
    before: Callable[[], None] | None = None  # untimed preparation before each run
    ok_codes: tuple[int, ...] | None = (0,)  # None: any exit code (a linter's findings)


def run_once(cmd: Cmd) -> tuple[float, float]:
    """One run of ``cmd``: (wall seconds, CPU seconds of the child: user + system)."""
    if cmd.before:
        cmd.before()
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(cmd.argv, cwd=ROOT, env=cmd.env, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if cmd.ok_codes is not None and process.returncode not in cmd.ok_codes:
            output.seek(0)
            tail = output.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(cmd.argv)} exited {process.returncode}:\n{tail}")
    return wall, usage.ru_utime + usage.ru_stime


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "runs": len(samples)}


def interleaved(cmds: dict[str, Cmd], runs: int, warmup: int = 1) -> dict[str, dict]:
    """Each command ``warmup`` + ``runs`` times, in turn; the warm-up rounds (OS file cache, .pyc) are dropped.

    Returns {name: {"wall": summary, "cpu": summary, "samples": [wall, ...]}}."""
    walls: dict[str, list[float]] = {name: [] for name in cmds}
    cpus: dict[str, list[float]] = {name: [] for name in cmds}
    for round_ in range(warmup + runs):
        for name, cmd in cmds.items():
            wall, cpu = run_once(cmd)
            if round_ >= warmup:
                walls[name].append(wall)
                cpus[name].append(cpu)
    return {name: {"wall": summary(walls[name]), "cpu": summary(cpus[name]), "samples": walls[name]} for name in cmds}


def ratio(figures: dict[str, dict], numerator: str, denominator: str) -> dict[str, float]:
    """The per-round ratio of two figures of one interleaved group (wall time)."""
    pairs = zip(figures[numerator]["samples"], figures[denominator]["samples"], strict=True)
    return summary([a / b for a, b in pairs])


def fit_line(points: dict[int, float]) -> dict[str, float]:
    """Least-squares line through (n, seconds): slope (s per extra n), intercept, R² and the
    worst point's distance from the line relative to its value."""
    xs, ys = list(points), list(points.values())
    slope, intercept = statistics.linear_regression(xs, ys)
    mean_y = statistics.fmean(ys)
    ss_tot = sum((y - mean_y) ** 2 for y in ys)
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    worst = max(abs(y - (intercept + slope * x)) / y for x, y in zip(xs, ys, strict=True))
    return {"slope": slope, "intercept": intercept, "r2": 1 - ss_res / ss_tot if ss_tot else 1.0, "worst": worst}
