# The project is installed (make test: pip install -e ".[test]"): tests import blueprints,
# deployer and lintgate as packages, and tests.* from the repository root (pytest's rootdir).
# Local AWS endpoint (moto on 127.0.0.1) for the deploy tests: fixtures `moto_endpoint` and `moto`.
from __future__ import annotations

import pytest

pytest_plugins = ["tests.moto_support"]

# `make test-fast` leaves out the tests marked `deploy` or `slow` (setup.cfg, Makefile). A test without
# either mark that takes longer than this (setup, call and teardown) is named at the end of the run, as
# one that probably wants `slow`. Generous: a shared 2-core machine doubles the times of cheap tests.
SLOW_SECONDS = 3.0
TIER_MARKS = ("deploy", "slow")

_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not any(mark in report.keywords for mark in TIER_MARKS):
        _seconds[report.nodeid] = _seconds.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    slow = sorted(((s, nodeid) for nodeid, s in _seconds.items() if s > SLOW_SECONDS), reverse=True)
    if slow:
        terminalreporter.section("tests of the fast tier that took seconds")
        terminalreporter.line(f"over {SLOW_SECONDS:.0f} s without @pytest.mark.slow (make test-fast runs them):")
        for seconds, nodeid in slow:
            terminalreporter.line(f"  {seconds:.1f} s  {nodeid}")
