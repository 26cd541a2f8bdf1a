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
worker process started first (a fork of this one: checkov_gate.py), cfn-lint in this one, each
without what its checks never use (lean.py) and without cyclic garbage collection. Their findings
are the tools' own (tests/test_lint_equal.py).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blueprints import manifest

if TYPE_CHECKING:
    from .checkov_gate import Finding

# The project's lint configuration, beside the package (this file is scripts/lintgate/cli.py).
# The rules are found by path, not imported: importing them imports cfn-lint, which a run that
# finds every template unchanged never needs.
ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG = ROOT / ".cfnlintrc"
PACKAGE = Path(__file__).resolve().parent
RULES = PACKAGE / "rules"
CACHE = Path(".cache") / "lint"
DEFAULT_REGION = "us-east-1"
# The tools, each by its distribution's name as its .dist-info folder spells it, and its package's.
TOOLS = (("cfn_lint", "cfnlint"), ("checkov", "checkov"))
SHARED_IMPORTS = ("networkx", "yaml")


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


def tool_versions() -> list[str]:
    """Each tool's installed version, from the name of its .dist-info folder beside its package.

    What importlib.metadata.version answers, without importing importlib.metadata: that import was
    half of a run that finds every template unchanged."""
    versions = []
    for distribution, package in TOOLS:
        spec = importlib.util.find_spec(package)  # finds the package without importing it
        where = Path(spec.origin).parent.parent if spec and spec.origin else None
        found = sorted(where.glob(f"{distribution}-*.dist-info")) if where else []
        if len(found) == 1:
            version = found[0].name.removeprefix(f"{distribution}-").removesuffix(".dist-info")
        else:  # not laid out as pip installs a wheel
            from importlib import metadata

            version = metadata.version(distribution)
        versions.append(f"{distribution}=={version}")
    return versions


def toolchain_fingerprint() -> str:
    """What besides a template's bytes decides its result: tool versions, config, rules, this package."""
    digest = hashlib.sha256()
    for version in tool_versions():
        digest.update(f"{version}\n".encode())
    for path in [CONFIG, *sorted(PACKAGE.glob("*.py")), *sorted(RULES.rglob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(path: Path, fingerprint: str) -> str:
    return hashlib.sha256(fingerprint.encode() + region_of(path).encode() + path.read_bytes()).hexdigest()


def format_finding(finding: Finding) -> str:
    path, line, tool, rule, message = finding
    return f"{path}:{line}: {tool} {rule} {message}"


def run_cfn_lint(paths: list[Path]) -> list[Finding]:
    """One cfn-lint run per region (a template is checked against its environment's region)."""
    from .checkov_gate import shown_as
    from .lean import lean_cfn_lint

    config = cfn_lint_settings()
    by_region: dict[str, list[Path]] = {}
    for path in paths:
        by_region.setdefault(region_of(path), []).append(path)
    findings: list[Finding] = []
    with lean_cfn_lint(paths):
        from cfnlint.api import lint_by_config

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


def check(paths: list[Path]) -> list[Finding]:
    """Both tools on these templates: checkov in a worker started first, cfn-lint here meanwhile."""
    from .checkov_gate import finish_checkov, start_checkov

    # A short-lived run: the cyclic garbage collector's passes over the tools' many objects (schemas,
    # rules, checks, graphs) cost more than the memory they would free before the process ends.
    # Turned back on afterwards for a caller running the gate in-process (the tests).
    collecting = gc.isenabled()
    gc.disable()
    try:
        # Both tools import these: once here, before the fork, rather than once on each side.
        for shared in SHARED_IMPORTS:
            importlib.import_module(shared)
        worker = start_checkov(paths)
        try:
            findings = run_cfn_lint(paths)
        except BaseException:
            worker.kill()
            worker.communicate()
            raise
        return findings + finish_checkov(worker, paths)
    finally:
        if collecting:
            gc.enable()


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

    findings = check(todo) if todo else []
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
