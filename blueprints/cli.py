"""``fargate-generate`` (and ``python generate.py``): plain CloudFormation JSON for every
environment in params/ into out/.

    fargate-generate                   write out/<env>/ for every params/<env>.yaml
    fargate-generate --env dev         only dev (repeat --env for more)
    fargate-generate --check           write nothing; exit 1 listing stale, missing and extra files
    fargate-generate --no-cache        build even when nothing changed since the last run
    fargate-generate --check --cached  as --check, but trust the last run's record of unchanged inputs

params/ and out/ are those of the current directory unless --params-dir / --out-dir say
otherwise (``python generate.py`` uses the ones beside it).

Each environment gets one template per stack (<stack>.json), the static parameter values
in the AWS CLI's --parameters file format (<stack>.parameters.json) and a manifest
(stacks.json) that the deployer reads. Output is byte-identical from run to run.

Every parameter file is validated before anything is written: a bad file is reported
(file, key, value, what is allowed) with exit code 2, and out/ is left untouched.

A run where no input changed (params, the blueprints package, library versions, out/ itself)
stops early: see ``blueprints.fastpath``. The heavy modules (troposphere, pydantic, jinja2) are
imported only past that point.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import fastpath

# Not typing.TYPE_CHECKING: the no-change fast path imports nothing it does not need (typing ~2 ms).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .config import EnvironmentConfig

EXIT_STALE = 1
EXIT_BAD_INPUT = 2


def parse_args(argv: list[str] | None, root: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fargate-generate",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Exit codes: 0 done (or up to date with --check); 1 --check found differences; 2 bad input.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env",
        action="append",
        metavar="NAME",
        help="environment to generate (params/NAME.yaml); repeatable; default: all",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare out/ with what would be generated; write nothing; exit 1 on any difference",
    )
    parser.add_argument(
        "--cached",
        action="store_true",
        help=(
            "with --check: answer from the record of the last run (.cache/generate/ beside params/) when every "
            "input and out/ are as it recorded (the deployer's stale guard; CI checks without it)"
        ),
    )
    parser.add_argument("--params-dir", type=Path, default=root / "params", help="default: params/")
    parser.add_argument("--out-dir", type=Path, default=root / "out", help="default: out/")
    parser.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        metavar="N",
        help="environments built at once, in N processes (default: the CPUs this process may use)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    parser.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        help="always build, even when no input changed since the last run (.cache/generate/)",
    )
    return parser.parse_args(argv)


def _jobs(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, 1 or more; got {text!r}")
    return int(text)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def select_files(params_dir: Path, names: list[str] | None) -> list[Path]:
    from .config import ParamsError

    available = {p.stem: p for p in sorted(params_dir.glob("*.yaml"))}
    if not available:
        raise ParamsError([f"{_shown(params_dir)}: no parameter files (*.yaml) found"])
    if not names:
        return list(available.values())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ParamsError([f"--env: unknown environment {n!r} (available: {', '.join(available)})" for n in unknown])
    return [available[n] for n in dict.fromkeys(names)]


def build_all(paths: list[Path], jobs: int | None = None) -> dict[str, dict[str, str]]:
    """Validate every file first, then build: {env: {file name: text}}. Raises ParamsError."""
    from . import environment, parallel
    from .config import ParamsError, load_environment

    configs: list[EnvironmentConfig] = []
    problems: list[str] = []
    for path in paths:
        try:
            configs.append(load_environment(path, _shown(path)))
        except ParamsError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ParamsError(problems)
    built = parallel.build_each(environment.files, configs, weight=lambda c: max(1, len(c.members())), jobs=jobs)
    return {config.environment: files for config, files in zip(configs, built, strict=True)}


def differences(out_dir: Path, built: dict[str, dict[str, str]], everything: bool) -> list[str]:
    found = []
    for env, files in built.items():
        env_dir = out_dir / env
        for name, text in files.items():
            path = env_dir / name
            if not path.exists():
                found.append(f"missing: {_shown(path)}")
            elif path.read_bytes() != text.encode("utf-8"):
                found.append(f"stale:   {_shown(path)}")
        if env_dir.is_dir():
            found += [f"extra:   {_shown(p)}" for p in sorted(env_dir.iterdir()) if p.name not in files]
    if everything and out_dir.is_dir():
        found += [f"extra:   {_shown(p)}" for p in sorted(out_dir.iterdir()) if p.name not in built]
    return found


def _write_atomic(path: Path, text: str) -> bool:
    import tempfile

    data = text.encode("utf-8")
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write(out_dir: Path, built: dict[str, dict[str, str]], everything: bool) -> list[str]:
    from . import manifest

    changed = []
    for env, files in built.items():
        for name, text in files.items():
            if _write_atomic(out_dir / env / name, text):
                changed.append(f"wrote   {_shown(out_dir / env / name)}")
        for extra in sorted((out_dir / env).iterdir()):
            if extra.name not in files and extra.is_file():
                extra.unlink()
                changed.append(f"removed {_shown(extra)}")
    if everything:
        for extra in sorted(out_dir.iterdir()):
            # Only an environment this tool wrote (it has a manifest) is removed, never a folder
            # --out-dir happened to contain.
            if extra.is_dir() and extra.name not in built and manifest.path_in(extra).is_file():
                for item in sorted(extra.iterdir()):
                    if item.is_file():
                        item.unlink()
                if not any(extra.iterdir()):
                    extra.rmdir()
                changed.append(f"removed {_shown(extra)}/")
    return changed


def main(argv: list[str] | None = None, root: Path | None = None) -> int:
    root = Path.cwd() if root is None else root
    args = parse_args(argv, root)
    use_cache = args.cache and not args.check
    if use_cache and fastpath.is_current(root, args.params_dir, args.out_dir, args.env):
        if not args.quiet:
            print("out/ already current")
        return 0
    # --check --cached: the record lives beside params/ whatever the caller's directory; a record of
    # every environment vouches for any selection of them.
    cached_check = args.check and args.cached and args.cache
    project = args.params_dir.resolve().parent
    if cached_check and any(
        fastpath.is_current(project, args.params_dir, args.out_dir, envs)
        for envs in ([args.env, None] if args.env else [None])
    ):
        if not args.quiet:
            print("out/ is current (as recorded by the last run, every input unchanged)")
        return 0
    # pydantic plugins (entry points of whatever else is installed) have no say in what is generated,
    # and looking them up reads every installed distribution's metadata (~5 ms). Documented switch:
    # https://docs.pydantic.dev/latest/concepts/plugins/#how-to-use-plugins
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    from .config import ParamsError

    try:
        built = build_all(select_files(args.params_dir, args.env), jobs=args.jobs)
    except ParamsError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        print(f"generate: nothing written ({len(exc.problems)} problem(s))", file=sys.stderr)
        return EXIT_BAD_INPUT
    everything = not args.env
    if args.check:
        found = differences(args.out_dir, built, everything)
        if found:
            print("\n".join(found))
            print("out/ is not current: run `make generate` (fargate-generate) and commit out/.", file=sys.stderr)
            return EXIT_STALE
        if cached_check:
            fastpath.record(project, args.params_dir, args.out_dir, args.env)
        if not args.quiet:
            print(f"out/ is current ({sum(len(f) for f in built.values())} files, {len(built)} environments)")
        return 0
    changed = write(args.out_dir, built, everything)
    if use_cache:
        fastpath.record(root, args.params_dir, args.out_dir, args.env)
    if not args.quiet:
        print("\n".join(changed) if changed else "out/ already current")
    return 0
