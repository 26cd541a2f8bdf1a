"""Network blueprint: topology as a user relies on it, read from the generated dict."""

from __future__ import annotations

import ipaddress

import pytest

from blueprints.config import EnvironmentConfig
from blueprints.stacks import network
from tests.helpers import environments, template


def _config(**network_overrides) -> EnvironmentConfig:
    net = {"vpc_cidr": "10.0.0.0/16", "availability_zones": 3, "subnet_prefix_length": 20, "nat": "per-az"}
    net.update(network_overrides)
    return EnvironmentConfig.model_validate(
        {"project": "shop", "environment": "test", "region": "us-east-1", "network": net}
    )


def _of_type(body: dict, kind: str) -> dict:
    return {k: v for k, v in body["Resources"].items() if v["Type"] == kind}


def _route_target(body: dict, subnet: str) -> dict:
    """The default route of the route table associated with ``subnet``."""
    assoc = next(
        v
        for v in _of_type(body, "AWS::EC2::SubnetRouteTableAssociation").values()
        if v["Properties"]["SubnetId"] == {"Ref": subnet}
    )
    table = assoc["Properties"]["RouteTableId"]
    return next(
        v["Properties"]
        for v in _of_type(body, "AWS::EC2::Route").values()
        if v["Properties"]["RouteTableId"] == table and v["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
    )


@pytest.mark.parametrize("env", environments())
def test_subnets_are_inside_the_vpc_and_disjoint(env):
    body = template(env, "network")
    vpc = ipaddress.IPv4Network(body["Resources"]["Vpc"]["Properties"]["CidrBlock"])
    subnets = [ipaddress.IPv4Network(v["Properties"]["CidrBlock"]) for v in _of_type(body, "AWS::EC2::Subnet").values()]
    assert all(s.subnet_of(vpc) for s in subnets)
    assert all(not a.overlaps(b) for i, a in enumerate(subnets) for b in subnets[i + 1 :])


@pytest.mark.parametrize("env", environments())
def test_default_routes(env):
    body = template(env, "network")
    subnets = _of_type(body, "AWS::EC2::Subnet")
    for name in subnets:
        target = _route_target(body, name)
        if name.startswith("Public"):
            assert target["GatewayId"] == {"Ref": "InternetGateway"}
        else:
            assert body["Resources"][target["NatGatewayId"]["Ref"]]["Type"] == "AWS::EC2::NatGateway"


@pytest.mark.parametrize("mode,zones,expected", [("single", 3, 1), ("per-az", 3, 3), ("per-az", 2, 2)])
def test_nat_gateway_count_per_mode(mode, zones, expected):
    body = network.build(_config(nat=mode, availability_zones=zones)).to_dict()
    gateways = _of_type(body, "AWS::EC2::NatGateway")
    assert len(gateways) == expected
    assert len(_of_type(body, "AWS::EC2::EIP")) == expected
    for gateway in gateways.values():
        assert gateway["Properties"]["SubnetId"]["Ref"].startswith("PublicSubnet")
    if mode == "per-az":
        # Each zone's private subnet uses the NAT gateway in its own zone.
        for i in range(1, zones + 1):
            assert _route_target(body, f"PrivateSubnet{i}")["NatGatewayId"] == {"Ref": f"NatGateway{i}"}


def test_sample_environments_follow_their_nat_modes():
    assert len(_of_type(template("dev", "network"), "AWS::EC2::NatGateway")) == 1
    assert len(_of_type(template("prod", "network"), "AWS::EC2::NatGateway")) == 3
    assert len(_of_type(template("prod", "network"), "AWS::EC2::Subnet")) == 6


def test_adding_a_zone_keeps_existing_subnet_cidrs():
    """Subnet CIDRs are stable, so growing from 2 to 3 zones replaces no subnet."""
    two = _config(availability_zones=2).network.subnet_cidrs()
    three = _config(availability_zones=3).network.subnet_cidrs()
    assert three[0][:2] == two[0] and three[1][:2] == two[1]


def test_pinned_zone_names_arrive_as_a_parameter():
    body = network.build(_config(availability_zones=["us-east-1a", "us-east-1c"])).to_dict()
    assert body["Parameters"]["AvailabilityZones"]["Default"] == "us-east-1a,us-east-1c"
    assert body["Resources"]["PublicSubnet2"]["Properties"]["AvailabilityZone"] == {
        "Fn::Select": [1, {"Ref": "AvailabilityZones"}]
    }


def test_flow_logs_write_only_to_their_log_group():
    body = template("prod", "network")
    flow_log = body["Resources"]["VpcFlowLog"]["Properties"]
    assert flow_log["ResourceId"] == {"Ref": "Vpc"} and flow_log["TrafficType"] == "ALL"
    assert flow_log["LogGroupName"] == {"Ref": "FlowLogGroup"}
    statements = body["Resources"]["FlowLogRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    # AWS's sample policy for the flow-log role, less logs:CreateLogGroup (the stack creates the
    # group). DescribeLogGroups has no resource-level permissions, so it alone is on "*".
    # https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
    sample = {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogGroups",
        "logs:DescribeLogStreams",
    }
    assert {a for s in statements for a in s["Action"]} == sample - {"logs:CreateLogGroup"}
    assert [s["Resource"] for s in statements if s["Resource"] != ["*"]] == [[{"Fn::GetAtt": ["FlowLogGroup", "Arn"]}]]
    assert [s["Action"] for s in statements if s["Resource"] == ["*"]] == [["logs:DescribeLogGroups"]]
    assert body["Resources"]["FlowLogGroup"]["DeletionPolicy"] == "Retain"
    assert template("dev", "network")["Resources"]["FlowLogGroup"]["DeletionPolicy"] == "Delete"


def test_s3_gateway_endpoint_serves_private_route_tables():
    body = template("prod", "network")
    tables = body["Resources"]["S3GatewayEndpoint"]["Properties"]["RouteTableIds"]
    assert tables == [{"Ref": f"PrivateRouteTable{i}"} for i in (1, 2, 3)]


@pytest.mark.parametrize("env", environments())
def test_parameters_outputs_and_interface(env):
    body = template(env, "network")
    assert body["Description"]
    grouped = {
        p for g in body["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"] for p in g["Parameters"]
    }
    assert grouped == set(body["Parameters"])
    assert all(p["Description"] for p in body["Parameters"].values())
    assert {"VpcId", "VpcCidr", "PublicSubnetIds", "PrivateSubnetIds", "AvailabilityZones"} <= set(body["Outputs"])
    assert all(o["Description"] for o in body["Outputs"].values())
