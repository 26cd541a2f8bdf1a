"""What every command shares: the manifest, AWS clients, options, the waiter and confirmation."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from . import UserError
from .aws import Aws
from .changesets import Options, Planner
from .manifest import Manifest
from .waiting import Waiter


@dataclass
class Context:
    manifest: Manifest
    aws: Aws
    options: Options
    waiter: Waiter
    yes: bool = False
    detailed_exitcode: bool = False

    def __post_init__(self):
        self.planner = Planner(self.aws, self.manifest, self.options, self.waiter)

    @property
    def env(self) -> str:
        return self.manifest.env

    def watch_command(self, names: list[str] | None = None) -> str:
        if self.options.ephemeral:
            return (
                "nothing: the emulator started by --local stops with this command (start moto yourself and "
                "use --local-endpoint to keep stacks between commands)"
            )
        stacks = "".join(f" --stack {n}" for n in names or [])
        local = " (on the same endpoint)" if self.options.emulator else ""
        return f"fargate-deploy status --env {self.env}{stacks}{local}"

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
