"""checkov's CloudFormation checks for the gate: in this process (run_checkov) or in a worker that runs
while cfn-lint runs in the gate's process (start_checkov, then finish_checkov).

The worker is a fork of the gate's process when it can be (no interpreter to start, no second import of
this package), else a new interpreter (a caller with threads: forking those is unsafe). Either way it
runs exactly what run_checkov runs; tests/test_lint_speed.py compares their findings.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, Protocol

from .lean import lean_checkov

# One finding: (file as given on the command line, line, tool, rule, message).
Finding = tuple[str, int, str, str, str]
# What checkov reports: (file as checkov names it, line, check, message).
Record = tuple[str, int, str, str]


def shown_as(paths: list[Path]) -> dict[str, Path]:
    """Each path by its resolved form: the tools name files their own way; findings name them as given."""
    return {str(path.resolve()): path for path in paths}


@contextmanager
def _checkov_logging_silenced() -> Iterator[None]:
    """checkov logs warnings of its own on every run; only the findings are ours to show.

    Restored afterwards, so that a caller running the gate in-process (the tests) keeps its logging."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def checkov_reports(files: list[str]) -> list[Any]:
    """checkov's CloudFormation checks of these files: its reports (passed, failed and skipped checks)."""
    os.environ.setdefault("BC_SKIP_MAPPING", "TRUE")  # no network: don't fetch guideline links
    os.environ.setdefault("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
    with _checkov_logging_silenced():
        from checkov.cloudformation.runner import Runner
        from checkov.runner_filter import RunnerFilter

        result = Runner().run(
            root_folder=None,
            files=files,
            runner_filter=RunnerFilter(framework=["cloudformation"], show_progress_bar=False),
        )
    # Runner.run is typed to return one report or several; the CloudFormation runner returns one.
    return result if isinstance(result, list) else [result]


def _checkov_records(files: list[str]) -> list[Record]:
    """What the gate reports of checkov's checks of these files: failed checks and parsing errors."""
    records: list[Record] = []
    for report in checkov_reports(files):
        for record in report.failed_checks:
            line = record.file_line_range[0] if record.file_line_range else 1
            records.append(
                (
                    record.file_abs_path or record.file_path,
                    line,
                    record.check_id,
                    record.check_name + f" ({record.resource})",
                )
            )
        for problem in report.parsing_errors:
            records.append((problem, 1, "parse", "checkov could not parse the template"))
    return records


def _as_findings(records: list[Record], paths: list[Path]) -> list[Finding]:
    given = shown_as(paths)
    return [
        (str(given.get(str(Path(name).resolve()), name)), line, "checkov", rule, message)
        for name, line, rule, message in records
    ]


def run_checkov(paths: list[Path]) -> list[Finding]:
    """checkov in this process, as checkov itself runs (the gate runs it in a worker: start_checkov)."""
    return _as_findings(_checkov_records([str(p.resolve()) for p in paths]), paths)


def _worker_records(files: list[str]) -> list[Record]:
    # A short-lived process: the cyclic garbage collector's passes over checkov's many objects cost
    # more than the memory they would free before the process ends.
    gc.disable()
    lean_checkov()
    return _checkov_records(files)


def checkov_worker() -> None:
    """The worker as a new interpreter: checks the files on its command line, writes its records to stdout as JSON."""
    json.dump(_worker_records(sys.argv[1:]), sys.stdout)


class Worker(Protocol):
    """What the gate needs of a worker (a subprocess.Popen, or a _Fork)."""

    returncode: int | None

    def communicate(self) -> tuple[str, str]: ...

    def kill(self) -> None: ...


class _Fork:
    """checkov in a fork of this process; its records and its output are left in files, read at the end."""

    def __init__(self, files: list[str]):
        self.returncode: int | None = None
        # Files, not pipes: the fork never waits for the gate to read (which it does only after cfn-lint).
        self._records: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in communicate)
        self._output: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here may be written twice
            stream.flush()
        self.pid = os.fork()
        if self.pid == 0:
            self._child(files)

    def _child(self, files: list[str]) -> None:
        code = 1
        try:
            # Anything checkov prints goes with its output, never into the gate's findings or records.
            os.dup2(self._output.fileno(), 1)
            os.dup2(self._output.fileno(), 2)
            sys.stdout = sys.stderr = open(self._output.fileno(), "w", closefd=False)  # noqa: SIM115
            records = _worker_records(files)
            with open(self._records.fileno(), "w", closefd=False) as out:
                json.dump(records, out)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            # Leaves at once: the gate's own exit handlers and buffers (or a test runner's) are not the fork's.
            os._exit(code)

    def communicate(self) -> tuple[str, str]:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        texts = []
        for file in (self._records, self._output):
            file.seek(0)
            texts.append(file.read().decode(errors="replace"))
            file.close()
        return texts[0], texts[1]

    def kill(self) -> None:
        if self.returncode is None:
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


def start_checkov(paths: list[Path]) -> Worker:
    """checkov in a worker process, started before cfn-lint runs here: both take a core."""
    files = [str(p.resolve()) for p in paths]
    if hasattr(os, "fork") and threading.active_count() == 1:
        return _Fork(files)
    code = "from lintgate.checkov_gate import checkov_worker; checkov_worker()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *files], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_checkov(worker: Worker, paths: list[Path]) -> list[Finding]:
    out, err = worker.communicate()
    try:
        records = json.loads(out)
    except ValueError:
        records = None
    if worker.returncode != 0 or not isinstance(records, list):
        last = (err.strip().splitlines() or ["no output"])[-1]
        return [(str(p), 1, "checkov", "error", f"checkov failed (exit {worker.returncode}): {last}") for p in paths]
    return _as_findings([(str(n), int(line), str(r), str(m)) for n, line, r, m in records], paths)
