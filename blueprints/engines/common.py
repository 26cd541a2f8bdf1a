"""Pieces of the ECS service that every engine builds the same way, so that no engine copies
another: the service's common properties, the Fargate network placement, the load balancer
entry of the blue target group, the permission to invoke the validation hook, and ARNs of this
account and region."""
from __future__ import annotations

from typing import Any

from awacs import awslambda
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Ref, Tags, ecs

from .. import naming
from ..config import EnvironmentConfig
from . import SharedResources

# An ARN in this stack's partition, region and account: ARN % (service, resource), inside Sub.
ARN = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:%s"


def service(config: EnvironmentConfig, shared: SharedResources, **engine_properties: Any) -> ecs.Service:
    """The ECS service (logical ID ``shared.service``) with what every engine sets; the engine adds
    its deployment controller and whatever that controller lets the service itself carry."""
    svc = config.service
    # ECS accepts a health check grace period only on a service that has load balancers itself
    # ("only valid if your service is configured to use a load balancer"); with the EXTERNAL
    # controller they belong to the task sets, and CreateService fails if it is set:
    # https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html
    # https://github.com/aws-cloudformation/cfn-lint/issues/3612
    grace = ({"HealthCheckGracePeriodSeconds": svc.health_check_grace_period_seconds}
             if "LoadBalancers" in engine_properties else {})
    return ecs.Service(
        shared.service, ServiceName=naming.service(config), Cluster=Ref(shared.cluster),
        DesiredCount=svc.desired_count, **grace,
        PropagateTags="SERVICE", EnableECSManagedTags=True, Tags=Tags(Name=naming.service(config)),
        **engine_properties,
    )


def private_subnets(shared: SharedResources, configuration=ecs.AwsvpcConfiguration):
    """Tasks run in the private subnets, without public addresses, in the service security group.
    ``configuration`` is the property class (a task set spells it differently from a service)."""
    return configuration(AssignPublicIp="DISABLED", Subnets=Ref(shared.private_subnets),
                         SecurityGroups=[Ref(shared.service_security_group)])


def blue_load_balancer(config: EnvironmentConfig, shared: SharedResources, **extra: Any) -> ecs.LoadBalancer:
    """The container registered in the blue target group (where production traffic starts)."""
    return ecs.LoadBalancer(ContainerName=naming.container(config), ContainerPort=config.service.container_port,
                            TargetGroupArn=Ref(shared.blue_target_group), **extra)


def invoke_hook(shared: SharedResources) -> Statement:
    """What the deployment needs of the validation hook: invoking this stack's function, no other."""
    return Statement(Effect=Allow, Action=[awslambda.InvokeFunction], Resource=[GetAtt(shared.hook_function, "Arn")])
