"""Stack blueprints: one module per stack, each ``build(config) -> CfnTemplate`` made of small
named builders.

- ``network``: VPC, subnets, gateways, routes, flow logs.
- ``service`` (with ``load_balancer``): ECS Fargate behind an ALB; the engine of
  ``service.deployment_engine`` adds the service and its blue/green machinery.
- ``pipeline`` (with ``pipeline_actions`` and ``pipeline_artifacts``): GitHub -> build -> ECR scan
  gate -> the engine's Deploy stage.
"""
