"""Running a CodeBuild project's buildspec as CodeBuild does, on this machine against the emulator.

The buildspec reference (version 0.2) and the CodeBuild action reference are followed: each
phase's commands run in one bash process (``env.shell: bash``), in phase order, and the shell's
variables carry over from one phase to the next as they do in CodeBuild's single shell instance
(only exported ones reach the processes a command starts: a buildspec that needs a variable in a
child process, such as a python3 reading os.environ, must export it; the rehearsal does not do it
for the buildspec, so a missing export fails here rather than on AWS); a command that
exits non-zero fails its phase even without ``set -e``; a failed ``build`` phase still runs
``post_build``; variables come from ``env.variables`` (and ``env.parameter-store`` /
``env.secrets-manager``, read from the emulator by deployer.rehearsal_actions), then the project's
``Environment.EnvironmentVariables``, then the action's ``EnvironmentVariables`` (later wins, as a
start-build override does); ``env.exported-variables`` are read at the end; the output artifact is
``artifacts.base-directory`` + ``files`` (a path that matches nothing is skipped, as CodeBuild
does; no file at all fails the build).

What is not CodeBuild: the commands run on this machine, not in the project's image; ``docker`` is
deployer.rehearsal_docker's stand-in; ``sleep`` is shortened (the emulator completes every
operation at once, so a release's wait loops need no real waiting); the AWS CLI is the real one
(.venv/bin/aws, which honours AWS_ENDPOINT_URL) with fake credentials, reaching only the emulator;
absolute paths outside CODEBUILD_SRC_DIR (the buildspecs' /tmp files) are this machine's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .rehearsal_model import RehearsalInputError, StepFailedError

PHASES = ("install", "pre_build", "build", "post_build")
SLEEP_SECONDS = "0.05"
MAX_BUILD_SECONDS = 900
TAIL_LINES = 25

_SAVE_STATE = r"""
__rh_save() {
  local __rh_n
  for __rh_n in $(compgen -v); do
    case "$__rh_n" in
      BASH*|FUNCNAME|PIPESTATUS|LINENO|RANDOM|SRANDOM|SECONDS|EPOCH*|SHELLOPTS|EUID|UID|PPID|HISTCMD|GROUPS) ;;
      DIRSTACK|OPTIND|OPTARG|OPTERR|PWD|OLDPWD|SHLVL|_|__rh_*|__RH_*|IFS|PS[0-9]|COLUMNS|LINES|HOSTNAME) ;;
      HOSTTYPE|MACHTYPE|OSTYPE|COMP_WORDBREAKS) ;;
      *) declare -p "$__rh_n" 2>/dev/null || true ;;
    esac
  done > "$__RH_STATE"
  for __rh_n in $__RH_EXPORT_NAMES; do
    [ -n "${!__rh_n+set}" ] && printf '%s\0%s\0' "$__rh_n" "${!__rh_n}"
  done > "$__RH_EXPORTS"
  return 0
}
"""


@dataclass
class Workspace:
    """The rehearsal's work folder: stand-ins on PATH, a private HOME, artifacts, build logs."""

    root: Path
    endpoint: str
    region: str
    scan_findings: str  # "clean" or "high"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def pushes_log(self) -> Path:
        return self.root / "pushes.jsonl"

    @property
    def sleeps_log(self) -> Path:
        return self.root / "sleeps.log"

    def setup(self) -> None:
        for name in ("bin", "home", "artifacts", "builds", "source"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        docker = self.bin / "docker"
        docker.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m deployer.rehearsal_docker "$@"\n')
        sleep = self.bin / "sleep"
        real = shutil.which("sleep") or "/bin/sleep"
        sleep.write_text(f'#!/bin/sh\necho "$*" >> "{self.sleeps_log}"\nexec "{real}" {SLEEP_SECONDS}\n')
        for tool in (docker, sleep):
            tool.chmod(0o755)

    def artifact(self, name: str) -> Path:
        return self.root / "artifacts" / name

    def pushes(self) -> list[dict[str, Any]]:
        if not self.pushes_log.is_file():
            return []
        return [json.loads(line) for line in self.pushes_log.read_text().splitlines() if line.strip()]

    def sleeps(self) -> list[str]:
        return self.sleeps_log.read_text().splitlines() if self.sleeps_log.is_file() else []

    def environment(self) -> dict[str, str]:
        """The build's base environment: stand-ins and the virtualenv's AWS CLI first on PATH, fake
        credentials, no AWS configuration from this machine, the emulator as the endpoint."""
        venv_bin = str(Path(sys.executable).parent)
        return {
            "PATH": os.pathsep.join([str(self.bin), venv_bin, os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOME": str(self.root / "home"),
            "LANG": "C.UTF-8",
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "REHEARSAL_SCAN_FINDINGS": self.scan_findings,
            "REHEARSAL_PUSHES": str(self.pushes_log),
            "PYTHONDONTWRITEBYTECODE": "1",
        }


@dataclass
class BuildResult:
    commands: int
    exported: dict[str, str]
    files: list[str]
    log: Path


def parse_buildspec(text: str, where: str) -> dict[str, Any]:
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RehearsalInputError(f"{where}: the buildspec is not YAML ({exc})") from None
    if not isinstance(spec, dict) or str(spec.get("version")) != "0.2":
        raise RehearsalInputError(f"{where}: only buildspec version 0.2 is rehearsed (one shell per build)")
    shell = (spec.get("env") or {}).get("shell", "bash")
    if shell not in ("bash", "sh", "/bin/sh", "/bin/bash"):
        raise RehearsalInputError(f"{where}: env.shell {shell!r} is not rehearsed (bash and sh are)")
    return spec


def _phase_script(commands: list[str]) -> str:
    lines = [
        "#!/bin/bash",
        _SAVE_STATE,
        "trap '__rh_rc=$?; __rh_save; exit $__rh_rc' EXIT",
        'if [ -f "$__RH_STATE" ]; then source "$__RH_STATE" 2>/dev/null || true; fi',
        'cd "$CODEBUILD_SRC_DIR"',
    ]
    for number, command in enumerate(commands, 1):
        lines += [f'printf %s {number} > "$__RH_AT"', str(command).rstrip("\n")]
        # CodeBuild fails the phase when a command exits non-zero, set -e or not.
        lines.append('__rh_rc=$?; if [ "$__rh_rc" -ne 0 ]; then exit "$__rh_rc"; fi')
    return "\n".join(lines) + "\n"


def _tail(log: Path) -> str:
    lines = log.read_text(errors="replace").splitlines()[-TAIL_LINES:]
    return "\n".join("    | " + line for line in lines)


def _exports(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    items = path.read_text(errors="replace").split("\0")
    return {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2)}


def run_buildspec(
    ws: Workspace,
    spec: dict[str, Any],
    source: Path,
    variables: dict[str, str],
    label: str,
    output: Path | None,
    timeout: float = MAX_BUILD_SECONDS,
) -> BuildResult:
    """Run the buildspec in a copy of ``source`` (CODEBUILD_SRC_DIR) with the project's and the
    action's ``variables``; copy the artifact files to ``output`` (the output artifact's folder)
    and return them with the exported variables. Raises StepFailedError."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
    folder = ws.root / "builds" / slug
    shutil.rmtree(folder, ignore_errors=True)
    src = folder / "src"
    shutil.copytree(source, src)
    env_section = spec.get("env") or {}
    exported_names = [str(n) for n in env_section.get("exported-variables") or []]
    env = ws.environment()
    env.update({str(k): str(v) for k, v in (env_section.get("variables") or {}).items()})
    env.update(variables)
    env.update(
        CODEBUILD_SRC_DIR=str(src),
        CODEBUILD_BUILD_ID=f"{slug}:{uuid.uuid4()}",
        __RH_STATE=str(folder / "state.sh"),
        __RH_EXPORTS=str(folder / "exports"),
        __RH_AT=str(folder / "at"),
        __RH_EXPORT_NAMES=" ".join(exported_names),
    )
    log = folder / "build.log"
    phases = spec.get("phases") or {}
    ran, failure = 0, None
    for phase in PHASES:
        commands = (phases.get(phase) or {}).get("commands") or []
        if not commands or (failure and phase != "post_build"):
            continue
        script = folder / f"{phase}.sh"
        script.write_text(_phase_script([str(c) for c in commands]))
        (folder / "at").unlink(missing_ok=True)
        with log.open("a") as out:
            out.write(f"[rehearsal] phase {phase}\n")
            out.flush()
            try:
                proc = subprocess.run(
                    ["bash", "--noprofile", "--norc", str(script)],
                    env=env, cwd=src, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False,
                )  # fmt: skip
                code = proc.returncode
            except subprocess.TimeoutExpired:
                code = 124
        at = (folder / "at").read_text() if (folder / "at").is_file() else "0"
        ran += int(at or 0)
        if code and not failure:
            index = int(at or 1) - 1
            command = str(commands[index]) if 0 <= index < len(commands) else "?"
            failure = (phase, command, code)
    if failure:
        phase, command, code = failure
        first = command.strip().splitlines()[0] if command.strip() else command
        reason = f"phase {phase}, command `{first}` exited {code}" + (" (timed out)" if code == 124 else "")
        raise BuildFailedError(label, reason, command, _tail(log))
    files = collect_artifacts(spec, src, output, label)
    return BuildResult(ran, {k: v for k, v in _exports(folder / "exports").items() if k in exported_names}, files, log)


class BuildFailedError(StepFailedError):
    def __init__(self, label: str, reason: str, command: str, tail: str):
        super().__init__(label, reason, "buildspec")
        self.command, self.tail = command, tail


def collect_artifacts(spec: dict[str, Any], src: Path, dest: Path | None, label: str) -> list[str]:
    """The buildspec's artifact files (relative to base-directory); copied into ``dest`` when given."""
    artifacts = spec.get("artifacts") or {}
    patterns = [str(p) for p in artifacts.get("files") or []]
    if not patterns:
        return []
    base = src / str(artifacts.get("base-directory", "."))
    found: list[str] = []
    for pattern in patterns:
        for path in sorted(base.glob(pattern)):
            if path.is_file():
                found.append(str(path.relative_to(base)))
    if not found:
        raise StepFailedError(label, "CLIENT_ERROR: no matching artifact paths found", "buildspec")
    if dest is not None:
        shutil.rmtree(dest, ignore_errors=True)
        for name in found:
            target = dest / (Path(name).name if artifacts.get("discard-paths") in (True, "yes") else name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(base / name, target)
    return found
