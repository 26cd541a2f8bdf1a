"""The project's cfn-lint rules (E91xx/W91xx), one rule per module as in cfn-lint itself.

cfn-lint loads them as the module ``lintgate.rules`` (``append_rules`` in .cfnlintrc) and registers
every rule class this module exposes, so each rule module's class is imported here.
bluegreen_facts.py holds what the blue/green rules know about the transform, template_helpers.py
and hook_schema.py what they share; iam_data.py reads AWS's IAM authorization data for E9110.
"""

from .hook_recommended_keys import BlueGreenHookRecommendedKeys
from .hook_references import BlueGreenHookReferences
from .hook_structure import BlueGreenHookStructure
from .iam_authorization import IamAuthorization
from .template_limits import BlueGreenTemplateLimits
from .transform_declared import BlueGreenTransformDeclared

__all__ = [
    "BlueGreenHookRecommendedKeys",
    "BlueGreenHookReferences",
    "BlueGreenHookStructure",
    "BlueGreenTemplateLimits",
    "BlueGreenTransformDeclared",
    "IamAuthorization",
]
