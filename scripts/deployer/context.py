"""What every command shares: the manifest, the deployment target and its clients, options, the
waiter, the reporter and confirmation."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

from . import UserError
from .aws import Aws
from .changesets import Options, Planner
from .manifest import Manifest
from .provider import AwsProvider, Provider
from .reporter import Reporter
from .waiting import Waiter

# Stack operations (planning one stack, executing one change set) under way at once, across every
# environment of one command: the shared bound on concurrent CloudFormation work.
STACK_SLOTS = 8


@dataclass
class Context:
    manifest: Manifest
    aws: Aws
    options: Options
    waiter: Waiter
    yes: bool = False
    detailed_exitcode: bool = False
    provider: Provider = field(default_factory=AwsProvider)
    reporter: Reporter = field(default_factory=Reporter)
    slots: threading.Semaphore = field(default_factory=lambda: threading.BoundedSemaphore(STACK_SLOTS))

    def __post_init__(self) -> None:
        self.planner = Planner(self.aws, self.manifest, self.options, self.waiter, self.provider, self.reporter)

    @property
    def env(self) -> str:
        return self.manifest.env

    def watch_command(self, names: list[str] | None = None) -> str:
        stacks = "".join(f" --stack {n}" for n in names or [])
        return self.provider.watch_advice(f"fargate-deploy status --env {self.env}{stacks}")

    def confirm(self, question: str) -> bool:
        """--yes answers yes; without a terminal there is no one to ask, so refuse (exit 2)."""
        if self.yes:
            return True
        if not sys.stdin.isatty():
            raise UserError(f"{question.rstrip('?')}: confirmation needed, but there is no terminal; pass --yes")
        try:
            return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
        except EOFError:
            return False
