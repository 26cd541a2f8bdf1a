"""Service stack, how traffic reaches the service: a load balancer of its own (a single-service
environment), or the platform stack's shared one (a service of ``services:``).

``single`` builds what a single-service environment has always had: security groups, load
balancer, blue and green target groups, production and test listeners. ``on_platform`` builds a
service of a several-services environment: its task security group and target groups, and either
nothing more (an engine that shares the listeners adds its rules on them) or listeners of its own
on the shared load balancer (an engine that moves a whole listener).
"""

from __future__ import annotations

from typing import NamedTuple

from troposphere import Parameter, Ref, Tags, ec2, ecs
from troposphere import elasticloadbalancingv2 as elb

from ..config import EnvironmentConfig
from ..engines.base import Engine, PlatformLoadBalancer
from ..template import CfnTemplate
from . import load_balancer as lb
from . import platform

PLATFORM_GROUP = "Platform"


class Traffic(NamedTuple):
    cluster: ecs.Cluster | Parameter
    service_group: ec2.SecurityGroup
    hook_group: ec2.SecurityGroup | Parameter
    load_balancer: elb.LoadBalancer | PlatformLoadBalancer
    blue: elb.TargetGroup
    green: elb.TargetGroup
    production: elb.Listener | Parameter
    test: elb.Listener | Parameter


def single(t: CfnTemplate, config: EnvironmentConfig, network: lb.NetworkParameters, cluster: ecs.Cluster) -> Traffic:
    groups = lb.security_groups(t, config, network)
    load_balancer = lb.load_balancer(t, config, network, groups)
    blue, green = lb.target_groups(t, config, network.vpc_id)
    production, test = lb.listeners(t, config, load_balancer, lb.forward_to(blue))
    return Traffic(cluster, groups.service, groups.hook, load_balancer, blue, green, production, test)


def platform_parameters(t: CfnTemplate, engine: Engine) -> dict[str, Parameter]:
    """The platform stack's outputs a service stack takes (same names), as parameters: the shared
    listeners for an engine that shares them, else the load balancer for listeners of its own."""
    unused = ("LoadBalancerArn",) if engine.shares_listeners else ("ProductionListenerArn", "TestListenerArn")
    descriptions = {
        "ClusterName": "ECS cluster shared by the environment's services",
        "LoadBalancerArn": "Shared load balancer",
        "LoadBalancerFullName": "Full name of the shared load balancer (CloudWatch dimension)",
        "LoadBalancerDnsName": "DNS name of the shared load balancer",
        "LoadBalancerSecurityGroupId": "Security group of the shared load balancer",
        "HookSecurityGroupId": "Security group of the validation hooks",
        "ProductionListenerArn": "Shared production listener",
        "TestListenerArn": "Shared test listener",
    }
    return {
        key: t.param(
            key,
            f"{descriptions[key]} (platform stack output).",
            PLATFORM_GROUP,
            **({"type": "AWS::EC2::SecurityGroup::Id"} if key.endswith("SecurityGroupId") else {}),
        )
        for key in platform.SERVICE_INPUTS
        if key not in unused
    }


def on_platform(
    t: CfnTemplate, config: EnvironmentConfig, vpc_id: Parameter, engine: Engine, inputs: dict[str, Parameter]
) -> Traffic:
    svc = config.service
    service_group = t.add_resource(
        ec2.SecurityGroup(
            "ServiceSecurityGroup",
            GroupDescription=f"{config.prefix} service tasks",
            VpcId=Ref(vpc_id),
            Tags=Tags(Name=f"{config.prefix}-tasks"),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=svc.container_port,
                    ToPort=svc.container_port,
                    SourceSecurityGroupId=Ref(inputs["LoadBalancerSecurityGroupId"]),
                    Description="From the load balancer",
                )
            ],
            # Image pulls (ECR), logs and secrets are AWS HTTPS endpoints reached through NAT.
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=lb.ANYWHERE, Description="HTTPS to AWS APIs"
                )
            ],
        )
    )
    blue, green = lb.target_groups(t, config, vpc_id)
    shared_load_balancer = PlatformLoadBalancer(
        full_name=inputs["LoadBalancerFullName"], dns_name=inputs["LoadBalancerDnsName"]
    )
    production: elb.Listener | Parameter
    test: elb.Listener | Parameter
    if engine.shares_listeners:
        production, test = inputs["ProductionListenerArn"], inputs["TestListenerArn"]
    else:
        # Listeners of its own on the shared load balancer (the platform opens their ports).
        production, test = lb.listeners(t, config, inputs["LoadBalancerArn"], lb.forward_to(blue), redirect=False)
    return Traffic(
        inputs["ClusterName"],
        service_group,
        inputs["HookSecurityGroupId"],
        shared_load_balancer,
        blue,
        green,
        production,
        test,
    )
