"""The stale guard of plan and apply: is out/<env>/ what params/ generates today?

The deployer imports nothing of the generator (see tests/test_layout.py), so it asks the generator's
own program: ``fargate-generate --check --cached --env ENV --out-dir OUT --params-dir PARAMS``, the console
script installed next to this Python. That needs params/ beside out/ (the project's layout); a
hand-off team's out/ tree has none, and the check is then skipped with a note saying why.

``Pending`` starts that process and returns at once, so that apply's read-only look at the deployed
stacks (deployer.up_to_date) runs meanwhile; cli waits for the result before anything is shown or changed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import UserError

GENERATOR = "fargate-generate"
CHECK_TIMEOUT = 300.0
# fargate-generate --check prints one line per difference: "stale:   out/dev/service.json" (also missing:, extra:).
DIFFERENCE = re.compile(r"^(stale|missing|extra):\s+(\S.*)$")


@dataclass
class Staleness:
    """The check's result: ``skipped`` says why it did not run; ``differences`` are (kind, path)."""

    skipped: str | None = None
    differences: list[tuple[str, str]] = field(default_factory=list)
    problem: str | None = None  # the generator refused params/ (exit 2): its own words


def generator() -> Path | None:
    found = Path(sys.executable).parent / GENERATOR
    return found if found.exists() else None


def _shown(path: str, out: Path) -> str:
    """A path as the project sees it (out/dev/service.json), relative to the folder holding out/."""
    try:
        return str(Path(path).resolve().relative_to(out.resolve().parent))
    except ValueError:
        return path


def _skipped(out: Path, env: str) -> str | None:
    """Why out/<env>/ cannot be checked (see the module docstring), or None."""
    params = out.resolve().parent / "params"
    if not params.is_dir():
        return f"no params/ beside {out}/ (an out/ tree handed over on its own)"
    if generator() is None:
        return f"{GENERATOR} is not installed next to {sys.executable}"
    if not (params / f"{env}.yaml").exists():
        return f"no {params.name}/{env}.yaml: {env} is not generated from this params/"
    return None


def _start(out: Path, envs: list[str]) -> subprocess.Popen[str]:
    """The generator's check of ``envs``, started (see _finish)."""
    # --cached: when every input and out/ are as the generator's last run recorded, it answers from that
    # record (~50 ms) instead of building every template again (~0.5 s); CI's own check never uses it.
    command = [str(generator()), "--check", "--cached", *(a for env in envs for a in ("--env", env))]
    command += ["--out-dir", str(out), "--params-dir", str(out.resolve().parent / "params")]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen[str], out: Path) -> tuple[int, list[str], list[tuple[str, str]]]:
    """(exit code, its lines, the differences found as (kind, path)) of a started check, as subprocess.run
    would give them (on a timeout the process is killed and TimeoutExpired raised)."""
    try:
        stdout, stderr = process.communicate(timeout=CHECK_TIMEOUT)
    except BaseException:
        process.kill()
        process.wait()
        raise
    lines = (stdout + stderr).splitlines()
    return process.returncode, lines, [(m[1], _shown(m[2].strip(), out)) for m in map(DIFFERENCE.match, lines) if m]


def _judged(code: int, lines: list[str], found: list[tuple[str, str]]) -> Staleness:
    if code == 0:
        return Staleness()
    if code == 1 and found:
        return Staleness(differences=found)
    detail = "; ".join(line.strip() for line in lines if line.strip())[:500] or f"exit code {code}"
    return Staleness(problem=detail)


def check(out: Path, env: str) -> Staleness:
    skipped = _skipped(out, env)
    if skipped:
        return Staleness(skipped=skipped)
    return _judged(*_finish(_start(out, [env]), out))


class Pending:
    """The check of every environment of a command, started: one generator run for them all, while
    the caller does other work (apply's read-only look, deployer.up_to_date); ``result`` waits for it.
    As a context manager, it stops the generator when the block fails."""

    def __init__(self, out: Path, envs: list[str]):
        self.out, self.envs = out, envs
        self.checked = [env for env in envs if not _skipped(out, env)]
        self._process = _start(out, self.checked) if self.checked else None

    def __enter__(self) -> Pending:
        return self

    def __exit__(self, *failed: object) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def result(self) -> dict[str, Staleness]:
        """check() of each environment. An environment skipped, or one the shared run cannot answer for,
        gets check() of its own (for a skip: its reason; for a refused params/: its own words)."""
        judged = self._shared(self._process) if self._process is not None else {}
        return {env: judged[env] if env in judged else check(self.out, env) for env in self.envs}

    def _shared(self, process: subprocess.Popen[str]) -> dict[str, Staleness]:
        """What the one run says of each checked environment: all of it for a single one; for several,
        only when it found every one current or only differences each in its environment's folder
        (params/<env>.yaml generates out/<env>/), else nothing."""
        code, lines, found = _finish(process, self.out)
        if len(self.checked) == 1:
            return {self.checked[0]: _judged(code, lines, found)}
        by_env: dict[str, list[tuple[str, str]]] = {env: [] for env in self.checked}
        for kind, path in found:
            by_env.get(Path(path).parent.name, []).append((kind, path))
        if code == 0 or (code == 1 and found and sum(map(len, by_env.values())) == len(found)):
            return {env: Staleness(differences=differences) for env, differences in by_env.items()}
        return {}


def guard(out: Path, env: str, allow_stale: bool, result: Staleness | None = None) -> str | None:
    """Raise UserError (exit 2) when out/<env>/ is stale and stale is not allowed; else a note or None.
    ``result``: out/<env>/'s check when already made (Pending.result)."""
    result = result or check(out, env)
    if result.skipped:
        return f"note: out/ was not checked against params/ ({result.skipped})"
    if result.problem:
        if allow_stale:
            return f"note: --allow-stale: params/ does not generate ({result.problem})"
        raise UserError(
            f"{out}/{env} cannot be checked against params/: {result.problem}. Fix params/ and run `make generate` "
            "(or pass --allow-stale to deploy out/ as it stands)"
        )
    if not result.differences:
        return None
    files = ", ".join(f"{path} ({kind})" for kind, path in result.differences)
    if allow_stale:
        return f"note: --allow-stale: deploying out/ as it stands, although params/ now generates otherwise: {files}"
    raise UserError(
        f"{out}/{env} is stale against params/: {files}. Run `make generate` (fargate-generate --env {env}) and "
        "review the diff, or pass --allow-stale to deploy out/ as it stands"
    )
