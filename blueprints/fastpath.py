"""The no-change fast path of ``fargate-generate``: skip the build when nothing it reads has changed.

A run that wrote (or found current) out/ records a digest of everything the output depends on in
``.cache/generate/`` (beside params/ for ``generate.py``, else the current directory):

- the command's selection: params folder, out folder, ``--env`` names;
- the bytes of every parameter file (``*.yaml``) in the params folder;
- the bytes of every file of the installed ``blueprints`` package (sources and assets);
- the Python version and the installed versions of the libraries that shape the output
  (troposphere, awacs, pydantic, pydantic-core, jinja2, PyYAML), read from their dist-info names;
- the bytes of every file in the out/ environment folders the run covers (a file edited or removed
  by hand makes the next run a full one, which rewrites it), and the names of out/'s folders.

The next run with the same digest prints what a full run would and stops before importing
troposphere, pydantic or jinja2. Only the standard library is used here, on purpose.
``--check`` (CI) never uses it; ``--check --cached`` (the deployer's stale guard) answers from a
record kept beside params/ instead, and a full check there records; ``--no-cache`` turns both off.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

CACHE = Path(".cache") / "generate"
# Distributions (dist-info name prefixes, normalised) whose version can change the output.
LIBRARIES = ("troposphere", "awacs", "pydantic", "pydantic_core", "jinja2", "pyyaml")
IMPORT_NAMES = ("troposphere", "awacs", "pydantic", "pydantic_core", "jinja2", "yaml")
PACKAGE = Path(__file__).resolve().parent


def _versions() -> list[str]:
    """The dist-info folder names (name and version) of LIBRARIES, found beside their packages
    without importing them (importlib.metadata alone costs ~10 ms)."""
    from importlib.util import find_spec

    folders = set()
    for module in IMPORT_NAMES:
        spec = find_spec(module)
        if spec is not None and spec.origin:
            folders.add(Path(spec.origin).parent.parent)
    found = []
    for folder in sorted(folders):
        for name in os.listdir(folder):
            if name.endswith(".dist-info") and name.lower().split("-", 1)[0] in LIBRARIES:
                found.append(name.lower())
    return sorted(found)


def _files(folder: Path, pattern: str = "*") -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if p.is_file() and "__pycache__" not in p.parts)


def _add(digest: hashlib._Hash, label: str, data: bytes) -> None:
    digest.update(f"{label}\0{len(data)}\0".encode())
    digest.update(data)


def _out_state(digest: hashlib._Hash, out_dir: Path, envs: list[str] | None) -> None:
    if not out_dir.is_dir():
        _add(digest, "out", b"absent")
        return
    folders = sorted(p.name for p in out_dir.iterdir())
    _add(digest, "out", "\n".join(folders).encode())
    for env in envs if envs is not None else folders:
        env_dir = out_dir / env
        if env_dir.is_dir():
            for path in sorted(env_dir.iterdir()):
                _add(digest, f"out/{env}/{path.name}", path.read_bytes() if path.is_file() else b"<dir>")
        else:
            _add(digest, f"out/{env}", b"absent")


def digest(params_dir: Path, out_dir: Path, envs: list[str] | None) -> str:
    """The digest of every input of a run (see the module docstring), out/ as it is now."""
    digest = hashlib.sha256()
    _add(digest, "selection", repr((str(params_dir.resolve()), str(out_dir.resolve()), envs)).encode())
    _add(digest, "python", sys.version.encode())
    _add(digest, "versions", "\n".join(_versions()).encode())
    for path in _files(PACKAGE):
        _add(digest, f"package/{path.relative_to(PACKAGE).as_posix()}", path.read_bytes())
    for path in sorted(params_dir.glob("*.yaml")):
        _add(digest, f"params/{path.name}", path.read_bytes())
    _out_state(digest, out_dir, envs)
    return digest.hexdigest()


def _stamp(root: Path, params_dir: Path, out_dir: Path, envs: list[str] | None) -> Path:
    selection = repr((str(params_dir.resolve()), str(out_dir.resolve()), envs)).encode()
    return root / CACHE / f"{hashlib.sha256(selection).hexdigest()[:24]}.stamp"


def is_current(root: Path, params_dir: Path, out_dir: Path, envs: list[str] | None) -> bool:
    """True when the last recorded run had exactly these inputs and out/ is as it left it."""
    stamp = _stamp(root, params_dir, out_dir, envs)
    try:
        recorded = stamp.read_text()
    except OSError:
        return False
    return recorded == digest(params_dir, out_dir, envs)


def record(root: Path, params_dir: Path, out_dir: Path, envs: list[str] | None) -> None:
    """Remember this run's inputs (call after out/ was written). A cache that cannot be written is skipped."""
    stamp = _stamp(root, params_dir, out_dir, envs)
    try:
        stamp.parent.mkdir(parents=True, exist_ok=True)
        tmp = stamp.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(digest(params_dir, out_dir, envs))
        os.replace(tmp, stamp)
    except OSError:
        pass
