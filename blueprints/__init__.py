"""Generation: validated parameter files -> plain CloudFormation JSON in out/ (``fargate-generate``).

- ``config``: parameter files -> a typed ``EnvironmentConfig`` (or a ``ParamsError``).
- ``stacks``: one blueprint per stack (network, service, pipeline), each a function of the config
  to a troposphere template made of small named builders.
- ``engines``: the blue/green engines behind one protocol and one registry.
- ``assets``: files shipped into AWS or rendered into out/ (hook source, scan gate, jinja2 templates).
- ``environment``: which stacks an environment has, how they are wired, the files of out/<env>/.
- ``manifest``: the manifest model (out/<env>/stacks.json), the only contract with the deployer.
- ``naming``, ``roles``, ``template``: AWS names, IAM role shapes, the template class and renderer.
- ``cli``: the command line (``generate.py`` and ``fargate-generate``).
"""
