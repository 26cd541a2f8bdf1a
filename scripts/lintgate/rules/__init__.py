"""The project's cfn-lint rules (E91xx/W91xx), loaded by cfn-lint as the module ``lintgate.rules``
(``append_rules`` in .cfnlintrc): cfn-lint registers every rule class this module exposes."""

from .bluegreen_hook import BlueGreenHookRecommendedKeys, BlueGreenHookReferences, BlueGreenHookStructure
from .bluegreen_template import BlueGreenTemplateLimits, BlueGreenTransformDeclared

__all__ = [
    "BlueGreenHookRecommendedKeys",
    "BlueGreenHookReferences",
    "BlueGreenHookStructure",
    "BlueGreenTemplateLimits",
    "BlueGreenTransformDeclared",
]
