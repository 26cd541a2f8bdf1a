"""Building several environments at once: one forked worker per further CPU this process may use.

Environments are independent (each is a function of its own validated config), so their files can be
built in separate processes and gathered in order; the result is the same bytes as building them one
after another (``tests/test_generate_parallel.py``). ``fork`` is used, not ``multiprocessing``:
after the imports and the first environment (built before forking, so what it loads and compiles,
jinja2 templates included, is shared), a child starts in about a millisecond and needs nothing
pickled but its results. Without ``os.fork`` (Windows) or with one CPU, or ``--jobs 1``, it is a
plain loop.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import traceback
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class WorkerError(RuntimeError):
    """A worker process failed: its traceback, as text (the original exception is chained when it
    could be sent back)."""


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def build_each(
    build: Callable[[Item], Result], items: Sequence[Item], weight: Callable[[Item], int], jobs: int | None = None
) -> list[Result]:
    """``[build(item) for item in items]``, spread over up to ``jobs`` processes (default: the CPUs)."""
    jobs = available_cpus() if jobs is None else jobs
    if jobs < 2 or len(items) < 3 or not hasattr(os, "fork"):
        return [build(item) for item in items]
    results: dict[int, Result] = {0: build(items[0])}
    shares = _shares(list(range(1, len(items))), [weight(item) for item in items], jobs)
    pending = [_fork(build, items, share) for share in shares[1:]]
    try:
        for index in shares[0]:
            results[index] = build(items[index])
        while pending:
            results.update(_collect(*pending.pop(0)))
    except BaseException:
        _abandon(pending)
        raise
    return [results[index] for index in range(len(items))]


def _shares(indexes: list[int], weights: list[int], jobs: int) -> list[list[int]]:
    """Indexes split into at most ``jobs`` shares of about equal weight (heaviest first, each to
    the lightest share so far); the first share is the parent's."""
    shares: list[list[int]] = [[] for _ in range(min(jobs, len(indexes)))]
    loads = [0] * len(shares)
    for index in sorted(indexes, key=lambda i: (-weights[i], i)):
        lightest = loads.index(min(loads))
        shares[lightest].append(index)
        loads[lightest] += weights[index]
    return [sorted(share) for share in shares]


def _abandon(children: list[tuple[int, int]]) -> None:
    """After a failure in the parent: no child is left blocked on a pipe nobody reads, or unreaped.
    (``children`` are those whose pipe ``_collect`` has not closed.)"""
    for pid, reader in children:
        with contextlib.suppress(OSError):
            os.close(reader)  # a child still writing gets EPIPE and leaves
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _fork(build: Callable[[Item], Result], items: Sequence[Item], share: list[int]) -> tuple[int, int]:
    reader, writer = os.pipe()
    pid = os.fork()
    if pid:
        os.close(writer)
        return pid, reader
    # The child: whatever happens, it leaves through os._exit, so no parent cleanup (atexit, pytest,
    # buffered output) runs twice.
    try:
        os.close(reader)
        try:
            payload = pickle.dumps(("ok", [(index, build(items[index])) for index in share]))
        except BaseException as exc:
            text = traceback.format_exc()
            try:
                payload = pickle.dumps(("error", (exc, text)))
            except Exception:
                payload = pickle.dumps(("error", (None, text)))
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(0)


def _collect(pid: int, reader: int) -> list[tuple[int, Result]]:
    with os.fdopen(reader, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not payload or os.waitstatus_to_exitcode(status) != 0:
        raise WorkerError(f"a build worker (pid {pid}) ended without its results (exit status {status})")
    kind, value = pickle.loads(payload)
    if kind == "ok":
        done: list[tuple[int, Result]] = value
        return done
    exc, text = value
    error = WorkerError(f"building in a worker process failed:\n{text}")
    if isinstance(exc, BaseException):
        raise exc from error
    raise error
