"""Network stack: VPC, public and private subnets per zone, internet and NAT gateways,
routes, an S3 gateway endpoint and VPC flow logs.

``build(config)`` returns the template; each ``_builder`` adds one part of it.
"""

from __future__ import annotations

from awacs import logs as awslogs
from awacs.aws import Allow, Statement
from troposphere import AWSHelperFn, GetAtt, GetAZs, Join, Ref, Select, Sub, Tags, ec2, iam, logs

from .. import roles
from ..config import EnvironmentConfig
from ..config.network import LOG_RETENTION_DAYS
from ..template import CfnTemplate, checkov_skip

STACK = "network"


def build(config: EnvironmentConfig) -> CfnTemplate:
    net = config.network
    t = CfnTemplate(
        f"Network for {config.prefix}: VPC {net.vpc_cidr} across {net.zone_count} availability zones, "
        f"{'one NAT gateway per zone' if net.nat == 'per-az' else 'one shared NAT gateway'}, flow logs."
    )
    zones = _zones(t, config)
    _vpc(t, config)
    public, private = _subnets(t, config, zones)
    _internet_routes(t, config, public)
    nat_gateways = _nat_gateways(t, config, public)
    private_tables = _private_routes(t, config, private, nat_gateways)
    _s3_endpoint(t, private_tables)
    _flow_logs(t, config)
    _outputs(t, config, public, private)
    return t


def _name(config: EnvironmentConfig, suffix: str) -> Tags:
    return Tags(Name=f"{config.prefix}-{suffix}")


def _zones(t: CfnTemplate, config: EnvironmentConfig) -> list[AWSHelperFn]:
    """Zone of each subnet: picked from the region's list, or the names params pin."""
    net = config.network
    if isinstance(net.availability_zones, int):
        return [Select(i, GetAZs(Ref("AWS::Region"))) for i in range(net.zone_count)]
    # Pinned zones arrive as a parameter so that the resources reference rather than
    # hard-code them (cfn-lint W3010), and a reviewer sees them in one place.
    t.param(
        "AvailabilityZones",
        "Availability zones of the subnets, in order (pinned in the parameter file).",
        "Network",
        type="List<AWS::EC2::AvailabilityZone::Name>",
        Default=",".join(net.availability_zones),
    )
    return [Select(i, Ref("AvailabilityZones")) for i in range(net.zone_count)]


def _vpc(t: CfnTemplate, config: EnvironmentConfig) -> None:
    t.add_resource(
        ec2.VPC(
            "Vpc",
            CidrBlock=config.network.vpc_cidr,
            EnableDnsSupport=True,
            EnableDnsHostnames=True,
            Tags=_name(config, "vpc"),
        )
    )
    t.add_resource(ec2.InternetGateway("InternetGateway", Tags=_name(config, "igw")))
    t.add_resource(
        ec2.VPCGatewayAttachment(
            "InternetGatewayAttachment",
            VpcId=Ref("Vpc"),
            InternetGatewayId=Ref("InternetGateway"),
        )
    )


def _subnets(t: CfnTemplate, config: EnvironmentConfig, zones: list) -> tuple[list[str], list[str]]:
    public_cidrs, private_cidrs = config.network.subnet_cidrs()
    public: list[str] = []
    private: list[str] = []
    for i, zone in enumerate(zones, start=1):
        for tier, cidrs, ids in (("Public", public_cidrs, public), ("Private", private_cidrs, private)):
            logical_id = f"{tier}Subnet{i}"
            # No public IPs on launch, even in public subnets: only the load balancer and the
            # NAT gateways live there, and both get their addresses explicitly.
            t.add_resource(
                ec2.Subnet(
                    logical_id,
                    VpcId=Ref("Vpc"),
                    CidrBlock=cidrs[i - 1],
                    AvailabilityZone=zone,
                    MapPublicIpOnLaunch=False,
                    Tags=_name(config, f"{tier.lower()}-{i}"),
                )
            )
            ids.append(logical_id)
    return public, private


def _internet_routes(t: CfnTemplate, config: EnvironmentConfig, public: list[str]) -> None:
    t.add_resource(ec2.RouteTable("PublicRouteTable", VpcId=Ref("Vpc"), Tags=_name(config, "public")))
    t.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn="InternetGatewayAttachment",
            RouteTableId=Ref("PublicRouteTable"),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref("InternetGateway"),
        )
    )
    for subnet in public:
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"{subnet}RouteTableAssociation",
                SubnetId=Ref(subnet),
                RouteTableId=Ref("PublicRouteTable"),
            )
        )


def _nat_gateways(t: CfnTemplate, config: EnvironmentConfig, public: list[str]) -> list[str]:
    count = len(public) if config.network.nat == "per-az" else 1
    gateways = []
    for i in range(1, count + 1):
        t.add_resource(
            ec2.EIP(
                f"NatElasticIp{i}",
                DependsOn="InternetGatewayAttachment",
                Domain="vpc",
                Tags=_name(config, f"nat-{i}"),
            )
        )
        t.add_resource(
            ec2.NatGateway(
                f"NatGateway{i}",
                AllocationId=GetAtt(f"NatElasticIp{i}", "AllocationId"),
                SubnetId=Ref(public[i - 1]),
                Tags=_name(config, f"nat-{i}"),
            )
        )
        gateways.append(f"NatGateway{i}")
    return gateways


def _private_routes(t: CfnTemplate, config: EnvironmentConfig, private: list[str], nat: list[str]) -> list[str]:
    """One route table per private subnet, in both NAT modes, so switching modes only re-points routes."""
    tables = []
    for i, subnet in enumerate(private, start=1):
        table = f"PrivateRouteTable{i}"
        t.add_resource(ec2.RouteTable(table, VpcId=Ref("Vpc"), Tags=_name(config, f"private-{i}")))
        t.add_resource(
            ec2.Route(
                f"PrivateDefaultRoute{i}",
                RouteTableId=Ref(table),
                DestinationCidrBlock="0.0.0.0/0",
                NatGatewayId=Ref(nat[i - 1] if len(nat) > 1 else nat[0]),
            )
        )
        t.add_resource(
            ec2.SubnetRouteTableAssociation(
                f"{subnet}RouteTableAssociation",
                SubnetId=Ref(subnet),
                RouteTableId=Ref(table),
            )
        )
        tables.append(table)
    return tables


def _s3_endpoint(t: CfnTemplate, private_tables: list[str]) -> None:
    # Image layers pulled from ECR are served from S3: a gateway endpoint keeps that traffic
    # off the NAT gateways (no per-GB NAT charge) at no cost of its own.
    t.add_resource(
        ec2.VPCEndpoint(
            "S3GatewayEndpoint",
            VpcId=Ref("Vpc"),
            VpcEndpointType="Gateway",
            ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
            RouteTableIds=[Ref(x) for x in private_tables],
        )
    )


def _flow_logs(t: CfnTemplate, config: EnvironmentConfig) -> None:
    net = config.network
    t.param(
        "FlowLogRetentionInDays",
        "Days CloudWatch Logs keeps the VPC flow logs.",
        "Flow logs",
        type="Number",
        Default=net.flow_log_retention_days,
        AllowedValues=list(LOG_RETENTION_DAYS),
    )
    t.add_resource(
        logs.LogGroup(
            "FlowLogGroup",
            LogGroupName=f"/vpc/{config.prefix}/flow-logs",
            RetentionInDays=Ref("FlowLogRetentionInDays"),
            # Audit data: protected environments keep the log group when the stack goes.
            DeletionPolicy=config.retain_policy,
            UpdateReplacePolicy=config.retain_policy,
            Metadata=checkov_skip(
                ("CKV_AWS_158", "Flow logs hold no secrets; CloudWatch Logs encrypts them at rest with AWS-owned keys.")
            ),
        )
    )
    t.add_resource(
        iam.Role(
            "FlowLogRole",
            Description=f"Lets VPC Flow Logs write to the {config.prefix} flow-log group, and nothing else.",
            # Confused-deputy guard: only flow logs of this account may assume the role.
            AssumeRolePolicyDocument=roles.trust("vpc-flow-logs.amazonaws.com"),
            Policies=[
                roles.inline_policy(
                    "write-flow-log-group",
                    [
                        Statement(
                            Effect=Allow,
                            Action=[awslogs.CreateLogStream, awslogs.PutLogEvents, awslogs.DescribeLogStreams],
                            Resource=[GetAtt("FlowLogGroup", "Arn")],
                        ),
                        # In AWS's sample flow-log role policy; DescribeLogGroups has no
                        # resource-level permissions (IAM authorization data), so only "*" grants it.
                        # https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
                        Statement(Effect=Allow, Action=[awslogs.DescribeLogGroups], Resource=["*"]),
                    ],
                )
            ],
        )
    )
    t.add_resource(
        ec2.FlowLog(
            "VpcFlowLog",
            ResourceType="VPC",
            ResourceId=Ref("Vpc"),
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref("FlowLogGroup"),
            DeliverLogsPermissionArn=GetAtt("FlowLogRole", "Arn"),
            Tags=_name(config, "flow-log"),
        )
    )


def _outputs(t: CfnTemplate, config: EnvironmentConfig, public: list[str], private: list[str]) -> None:
    t.output("VpcId", Ref("Vpc"), "ID of the VPC.")
    t.output("VpcCidr", GetAtt("Vpc", "CidrBlock"), "IPv4 CIDR of the VPC.")
    t.output(
        "PublicSubnetIds",
        Join(",", [Ref(s) for s in public]),
        "Comma-delimited IDs of the public subnets (load balancer, NAT gateways), in zone order.",
    )
    t.output(
        "PrivateSubnetIds",
        Join(",", [Ref(s) for s in private]),
        "Comma-delimited IDs of the private subnets (tasks), in zone order.",
    )
    t.output(
        "AvailabilityZones",
        Join(",", [GetAtt(s, "AvailabilityZone") for s in private]),
        "Comma-delimited availability zones used, in order.",
    )
