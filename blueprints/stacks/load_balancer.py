"""Service stack, traffic side: security groups, the load balancer, the blue and green target
groups, the production and test listeners, and the alarms that stop a deployment."""

from __future__ import annotations

from typing import Any, NamedTuple

from troposphere import GetAtt, Parameter, Ref, Tags, cloudwatch, ec2
from troposphere import elasticloadbalancingv2 as elb

from .. import naming
from ..config import EnvironmentConfig
from ..template import CfnTemplate, checkov_skip

# TLS 1.3 and 1.2 only, forward secrecy: AWS's recommended policy for new HTTPS listeners.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/describe-ssl-policies.html
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ANYWHERE = "0.0.0.0/0"


class NetworkParameters(NamedTuple):
    vpc_id: Parameter
    vpc_cidr: Parameter
    public_subnets: Parameter
    private_subnets: Parameter


class SecurityGroups(NamedTuple):
    hook: ec2.SecurityGroup
    load_balancer: ec2.SecurityGroup
    service: ec2.SecurityGroup


def _tags(config: EnvironmentConfig, suffix: str) -> Tags:
    return Tags(Name=f"{config.prefix}-{suffix}")


def security_groups(t: CfnTemplate, config: EnvironmentConfig, network: NetworkParameters) -> SecurityGroups:
    """ALB: production port from allowed_cidrs, test port from test_allowed_cidrs and the hook.
    Tasks: container port from the ALB only. Hook: the test port inside the VPC, HTTPS out."""
    svc = config.service
    hook = t.add_resource(
        ec2.SecurityGroup(
            "HookSecurityGroup",
            GroupDescription=f"{config.prefix} validation hook",
            VpcId=Ref(network.vpc_id),
            Tags=_tags(config, "hook"),
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=svc.test_port,
                    ToPort=svc.test_port,
                    CidrIp=Ref(network.vpc_cidr),
                    Description="Test listener (private addresses)",
                ),
                # AWS API endpoints (CodeDeploy, EC2) have no fixed addresses; reached through NAT.
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=ANYWHERE, Description="HTTPS to AWS APIs"
                ),
            ],
        )
    )
    ingress = []
    production_ports = [svc.production_port] + ([80] if svc.https else [])
    for port in production_ports:
        for cidr in svc.allowed_cidrs:
            ingress.append(
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=port,
                    ToPort=port,
                    CidrIp=cidr,
                    Description=f"Production {'redirect ' if port != svc.production_port else ''}listener",
                )
            )
    for cidr in svc.test_allowed_cidrs:
        ingress.append(
            ec2.SecurityGroupRule(
                IpProtocol="tcp", FromPort=svc.test_port, ToPort=svc.test_port, CidrIp=cidr, Description="Test listener"
            )
        )
    ingress.append(
        ec2.SecurityGroupRule(
            IpProtocol="tcp",
            FromPort=svc.test_port,
            ToPort=svc.test_port,
            SourceSecurityGroupId=Ref(hook),
            Description="Test listener from the validation hook",
        )
    )
    open_to_world = ANYWHERE in svc.allowed_cidrs
    load_balancer_group = t.add_resource(
        ec2.SecurityGroup(
            "LoadBalancerSecurityGroup",
            GroupDescription=f"{config.prefix} load balancer",
            VpcId=Ref(network.vpc_id),
            SecurityGroupIngress=ingress,
            Tags=_tags(config, "alb"),
            # Targets are task addresses in the VPC; a CIDR rule avoids a cycle with the task group.
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=svc.container_port,
                    ToPort=svc.container_port,
                    CidrIp=Ref(network.vpc_cidr),
                    Description="Tasks on the container port",
                )
            ],
            **(
                {
                    "Metadata": checkov_skip(
                        (
                            "CKV_AWS_260",
                            "A public web service: port 80 is open to the internet by "
                            "design (allowed_cidrs in params).",
                        )
                    )
                }
                if open_to_world and 80 in production_ports
                else {}
            ),
        )
    )
    service_group = t.add_resource(
        ec2.SecurityGroup(
            "ServiceSecurityGroup",
            GroupDescription=f"{config.prefix} service tasks",
            VpcId=Ref(network.vpc_id),
            Tags=_tags(config, "tasks"),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=svc.container_port,
                    ToPort=svc.container_port,
                    SourceSecurityGroupId=Ref(load_balancer_group),
                    Description="From the load balancer",
                )
            ],
            # Image pulls (ECR), logs and secrets are AWS HTTPS endpoints reached through NAT.
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp=ANYWHERE, Description="HTTPS to AWS APIs"
                )
            ],
        )
    )
    return SecurityGroups(hook, load_balancer_group, service_group)


def load_balancer(
    t: CfnTemplate, config: EnvironmentConfig, network: NetworkParameters, groups: SecurityGroups
) -> elb.LoadBalancer:
    svc = config.service
    protect = config.protected if svc.deletion_protection is None else svc.deletion_protection
    skips = [("CKV_AWS_91", "Access logs need a log bucket with its own policy; not part of this stack yet.")]
    if not protect:
        skips.append(
            (
                "CKV_AWS_150",
                "Deletion protection is off outside protected environments so that "
                "they can be torn down; params service.deletion_protection turns it on.",
            )
        )
    return t.add_resource(
        elb.LoadBalancer(
            "LoadBalancer",
            Name=naming.load_balancer(config),
            Type="application",
            Scheme="internet-facing",
            Subnets=Ref(network.public_subnets),
            SecurityGroups=[Ref(groups.load_balancer)],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key="routing.http.drop_invalid_header_fields.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="deletion_protection.enabled", Value=str(protect).lower()),
            ],
            Tags=_tags(config, "alb"),
            Metadata=checkov_skip(*skips),
        )
    )


def target_groups(
    t: CfnTemplate, config: EnvironmentConfig, vpc_id: Parameter
) -> tuple[elb.TargetGroup, elb.TargetGroup]:
    """(blue, green): blue serves at creation, green receives the first replacement."""
    svc = config.service
    groups = []
    for colour in ("Blue", "Green"):
        groups.append(
            t.add_resource(
                elb.TargetGroup(
                    f"{colour}TargetGroup",
                    Name=naming.target_group(config, colour.lower()),
                    TargetType="ip",
                    Protocol="HTTP",
                    Port=svc.container_port,
                    VpcId=Ref(vpc_id),
                    HealthCheckProtocol="HTTP",
                    HealthCheckPath=svc.health_check_path,
                    HealthCheckIntervalSeconds=svc.health_check_interval_seconds,
                    HealthCheckTimeoutSeconds=svc.health_check_timeout_seconds,
                    HealthyThresholdCount=svc.healthy_threshold,
                    UnhealthyThresholdCount=svc.unhealthy_threshold,
                    Matcher=elb.Matcher(HttpCode=svc.health_check_matcher),
                    TargetGroupAttributes=[
                        elb.TargetGroupAttribute(
                            Key="deregistration_delay.timeout_seconds", Value=str(svc.deregistration_delay_seconds)
                        )
                    ],
                    Tags=_tags(config, colour.lower()),
                )
            )
        )
    return groups[0], groups[1]


def listeners(
    t: CfnTemplate,
    config: EnvironmentConfig,
    load_balancer: elb.LoadBalancer | Parameter,
    default_actions: list[elb.Action],
    redirect: bool = True,
) -> tuple[elb.Listener, elb.Listener]:
    """(production, test) on ``config.service``'s ports. A service's own listeners forward to blue
    at creation (``forward_to``) and its engine re-points them on each release; the platform's
    shared listeners answer what no service's rule takes. ``redirect``: port 80 redirects to HTTPS
    (the platform's, or a single service's, not a service's own listeners)."""
    svc = config.service
    tls = (
        {
            "Protocol": "HTTPS",
            "SslPolicy": TLS_POLICY,
            "Certificates": [elb.Certificate(CertificateArn=svc.certificate_arn)],
        }
        if svc.https
        else {"Protocol": "HTTP"}
    )
    plain_http = checkov_skip(
        ("CKV_AWS_2", "HTTP by choice in this environment (no certificate_arn in params)."),
        ("CKV_AWS_103", "HTTP by choice in this environment: no TLS to configure."),
    )
    made = []
    for logical_id, port in (("ProductionListener", svc.production_port), ("TestListener", svc.test_port)):
        made.append(
            t.add_resource(
                elb.Listener(
                    logical_id,
                    LoadBalancerArn=Ref(load_balancer),
                    Port=port,
                    DefaultActions=default_actions,
                    **tls,
                    **({} if svc.https else {"Metadata": plain_http}),
                )
            )
        )
    if svc.https and redirect:
        t.add_resource(
            elb.Listener(
                "HttpRedirectListener",
                LoadBalancerArn=Ref(load_balancer),
                Port=80,
                Protocol="HTTP",
                DefaultActions=[
                    elb.Action(
                        Type="redirect",
                        RedirectConfig=elb.RedirectConfig(
                            Protocol="HTTPS", Port=str(svc.production_port), StatusCode="HTTP_301"
                        ),
                    )
                ],
                Metadata=checkov_skip(
                    ("CKV_AWS_2", "Only redirects to the HTTPS listener."),
                    ("CKV_AWS_103", "Only redirects to the HTTPS listener: no TLS here."),
                ),
            )
        )
    return made[0], made[1]


def forward_to(target_group: elb.TargetGroup) -> list[elb.Action]:
    return [elb.Action(Type="forward", TargetGroupArn=Ref(target_group))]


def alarms(
    t: CfnTemplate,
    config: EnvironmentConfig,
    load_balancer_full_name: Any,
    target_groups: tuple[elb.TargetGroup, elb.TargetGroup],
) -> tuple[cloudwatch.Alarm, ...]:
    """5XX responses and unhealthy targets per target group; a deployment stops on either."""
    made = []
    for colour, target_group in zip(("Blue", "Green"), target_groups, strict=True):
        dimensions = [
            cloudwatch.MetricDimension(Name="LoadBalancer", Value=load_balancer_full_name),
            cloudwatch.MetricDimension(Name="TargetGroup", Value=GetAtt(target_group, "TargetGroupFullName")),
        ]
        for kind, metric, statistic, threshold, what in (
            ("Target5xx", "HTTPCode_Target_5XX_Count", "Sum", 5, "5 or more 5XX responses from"),
            ("UnhealthyHosts", "UnHealthyHostCount", "Maximum", 1, "an unhealthy target in"),
        ):
            made.append(
                t.add_resource(
                    cloudwatch.Alarm(
                        f"{colour}{kind}Alarm",
                        AlarmName=f"{config.prefix}-{colour.lower()}-{kind.lower()}",
                        AlarmDescription=f"{what} the {colour.lower()} target group in each of 2 minutes "
                        "(stops and rolls back a deployment).",
                        Namespace="AWS/ApplicationELB",
                        MetricName=metric,
                        Dimensions=dimensions,
                        Statistic=statistic,
                        Period=60,
                        EvaluationPeriods=2,
                        Threshold=threshold,
                        ComparisonOperator="GreaterThanOrEqualToThreshold",
                        TreatMissingData="notBreaching",
                    )
                )
            )
    return tuple(made)
