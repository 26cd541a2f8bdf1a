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


def _run(out: Path, envs: list[str]) -> tuple[int, list[str], list[tuple[str, str]]]:
    """One generator run over ``envs``: (exit code, its lines, the differences found as (kind, path))."""
    command = [str(generator()), "--check", *(a for env in envs for a in ("--env", env))]
    command += ["--out-dir", str(out), "--params-dir", str(out.resolve().parent / "params")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CHECK_TIMEOUT, check=False)
    lines = (done.stdout + done.stderr).splitlines()
    return done.returncode, lines, [(m[1], _shown(m[2].strip(), out)) for m in map(DIFFERENCE.match, lines) if m]


def check(out: Path, env: str) -> Staleness:
    skipped = _skipped(out, env)
    if skipped:
        return Staleness(skipped=skipped)
    code, lines, found = _run(out, [env])
    if code == 0:
        return Staleness()
    if code == 1 and found:
        return Staleness(differences=found)
    detail = "; ".join(line.strip() for line in lines if line.strip())[:500] or f"exit code {code}"
    return Staleness(problem=detail)


def check_all(out: Path, envs: list[str]) -> dict[str, Staleness]:
    """check() of each environment, with one generator run for all of them when that run finds every
    one current or only differences (each file is in its environment's folder: params/<env>.yaml
    generates out/<env>/); otherwise (params/ refused) each is checked on its own, for its own words."""
    checked = [env for env in envs if not _skipped(out, env)]
    if len(checked) < 2:
        return {env: check(out, env) for env in envs}
    code, _, found = _run(out, checked)
    by_env: dict[str, list[tuple[str, str]]] = {env: [] for env in checked}
    for kind, path in found:
        by_env.get(Path(path).parent.name, []).append((kind, path))
    if code == 0 or (code == 1 and found and sum(map(len, by_env.values())) == len(found)):
        return {env: Staleness(differences=by_env[env]) if env in by_env else check(out, env) for env in envs}
    return {env: check(out, env) for env in envs}


def guard(out: Path, env: str, allow_stale: bool, result: Staleness | None = None) -> str | None:
    """Raise UserError (exit 2) when out/<env>/ is stale and stale is not allowed; else a note or None.
    ``result``: out/<env>/'s check when already made (check_all)."""
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
