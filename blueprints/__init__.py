"""Blueprints: one module per stack, each a function of a validated config to a template.

- ``config``: parameter files -> typed ``EnvironmentConfig`` (or a ``ParamsError``).
- ``network``: the network stack.
- ``environment``: which stacks an environment has, how they are wired, the files of out/<env>/.
- ``template``: the troposphere Template extension and the one JSON renderer.
"""
