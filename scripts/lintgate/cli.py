"""``fargate-lint``: lint CloudFormation templates with the project's configuration: cfn-lint and checkov.

    fargate-lint out/*/*.json           (make lint)
    fargate-lint --no-cache FILE        re-check even templates that passed before
                                        (LINT_NO_CACHE=1 does the same; CI sets it)

cfn-lint runs as a library with .cfnlintrc and the project rules of ``lintgate.rules``;
a template in out/<env>/ is checked against its environment's region (from stacks.json).
checkov runs its CloudFormation checks; a failed check must be fixed or skipped in the
resource's Metadata with a reason. Any finding of either tool (error, warning or
informational) makes the exit code 1. Every finding is one line, the same for both tools and
in file and line order: ``FILE:LINE: TOOL RULE MESSAGE``, for example

    out/dev/service.json:120: cfn-lint E3002 Additional properties are not allowed ...
    out/dev/service.json:45: checkov CKV_AWS_111 Ensure IAM policies ... (AWS::IAM::Role.BuildRole)

A template that passed is remembered under .cache/lint/ by a hash of its bytes, the tool
versions, the configuration and the project rules; an unchanged template is then skipped (that
check imports neither tool). The templates left are checked by both tools at once: checkov in a
worker process started first, cfn-lint in this one.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import subprocess
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from blueprints import manifest

# The project's lint configuration, beside the package (this file is scripts/lintgate/cli.py).
# The rules are found by path, not imported: importing them imports cfn-lint, which a run that
# finds every template unchanged never needs.
ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG = ROOT / ".cfnlintrc"
RULES = Path(__file__).resolve().parent / "rules"
CACHE = Path(".cache") / "lint"
DEFAULT_REGION = "us-east-1"


def is_template(path: Path) -> bool:
    """Parameter files and manifests also live in out/; only templates are linted."""
    return path.suffix == ".json" and not path.name.endswith(".parameters.json") and path.name != manifest.FILE_NAME


def region_of(path: Path) -> str:
    """The region of the template's environment (its manifest), else DEFAULT_REGION."""
    if manifest.path_in(path.parent).is_file():
        try:
            return manifest.read(path.parent).region or DEFAULT_REGION
        except manifest.ManifestError:
            pass
    return DEFAULT_REGION


def toolchain_fingerprint() -> str:
    """What besides a template's bytes decides its result: tool versions, config, rules, this file."""
    digest = hashlib.sha256()
    for package in ("cfn-lint", "checkov"):
        digest.update(f"{package}=={metadata.version(package)}\n".encode())
    for path in [CONFIG, Path(__file__).resolve(), *sorted(RULES.rglob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(path: Path, fingerprint: str) -> str:
    return hashlib.sha256(fingerprint.encode() + region_of(path).encode() + path.read_bytes()).hexdigest()


# One finding: (file as given on the command line, line, tool, rule, message).
Finding = tuple[str, int, str, str, str]


def shown_as(paths: list[Path]) -> dict[str, Path]:
    """Each path by its resolved form: the tools name files their own way; findings name them as given."""
    return {str(path.resolve()): path for path in paths}


def format_finding(finding: Finding) -> str:
    path, line, tool, rule, message = finding
    return f"{path}:{line}: {tool} {rule} {message}"


def run_cfn_lint(paths: list[Path]) -> list[Finding]:
    """One cfn-lint run per region (a template is checked against its environment's region)."""
    from cfnlint.api import lint_by_config

    config = cfn_lint_settings()
    by_region: dict[str, list[Path]] = {}
    for path in paths:
        by_region.setdefault(region_of(path), []).append(path)
    findings: list[Finding] = []
    for region, in_region in sorted(by_region.items()):
        given = shown_as(in_region)
        for m in lint_by_config({"templates": list(given), "regions": [region]} | config):
            shown = given.get(str(Path(m.filename).resolve()), m.filename)
            findings.append((str(shown), m.linenumber, "cfn-lint", m.rule.id, m.message))
    return findings


def cfn_lint_settings() -> dict[str, Any]:
    """The project's .cfnlintrc, as settings for cfn-lint's API (they override any .cfnlintrc it finds)."""
    import yaml

    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return config


@contextmanager
def _checkov_logging_silenced() -> Iterator[None]:
    """checkov logs warnings of its own on every run; only the findings are ours to show.

    Restored afterwards, so that a caller running the gate in-process (the tests) keeps its logging."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


def _checkov_records(files: list[str]) -> list[tuple[str, int, str, str]]:
    """checkov's CloudFormation checks of these files: (file as checkov names it, line, check, message)."""
    os.environ.setdefault("BC_SKIP_MAPPING", "TRUE")  # no network: don't fetch guideline links
    os.environ.setdefault("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false")
    with _checkov_logging_silenced():
        from checkov.cloudformation.runner import Runner
        from checkov.runner_filter import RunnerFilter

        result = Runner().run(
            root_folder=None,
            files=files,
            runner_filter=RunnerFilter(framework=["cloudformation"], show_progress_bar=False),
        )
    records: list[tuple[str, int, str, str]] = []
    # Runner.run is typed to return one report or several; the CloudFormation runner returns one.
    for report in result if isinstance(result, list) else [result]:
        for record in report.failed_checks:
            line = record.file_line_range[0] if record.file_line_range else 1
            records.append(
                (
                    record.file_abs_path or record.file_path,
                    line,
                    record.check_id,
                    record.check_name + f" ({record.resource})",
                )
            )
        for problem in report.parsing_errors:
            records.append((problem, 1, "parse", "checkov could not parse the template"))
    return records


def _as_findings(records: list[tuple[str, int, str, str]], paths: list[Path]) -> list[Finding]:
    given = shown_as(paths)
    return [
        (str(given.get(str(Path(name).resolve()), name)), line, "checkov", rule, message)
        for name, line, rule, message in records
    ]


def run_checkov(paths: list[Path]) -> list[Finding]:
    """checkov in this process (the gate runs it in a worker: start_checkov)."""
    return _as_findings(_checkov_records([str(p.resolve()) for p in paths]), paths)


class _Deferred(types.ModuleType):
    """A module imported only when one of its attributes is first read (see _lean_checkov)."""

    def __init__(self, name: str, real: str, path: list[str] | None = None):
        super().__init__(name)
        self._real = real
        if path is not None:
            self.__path__ = path

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        if self._real == self.__name__ and sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]  # the real module takes its place
        return getattr(importlib.import_module(self._real), attribute)


def _lean_checkov() -> None:
    """What checkov does on import and per run that its CloudFormation checks never use (the worker only).

    - checkov.terraform's package imports every Terraform check, and its modules the Terraform parser;
      the CloudFormation runner needs only its graph modules, so the package is entered without
      running its __init__, and what it exports (TFModule) is imported when first read.
    - aiohttp (checkov's uploads to its platform, never made here) is imported when first used.
    - bc_jsonpath_ng builds its PLY parser tables again for every expression it parses; the parser
      (the same grammar every time) is built once.
    The worker's findings are the same as checkov's own (tests/test_lint.py)."""
    spec = importlib.util.find_spec("checkov")
    if spec and spec.submodule_search_locations and "checkov.terraform" not in sys.modules:
        folder = str(Path(next(iter(spec.submodule_search_locations))) / "terraform")
        sys.modules["checkov.terraform"] = _Deferred("checkov.terraform", "checkov.terraform.modules", [folder])
    if "aiohttp" not in sys.modules:
        sys.modules["aiohttp"] = _Deferred("aiohttp", "aiohttp")
    import ply.yacc  # type: ignore[import-untyped]

    build, built = ply.yacc.yacc, {}

    def yacc_once(*args: Any, **kwargs: Any) -> Any:
        module = kwargs.get("module")
        key = (type(module).__name__, type(module).__module__, kwargs.get("start"))
        if module is None or args:
            return build(*args, **kwargs)
        if key not in built:
            built[key] = build(*args, **kwargs)
        return built[key]

    ply.yacc.yacc = yacc_once


def checkov_worker() -> None:
    """The worker: checks the files on its command line, writes its records to stdout as JSON."""
    _lean_checkov()
    json.dump(_checkov_records(sys.argv[1:]), sys.stdout)


def start_checkov(paths: list[Path]) -> subprocess.Popen[str]:
    """checkov in a worker process, started before cfn-lint runs here: both take a core."""
    code = "from lintgate.cli import checkov_worker; checkov_worker()"
    files = [str(p.resolve()) for p in paths]
    return subprocess.Popen(
        [sys.executable, "-c", code, *files], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish_checkov(worker: subprocess.Popen[str], paths: list[Path]) -> list[Finding]:
    out, err = worker.communicate()
    try:
        records = json.loads(out)
    except ValueError:
        records = None
    if worker.returncode != 0 or not isinstance(records, list):
        last = (err.strip().splitlines() or ["no output"])[-1]
        return [(str(p), 1, "checkov", "error", f"checkov failed (exit {worker.returncode}): {last}") for p in paths]
    return _as_findings([(str(n), int(line), str(r), str(m)) for n, line, r, m in records], paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fargate-lint", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="template files (other JSON in out/ is skipped)")
    parser.add_argument("--no-cache", action="store_true", help="check every template even if it passed before")
    parser.add_argument(
        "--cache-dir", type=Path, default=CACHE, help="where passes are remembered (default .cache/lint)"
    )
    args = parser.parse_args(argv)

    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        print(f"fargate-lint: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    templates = [p for p in args.files if is_template(p)]
    use_cache = not (args.no_cache or os.environ.get("LINT_NO_CACHE"))
    fingerprint = toolchain_fingerprint()
    keys = {p: cache_key(p, fingerprint) for p in templates}
    todo = [p for p in templates if not (use_cache and (args.cache_dir / keys[p]).exists())]

    findings: list[Finding] = []
    if todo:
        worker = start_checkov(todo)
        try:
            findings += run_cfn_lint(todo)
        except BaseException:
            worker.kill()
            worker.communicate()
            raise
        findings += finish_checkov(worker, todo)
    for finding in sorted(findings):
        print(format_finding(finding))
    # Only a clean run is remembered: a finding whose file the tools name in their own way
    # must never let its template be skipped next time.
    if use_cache and not findings:
        args.cache_dir.mkdir(parents=True, exist_ok=True)
        for path in todo:
            (args.cache_dir / keys[path]).write_text(f"{path}\n")
    cached = len(templates) - len(todo)
    print(
        f"lint: {len(templates)} template(s), {len(todo)} checked, {cached} unchanged since they passed, "
        f"{len(findings)} finding(s)",
        file=sys.stderr,
    )
    return 1 if findings else 0
