"""apply of several environments at once (``--env A --env B`` or ``--all``).

Every environment is planned and judged as ``apply`` does it alone, at the same time as the others,
its lines prefixed with ``[ENV]``; one confirmation covers every change; then the environments
are applied in parallel, the stacks of each in dependency order (the scheduler). All of them share
one waiter (Ctrl-C stops every wait), one bound on concurrent stack operations
(context.STACK_SLOTS) and one set of AWS clients (aws.Aws.sharing). The exit code is the worst of the
environments'.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from . import OK
from .commands import prepare_apply
from .context import Context
from .plans import Plan
from .reporter import Reporter
from .scheduler import execute_all
from .waiting import WaitInterruptedError

T = TypeVar("T")


def _each(contexts: list[Context], work: Callable[[Context], T]) -> list[T]:
    """work(ctx) for every environment at once, in the given order; Ctrl-C stops every wait."""
    pool = ThreadPoolExecutor(max_workers=len(contexts))
    futures = [pool.submit(work, ctx) for ctx in contexts]
    try:
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        for ctx in contexts:
            ctx.waiter.stop.set()
        raise WaitInterruptedError([]) from None
    finally:
        pool.shutdown(wait=True)


def apply_all(contexts: list[Context], reporter: Reporter) -> int:
    """Plan every environment, confirm once, apply every environment; the worst exit code.
    ``reporter`` writes what concerns them all (the contexts' reporters prefix their environment)."""
    prepared = _each(contexts, prepare_apply)
    codes = [result for result in prepared if isinstance(result, int)]
    ready: list[tuple[Context, list[Plan], list[Plan]]] = [
        (ctx, result[0], result[1]) for ctx, result in zip(contexts, prepared, strict=True) if isinstance(result, tuple)
    ]
    if not ready:
        return max(codes, default=OK)
    first = contexts[0]
    counts = ", ".join(f"{len(todo)} of {ctx.env}" for ctx, todo, _ in ready)
    total = sum(len(todo) for _, todo, _ in ready)
    try:
        confirmed = first.confirm(f"Apply changes to {total} stack(s) ({counts})?")
    except Exception:
        for ctx, todo, _ in ready:
            for p in todo:
                ctx.planner.discard(p)
        raise
    if not confirmed:
        reporter.say("Not applied.")
        for ctx, todo, _ in ready:
            for p in todo:
                ctx.planner.discard(p)
        return max(codes, default=OK)
    runs = {id(ctx): run for ctx, _, run in ready}
    applied = _each([ctx for ctx, _, _ in ready], lambda ctx: execute_all(ctx, runs[id(ctx)]))
    return max([*codes, *applied])
