"""Platform stack of a several-services environment (``services:`` in params): what its services
share -- the ECS cluster, the load balancer, the production and test listeners (whose default
action answers 404: every request belongs to a service's rule), and the security groups of the
load balancer and of the validation hooks.

Each service stack adds its own target groups and its rules on these listeners (or, for an
engine that moves a whole listener, listeners of its own on ports the platform opens). Nothing in
this stack changes when a service is released; it changes when a service is added whose ports the
load balancer does not serve yet.
"""

from __future__ import annotations

from troposphere import GetAtt, Ref, Tags, ec2, ecs
from troposphere import elasticloadbalancingv2 as elb

from .. import naming
from ..config import EnvironmentConfig
from ..template import CfnTemplate, checkov_skip
from . import load_balancer as lb

STACK = "platform"
# Outputs a service stack takes as parameters of the same name.
SERVICE_INPUTS = (
    "ClusterName",
    "LoadBalancerArn",
    "LoadBalancerFullName",
    "LoadBalancerDnsName",
    "LoadBalancerSecurityGroupId",
    "HookSecurityGroupId",
    "ProductionListenerArn",
    "TestListenerArn",
)
NOT_FOUND = "No service answers this request."


def build(config: EnvironmentConfig) -> CfnTemplate:
    shared = config.shared_listeners
    members = config.members()
    # The services are not named here: adding one must not change this template unless it needs ports.
    t = CfnTemplate(
        f"Platform of {config.env_prefix}: the ECS cluster and the {'HTTPS' if shared.https else 'HTTP'} load "
        "balancer shared by its services, each released blue/green by its own stack."
    )
    public_subnets = t.param(
        "PublicSubnetIds",
        "Public subnets of the load balancer (network stack output).",
        "Network",
        type="List<AWS::EC2::Subnet::Id>",
    )
    network = lb.NetworkParameters(
        vpc_id=t.param("VpcId", "VPC of the environment (network stack output).", "Network", type="AWS::EC2::VPC::Id"),
        vpc_cidr=t.param("VpcCidr", "IPv4 CIDR of the VPC (network stack output).", "Network"),
        public_subnets=public_subnets,
        # Tasks and hooks run in the service stacks; nothing here uses the private subnets.
        private_subnets=public_subnets,
    )
    ecs_cluster = cluster(t, config)
    hook_group, load_balancer_group = _security_groups(t, config, network, members)
    # The load balancer's settings as the single-service builder reads them (config.service).
    as_single = config.model_copy(update={"service": config.service.model_copy(update=shared.model_dump())})
    load_balancer = lb.load_balancer(
        t, as_single, network, lb.SecurityGroups(hook_group, load_balancer_group, load_balancer_group)
    )
    production, test = lb.listeners(t, as_single, load_balancer, [_not_found()])
    t.output("ClusterName", Ref(ecs_cluster), "ECS cluster of every service.")
    t.output("LoadBalancerArn", Ref(load_balancer), "The shared load balancer.")
    t.output("LoadBalancerFullName", GetAtt(load_balancer, "LoadBalancerFullName"), "For CloudWatch dimensions.")
    t.output("LoadBalancerDnsName", GetAtt(load_balancer, "DNSName"), "DNS name of the load balancer.")
    t.output("LoadBalancerSecurityGroupId", Ref(load_balancer_group), "Security group of the load balancer.")
    t.output("HookSecurityGroupId", Ref(hook_group), "Security group of the validation hooks.")
    t.output("ProductionListenerArn", Ref(production), "Shared production listener (services add rules).")
    t.output("TestListenerArn", Ref(test), "Shared test listener (services add rules).")
    return t


def _not_found() -> elb.Action:
    return elb.Action(
        Type="fixed-response",
        FixedResponseConfig=elb.FixedResponseConfig(StatusCode="404", ContentType="text/plain", MessageBody=NOT_FOUND),
    )


def cluster(t: CfnTemplate, config: EnvironmentConfig) -> ecs.Cluster:
    """The environment's ECS cluster (its service stack's, or with several services the platform's)."""
    return t.add_resource(
        ecs.Cluster(
            "Cluster",
            ClusterName=naming.cluster(config),
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
            Tags=Tags(Name=naming.cluster(config)),
        )
    )


def _rule(port: int, description: str, **source: object) -> ec2.SecurityGroupRule:
    return ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=port, ToPort=port, Description=description, **source)


def _security_groups(
    t: CfnTemplate, config: EnvironmentConfig, network: lb.NetworkParameters, members: list[EnvironmentConfig]
) -> tuple[ec2.SecurityGroup, ec2.SecurityGroup]:
    """(hooks, load balancer). Listener ports: the shared ones, and those of services with listeners
    of their own. Targets: every service's container port, inside the VPC."""
    shared = config.shared_listeners
    listeners = [("shared", shared.production_port, shared.test_port)] + [
        (m.member or "", m.service.production_port, m.service.test_port) for m in members if m.route is None
    ]
    test_ports = sorted({test for _, _, test in listeners})
    hook = t.add_resource(
        ec2.SecurityGroup(
            "HookSecurityGroup",
            GroupDescription=f"{config.env_prefix} validation hooks",
            VpcId=Ref(network.vpc_id),
            Tags=Tags(Name=f"{config.env_prefix}-hook"),
            SecurityGroupEgress=[
                *[
                    _rule(port, "Test listener (private addresses)", CidrIp=Ref(network.vpc_cidr))
                    for port in test_ports
                ],
                # AWS API endpoints (CodeDeploy, EC2) have no fixed addresses; reached through NAT.
                _rule(443, "HTTPS to AWS APIs", CidrIp=lb.ANYWHERE),
            ],
        )
    )
    ingress = []
    production_ports = sorted({production for _, production, _ in listeners} | ({80} if shared.https else set()))
    for port in production_ports:
        for cidr in shared.allowed_cidrs:
            ingress.append(_rule(port, "Production listener", CidrIp=cidr))
    for port in test_ports:
        for cidr in shared.test_allowed_cidrs:
            ingress.append(_rule(port, "Test listener", CidrIp=cidr))
        ingress.append(_rule(port, "Test listener from the validation hooks", SourceSecurityGroupId=Ref(hook)))
    container_ports = sorted({m.service.container_port for m in members})
    open_to_world = lb.ANYWHERE in shared.allowed_cidrs
    load_balancer = t.add_resource(
        ec2.SecurityGroup(
            "LoadBalancerSecurityGroup",
            GroupDescription=f"{config.env_prefix} load balancer",
            VpcId=Ref(network.vpc_id),
            SecurityGroupIngress=ingress,
            Tags=Tags(Name=f"{config.env_prefix}-alb"),
            # Targets are task addresses in the VPC; a CIDR rule avoids a cycle with the task groups.
            SecurityGroupEgress=[
                _rule(port, "Tasks on a container port", CidrIp=Ref(network.vpc_cidr)) for port in container_ports
            ],
            **(
                {
                    "Metadata": checkov_skip(
                        (
                            "CKV_AWS_260",
                            "Public web services: port 80 is open to the internet by design "
                            "(load_balancer.allowed_cidrs in params).",
                        )
                    )
                }
                if open_to_world and 80 in production_ports
                else {}
            ),
        )
    )
    return hook, load_balancer
