"""Where everything the user reads goes: one object per command, shared by its threads."""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class Reporter:
    """Writes whole lines, one caller at a time (stacks deploy in parallel threads, and their lines
    must not interleave). Without explicit streams it writes to sys.stdout and sys.stderr as they
    are at the time of writing, so a test's captured streams are honoured."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None):
        self._out, self._err = out, err
        self._lock = threading.Lock()
        self._prefix = ""

    def prefixed(self, prefix: str) -> Reporter:
        """A reporter to the same streams, one at a time with this one, that starts every line it
        writes (blank lines aside) with ``prefix``: several environments applied at once."""
        other = Reporter(self._out, self._err)
        other._lock, other._prefix = self._lock, prefix
        return other

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    @property
    def is_terminal(self) -> bool:
        """Whether the output is a terminal (and may carry colour)."""
        return self.out.isatty()

    def say(self, *lines: str) -> None:
        self._write(self.out, lines)

    def warn(self, *lines: str) -> None:
        """Errors and advice that belong on stderr."""
        self._write(self.err, lines)

    def _write(self, stream: TextIO, lines: tuple[str, ...]) -> None:
        with self._lock:
            for line in lines:
                stream.write((self._prefix + line if line and self._prefix else line) + "\n")
            stream.flush()
