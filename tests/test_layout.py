"""The repository's layout rules, which no tool checks by itself.

- The code runs as the installed package: nothing edits the module search path.
- Every package folder under blueprints/ and scripts/ is listed in setup.cfg, and every listed one
  exists (a folder left out would be missing from the installed package, found only in a checkout).
- Modules stay about 400 lines: over 450 fails, over 400 is reported as a warning.
- The programs that work on out/ (deployer, lintgate) read it through blueprints.manifest only,
  and blueprints.manifest depends on nothing of the project, so they never load the generator.
- Tests that need the local AWS endpoint are marked ``deploy`` (left out of `make test-fast`).
"""

from __future__ import annotations

import ast
import configparser
import inspect
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import ROOT

SOURCE_ROOTS = ("blueprints", "scripts")
PROJECT_PACKAGES = {"blueprints", "deployer", "lintgate", "tests", "generate"}
SKIPPED_FOLDERS = {"out", "build"}  # generated; hidden folders (.venv, .git, caches) are skipped too
REPORTED_LINES, MAX_LINES = 400, 450
# The local AWS endpoint of the deploy tests (tests/moto_support.py) and how a test reaches it.
ENDPOINT_FIXTURES = {"moto_endpoint", "moto"}
ENDPOINT_VARIABLE = "MOTO_" + "ENDPOINT"  # split so that this file does not mention it as a test would


def python_files(*roots: str) -> Iterator[Path]:
    """The project's .py files under roots (default: the whole repository), caches and tools left out."""
    for top in [ROOT / r for r in roots] or [ROOT]:
        for folder, subfolders, files in os.walk(top):
            subfolders[:] = sorted(
                d for d in subfolders if d not in SKIPPED_FOLDERS and not d.startswith(".") and "egg-info" not in d
            )
            yield from (Path(folder) / f for f in sorted(files) if f.endswith(".py"))


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT))


def setup_cfg_packages() -> tuple[list[str], dict[str, str]]:
    """setup.cfg [options]: the listed packages and package_dir (package name -> folder)."""
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    packages = parser["options"]["packages"].split()
    package_dir = {}
    for line in parser["options"].get("package_dir", "").strip().splitlines():
        name, _, folder = line.partition("=")
        package_dir[name.strip()] = folder.strip()
    return packages, package_dir


def package_folder(package: str, package_dir: dict[str, str]) -> Path:
    """Where setuptools looks for a package: its nearest package_dir entry, else the dotted path."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        mapped = package_dir.get(".".join(parts[:cut]))
        if mapped is not None:
            return ROOT / mapped / Path(*parts[cut:])
    return ROOT / Path(*parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Every module a file imports (``from a import b`` counts as a.b); relative ones start with '.'."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            yield from (f"{base}.{alias.name}" if base.strip(".") else f"{base}{alias.name}" for alias in node.names)


def test_nothing_edits_the_module_search_path():
    needle = "sys." + "path"  # split so that this file does not find itself
    found = [
        f"{shown(path)}:{number}: {line.strip()}"
        for path in python_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if needle in line
    ]
    assert found == [], "the project is installed (pip install -e .); import it, don't edit the path:\n" + "\n".join(
        found
    )


def test_every_package_folder_is_listed_in_setup_cfg_and_every_listed_package_exists():
    packages, package_dir = setup_cfg_packages()
    listed = {package_folder(p, package_dir): p for p in packages}
    missing_folders = [p for folder, p in listed.items() if not (folder / "__init__.py").is_file()]
    assert missing_folders == [], f"listed in setup.cfg but no such package: {missing_folders}"

    unlisted = sorted(
        shown(init.parent)
        for root in SOURCE_ROOTS
        for init in (ROOT / root).rglob("__init__.py")
        if init.parent not in listed
    )
    assert unlisted == [], f"package folders missing from setup.cfg [options] packages: {unlisted}"

    # A folder of modules without __init__.py inside a package is left out of the installed package too.
    not_packages = sorted(
        {shown(module.parent) for folder in listed for module in folder.rglob("*.py") if module.parent not in listed}
    )
    assert not_packages == [], f"modules in folders that are not packages: {not_packages}"


def test_modules_stay_about_400_lines():
    sizes = {shown(path): len(path.read_text().splitlines()) for path in python_files(*SOURCE_ROOTS)}
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    long = {name: lines for name, lines in sizes.items() if REPORTED_LINES < lines <= MAX_LINES}
    if long:
        warnings.warn(f"modules over {REPORTED_LINES} lines (the guide says about 400): {long}", stacklevel=1)
    assert too_long == {}, f"modules over {MAX_LINES} lines; split them: {too_long}"


@pytest.mark.parametrize("package", ["deployer", "lintgate"])
def test_programs_on_out_read_it_through_the_manifest_only(package):
    folder = package_folder(package, setup_cfg_packages()[1])
    found = [
        f"{shown(path)}: {module}"
        for path in sorted(folder.rglob("*.py"))
        for module in imported_modules(path)
        if (module == "blueprints" or module.startswith("blueprints."))
        and not (module == "blueprints.manifest" or module.startswith("blueprints.manifest."))
    ]
    assert found == [], f"{package} may import only blueprints.manifest from the generator:\n" + "\n".join(found)


def test_the_manifest_module_imports_nothing_of_the_project():
    path = ROOT / "blueprints" / "manifest.py"
    found = [
        module
        for module in imported_modules(path)
        if module.startswith(".") or module.split(".")[0] in PROJECT_PACKAGES
    ]
    assert found == [], f"{shown(path)} is read by deployer and lintgate; it must stand alone: {found}"


def test_tests_that_need_the_local_endpoint_are_marked_deploy(request):
    """Checks the tests collected in this run: under `make test-fast` (which deselects `deploy`) a test
    left here that reaches the endpoint is one that should have been deselected."""
    unmarked = []
    for item in request.session.items:
        if item.get_closest_marker("deploy"):
            continue
        function = getattr(item, "function", None)
        mentions = function is not None and ENDPOINT_VARIABLE in inspect.getsource(function)
        if ENDPOINT_FIXTURES & set(getattr(item, "fixturenames", ())) or mentions:
            unmarked.append(item.nodeid)
    assert unmarked == [], f"tests using the local AWS endpoint without @pytest.mark.deploy: {unmarked}"
