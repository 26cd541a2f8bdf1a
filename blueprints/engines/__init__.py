"""Blue/green deployment engines of the service stack.

The service blueprint builds everything the engines share (cluster, task definition, load
balancer, listeners, target groups, alarms, validation hook) and hands its logical IDs to the
engine chosen by ``service.deployment_engine``. An engine module provides:

- ``HOOK_HANDLER``: the function of blueprints/functions/validation_hook.py that adapts the
  check to the engine's hook contract (the Lambda handler is ``index.<HOOK_HANDLER>``);
- ``hook_statements(config) -> list[Statement]``: what the hook's role may do to report back;
- ``add_deployment(t, config, shared)``: adds the ECS service (logical ID ``shared.service``)
  and the engine's blue/green machinery and outputs;
- ``SUPPORTS_OUTPUTS``: whether the template may have Outputs at all (the AWS::CodeDeployBlueGreen
  transform forbids them, so the service blueprint then adds none);
- ``RELEASED_BY_STACK_UPDATE``: whether a release is a stack update that changes only the image
  parameter (else the pipeline deploys new task definition revisions outside CloudFormation).

Engines: ``codedeploy`` (engines/codedeploy.py), ``cloudformation`` (engines/cloudformation.py),
``ecs`` (engines/ecs.py); engines/common.py holds the service pieces they share.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from ..config import EnvironmentConfig


@dataclass(frozen=True)
class SharedResources:
    """Logical IDs (and parameter names) of the shared resources an engine builds on."""

    cluster: str = "Cluster"
    task_definition: str = "TaskDefinition"
    task_execution_role: str = "TaskExecutionRole"
    task_role: str = "TaskRole"
    service_security_group: str = "ServiceSecurityGroup"
    private_subnets: str = "PrivateSubnetIds"
    load_balancer: str = "LoadBalancer"
    blue_target_group: str = "BlueTargetGroup"
    green_target_group: str = "GreenTargetGroup"
    production_listener: str = "ProductionListener"
    test_listener: str = "TestListener"
    alarms: tuple[str, ...] = ()
    hook_function: str = "ValidationHookFunction"
    # The engine must create the ECS service under this logical ID (auto scaling depends on it).
    service: str = "Service"


def engine_for(config: EnvironmentConfig) -> ModuleType:
    from . import cloudformation, codedeploy, ecs

    engines = {"codedeploy": codedeploy, "cloudformation": cloudformation, "ecs": ecs}
    return engines[config.service.deployment_engine]
