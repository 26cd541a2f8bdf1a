"""Files the generator ships into AWS or renders into out/, read as package data (never by path):

- ``validation_hook.py``: the validation hook Lambda's source (inline ZipFile of the service stack);
- ``scan_gate.py``: the ECR scan gate the pipeline's build runs (embedded in the buildspec);
- ``templates/``: jinja2 templates of the buildspec and the codedeploy engine's taskdef.json,
  appspec.yaml, and the cloudformation engine's template-configuration script.
"""

from __future__ import annotations

from importlib import resources

VALIDATION_HOOK = "validation_hook.py"
SCAN_GATE = "scan_gate.py"


def text(name: str) -> str:
    """The text of one asset of this package."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
