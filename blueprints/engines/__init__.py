"""Blue/green deployment engines: one module per engine, each implementing ``base.Engine`` for
both the service stack and the pipeline stack, registered in ``registry``.

- ``codedeploy``: a CodeDeploy deployment group, released by CodePipeline's CodeDeployToECS action.
- ``cloudformation``: the ``AWS::CodeDeployBlueGreen`` transform and ``Hooks`` section; a release
  is a change set of the service stack that changes only the image.
- ``ecs``: ECS's own blue/green strategy, released by CodePipeline's ECS action.

This package's ``__init__`` imports only the registry, which the configuration models use to
know the engine names; ``base`` (the protocol) and the engines load on first use.
"""

from __future__ import annotations

from .registry import get, names, register

__all__ = ["get", "names", "register"]
