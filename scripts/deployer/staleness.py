"""The stale guard of plan and apply: is out/<env>/ what params/ generates today?

The deployer imports nothing of the generator (see tests/test_layout.py), so it asks the generator's
own program: ``fargate-generate --check --env ENV --out-dir OUT --params-dir PARAMS``, the console
script installed next to this Python. That needs params/ beside out/ (the project's layout); a
hand-off team's out/ tree has none, and the check is then skipped with a note saying why.
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


def check(out: Path, env: str) -> Staleness:
    params = out.resolve().parent / "params"
    if not params.is_dir():
        return Staleness(skipped=f"no params/ beside {out}/ (an out/ tree handed over on its own)")
    exe = generator()
    if exe is None:
        return Staleness(skipped=f"{GENERATOR} is not installed next to {sys.executable}")
    if not (params / f"{env}.yaml").exists():
        return Staleness(skipped=f"no {params.name}/{env}.yaml: {env} is not generated from this params/")
    command = [str(exe), "--check", "--env", env, "--out-dir", str(out), "--params-dir", str(params)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CHECK_TIMEOUT, check=False)
    if done.returncode == 0:
        return Staleness()
    lines = (done.stdout + done.stderr).splitlines()
    found = [(m[1], _shown(m[2].strip(), out)) for m in map(DIFFERENCE.match, lines) if m]
    if done.returncode == 1 and found:
        return Staleness(differences=found)
    detail = "; ".join(line.strip() for line in lines if line.strip())[:500] or f"exit code {done.returncode}"
    return Staleness(problem=detail)


def guard(out: Path, env: str, allow_stale: bool) -> str | None:
    """Raise UserError (exit 2) when out/<env>/ is stale and stale is not allowed; else a note or None."""
    result = check(out, env)
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
