"""Small helpers shared by the tests: run the generator and the lint gate, copy params, read templates.

``generate`` and ``lint`` call the programs' main functions in-process (no interpreter start, no
re-import of troposphere, cfn-lint or checkov per call) and return what a subprocess would: the
exit code and the output. ``generate_script``, ``console_script`` and ``run_lint`` run the real
command lines, for the few tests about the command line itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
PARAMS = ROOT / "params"
BIN = Path(sys.executable).parent


def call_main(main: Callable[[list[str]], int], args: list[str]) -> subprocess.CompletedProcess:
    """A program's main(argv) in this process, read back like a finished subprocess."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            code = main(args)
        except SystemExit as exit_:  # argparse exits on --help and on bad usage
            code = exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    return subprocess.CompletedProcess(args, code, stdout.getvalue(), stderr.getvalue())


def generate(*args: str) -> subprocess.CompletedProcess:
    """The generator as generate.py runs it (params/ and out/ beside it unless the arguments say otherwise)."""
    from blueprints import cli

    return call_main(lambda argv: cli.main(argv, root=ROOT), list(args))


def lint(*args: str) -> subprocess.CompletedProcess:
    """The lint gate (fargate-lint) with these arguments."""
    from lintgate import cli

    return call_main(cli.main, list(args))


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)


def generate_script(*args: str) -> subprocess.CompletedProcess:
    """`python generate.py ...`: the script in the repository root."""
    return _run([sys.executable, str(ROOT / "generate.py"), *args])


def console_script(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """An installed console script (fargate-generate, fargate-lint, ...), as make runs it."""
    return _run([str(BIN / name), *args], env)


def run_lint(*args: str) -> subprocess.CompletedProcess:
    """The lint gate's console script, as `make lint` runs it."""
    return console_script("fargate-lint", *args)


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def copy_params(tmp_path: Path, envs: tuple[str, ...] = ("dev",)) -> Path:
    """A private copy of some sample parameter files, for tests that edit them."""
    target = tmp_path / "params"
    target.mkdir()
    for env in envs:
        shutil.copy(PARAMS / f"{env}.yaml", target / f"{env}.yaml")
    return target


def edit_params(path: Path, change) -> None:
    """Load a params YAML file, let ``change(data)`` edit it, and write it back."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def template(env: str, stack: str) -> dict:
    return json.loads((OUT / env / f"{stack}.json").read_text())


def environments(engine: str | None = None) -> list[str]:
    """Sample environments, optionally only those whose service.deployment_engine is ``engine``."""
    names = sorted(p.stem for p in PARAMS.glob("*.yaml"))
    if engine is None:
        return names
    return [
        n
        for n in names
        if (yaml.safe_load((PARAMS / f"{n}.yaml").read_text())["service"].get("deployment_engine") or "codedeploy")
        == engine
    ]


def resources(body: dict, kind: str) -> dict:
    """Properties of every resource of one type, by logical ID."""
    return {k: v["Properties"] for k, v in body["Resources"].items() if v["Type"] == kind}


def role_statements(body: dict):
    """(role logical ID, statement) for every statement of every inline policy of every role."""
    for name, props in resources(body, "AWS::IAM::Role").items():
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield name, statement
