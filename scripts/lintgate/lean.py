"""What cfn-lint and checkov do on import or per run that the gate's checks never use, left out or done once.

Each measure changes how much work a run does, never which checks run or what they find:
tests/test_lint_speed.py and tests/test_lint_equal.py compare the gate's findings with the tools' own.
The worker that runs checkov calls lean_checkov; the gate's process calls lean_cfn_lint around its
cfn-lint run.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class _Deferred(types.ModuleType):
    """A module imported only when one of its attributes is first read (see lean_checkov)."""

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


def lean_checkov() -> None:
    """For the checkov worker only (it changes this process's modules for good).

    - checkov.terraform's package imports every Terraform check, and its modules the Terraform parser;
      the CloudFormation runner needs only its graph modules, so the package is entered without
      running its __init__, and what it exports (TFModule) is imported when first read.
    - aiohttp (checkov's uploads to its platform, never made here) is imported when first used.
    - bc_jsonpath_ng builds its PLY parser tables again for every expression it parses; the parser
      (the same grammar every time) is built once.
    - checkov parses the files, and renders the graph, in processes it forks, one per core: for the
      gate's few templates, with cfn-lint on the other core, that is only the cost of forking a large
      process and pickling the results back. CHECKOV_PARALLELIZATION_TYPE=none does the same work here."""
    os.environ.setdefault("CHECKOV_PARALLELIZATION_TYPE", "none")
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


class _InitLater(types.ModuleType):
    """A package whose own __init__ runs when a name it has not got yet is first read (or on complete()).

    Its submodules import as usual; what it exports before then is set by _sympy_logic_first."""

    def complete(self) -> None:
        self.__class__ = types.ModuleType  # type: ignore[assignment]  # from now on an ordinary module
        spec = self.__spec__
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        self.complete()
        return getattr(self, name)


# What cfn-lint imports from sympy's top level (cfnlint/conditions, cfnlint/context/conditions), and
# the submodules that define them and the rest it imports (CNF encoding, the satisfiability check):
# the first of what sympy's __init__ imports, in its order, so that completing the package later
# imports the rest as sympy itself does.
_SYMPY_NAMES = {
    "sympy.core.symbol": ("Symbol", "Dummy"),
    "sympy.logic.boolalg": ("And", "Or", "Not", "Implies", "Equivalent"),
}
_SYMPY_MODULES = ("sympy.core", "sympy.logic", "sympy.assumptions.cnf", "sympy.logic.inference")


def _sympy_logic_first() -> None:
    """cfn-lint imports sympy's package, whose __init__ imports all of sympy (a third of cfn-lint's import
    time), to reason about a template's Conditions. For templates without any, the package is entered
    without its __init__ and only its core and logic modules are imported; the rest is imported when a
    name not among those is first read, or before a template with Conditions is linted (_sympy_whole).
    That lasts for the rest of the process: cfn-lint run there later other than through lean_cfn_lint
    fails on a template with Conditions (an ImportError among sympy's circular imports)."""
    if "sympy" in sys.modules:
        return
    spec = importlib.util.find_spec("sympy")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    package = importlib.util.module_from_spec(spec)
    package.__class__ = _InitLater
    sys.modules["sympy"] = package
    try:
        for name in _SYMPY_MODULES:
            importlib.import_module(name)
        for module, names in _SYMPY_NAMES.items():
            for name in names:
                setattr(package, name, getattr(sys.modules[module], name))
    except Exception:
        # Not the layout this was written for: sympy as it imports itself.
        for name in [m for m in sys.modules if m == "sympy" or m.startswith("sympy.")]:
            del sys.modules[name]


def _sympy_whole() -> None:
    """With Conditions, cfn-lint calls into sympy, and sympy imports more of itself as it goes: that
    works only once its __init__ has run (its import order avoids its circular imports)."""
    package = sys.modules.get("sympy")
    if isinstance(package, _InitLater):
        package.complete()


def uses_conditions(path: Path) -> bool:
    """Whether cfn-lint may reason about a template's Conditions: it has some, or something that names
    one (Fn::If, a resource's or an output's Condition), or Rules, or a Transform (which may add some);
    or it is not JSON that says otherwise. (An IAM policy's Condition is no template Condition.)"""
    text = path.read_bytes()
    if b"Fn::If" in text:
        return True
    try:
        template = json.loads(text)
    except ValueError:
        return True
    if not isinstance(template, dict) or {"Conditions", "Rules", "Transform"} & template.keys():
        return True
    named = [*dict(template.get("Resources") or {}).values(), *dict(template.get("Outputs") or {}).values()]
    return any(not isinstance(entry, dict) or "Condition" in entry for entry in named)


def _once(load: Callable[..., Any], shared: tuple[str, str]) -> Callable[..., Any]:
    """load_resource that parses one file (module, file name) once and hands every caller the same copy."""
    kept: list[Any] = []

    def load_resource(package: Any, filename: str = "us-east-1.json") -> Any:
        if (getattr(package, "__name__", None), filename) != shared:
            return load(package, filename)
        if not kept:
            kept.append(load(package, filename))
        return kept[0]

    return load_resource


class _Pending:
    """A schema file not read yet (see _SchemaWhenUsed)."""

    def __init__(self, load: Callable[..., Any], module: Any, filename: str):
        self.load, self.module, self.filename = load, module, filename


class _SchemaWhenUsed:
    """CfnLintJsonSchema's ``_schema``: the file a rule's schema comes from is read when the rule first
    reads its schema, not when cfn-lint creates the rule. Most such rules are for resource types a
    template does not have (two of them read 9 MB of RDS instance classes), and never read it."""

    def __get__(self, rule: Any, owner: type | None = None) -> Any:
        if rule is None:
            return self
        try:
            value = rule.__dict__["_schema"]
        except KeyError:
            raise AttributeError("_schema") from None
        if isinstance(value, _Pending):
            value = rule.__dict__["_schema"] = value.load(value.module, filename=value.filename)
        return value

    def __set__(self, rule: Any, value: Any) -> None:
        rule.__dict__["_schema"] = value


def _schemas_when_used() -> Callable[[], None]:
    """Installs _SchemaWhenUsed (for good: it only ever reads a pending file) and a loader that leaves
    files pending (for the run); returns what restores the loader."""
    try:
        module = importlib.import_module("cfnlint.rules.jsonschema.CfnLintJsonSchema")
        rule, load = module.CfnLintJsonSchema, module.load_resource
    except (ImportError, AttributeError):  # not the layout this was written for: as cfn-lint does it
        return lambda: None
    if not isinstance(rule.__dict__.get("_schema"), _SchemaWhenUsed):
        if "_schema" in rule.__dict__:
            return lambda: None
        rule._schema = _SchemaWhenUsed()

    def later(schema_module: Any, filename: str = "us-east-1.json") -> _Pending:
        return _Pending(load, schema_module, filename)

    module.__dict__["load_resource"] = later

    def restore() -> None:
        module.__dict__["load_resource"] = load

    return restore


@contextmanager
def lean_cfn_lint(paths: list[Path]) -> Iterator[None]:
    """Around the gate's cfn-lint run of these templates.

    - sympy: see _sympy_logic_first and _sympy_whole.
    - AWS's IAM authorization data (Policies.json, 2 MB) is parsed by three rules (I3510 and W3037's
      modules, and the project's E9110 through iam_data.py), each for itself; here once, the same
      dictionary for all three (they only read it). cfn-lint reads its rule modules again for every run,
      so each of them binds the loader in force then; the loader is restored after the run.
    - rules' schema files: see _SchemaWhenUsed."""
    if any(uses_conditions(path) for path in paths):
        _sympy_whole()
    else:
        _sympy_logic_first()
    import cfnlint.helpers

    load = cfnlint.helpers.load_resource
    cfnlint.helpers.load_resource = _once(load, ("cfnlint.data.AdditionalSpecs", "Policies.json"))
    restore_schemas = _schemas_when_used()
    try:
        yield
    finally:
        restore_schemas()
        cfnlint.helpers.load_resource = load
