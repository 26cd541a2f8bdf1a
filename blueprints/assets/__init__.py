"""Files the generator ships into AWS or renders into out/, read as package data (never by path):

- ``validation_hook.py``: the validation hook Lambda's source (inline ZipFile of the service stack);
- ``scan_gate.py``: the ECR scan gate the pipeline's build runs (embedded in the buildspec);
- ``templates/``: jinja2 templates of the buildspec and the codedeploy engine's taskdef.json,
  appspec.yaml, and the cloudformation engine's template-configuration script.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

VALIDATION_HOOK = "validation_hook.py"
SCAN_GATE = "scan_gate.py"


def text(name: str) -> str:
    """The text of one asset of this package."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def templates(**options: Any) -> jinja2.Environment:
    """A jinja2 environment over ``templates/``: undefined names are errors, text is kept as written
    (no HTML escaping, final newlines kept), plus ``options``.

    Compiled templates are kept between runs (jinja2's per-user folder in the temp directory, keyed
    on the template's name and checked against its source): compiling them is ~10 ms of every run."""
    import jinja2

    try:
        cache: jinja2.BytecodeCache | None = jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no usable temp directory: compile every time
        cache = None
    settings: dict[str, Any] = {
        "loader": jinja2.PackageLoader(__package__, "templates"),
        "undefined": jinja2.StrictUndefined,
        "keep_trailing_newline": True,
        "autoescape": False,
        "bytecode_cache": cache,
    }
    return jinja2.Environment(**(settings | options))
