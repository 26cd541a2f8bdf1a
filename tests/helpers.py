"""Small helpers shared by the tests: run generate.py, copy params, read templates."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
PARAMS = ROOT / "params"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def generate(*args: str) -> subprocess.CompletedProcess:
    return run(str(ROOT / "generate.py"), *args)


def run_lint(*args: str) -> subprocess.CompletedProcess:
    """The lint gate's console script, as `make lint` runs it."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "fargate-lint"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


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
