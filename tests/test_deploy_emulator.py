"""Each workaround in scripts/deployer/emulator.py exists because moto 5.2.5 behaves unlike
CloudFormation. These tests call the raw endpoint (no workaround) and fail once moto is fixed,
so that the workaround can be removed."""

from __future__ import annotations

import json
from importlib import metadata

import pytest
from botocore.exceptions import ClientError
from botocore.parsers import ResponseParserError

from deployer import emulator
from deployer.aws import Aws
from tests.helpers import ROOT, SUBNET_TEMPLATE, log_group_template
from tests.moto_support import client

pytestmark = pytest.mark.deploy
# moto answers an unimplemented or crashing call with an HTML 500 page, which botocore either
# reports as a 500 ClientError or fails to parse (after retrying).
MOTO_SERVER_ERROR = (ClientError, ResponseParserError)


def _create(cf, name, template, parameters=(), kind="CREATE"):
    made = cf.create_change_set(
        StackName=name,
        ChangeSetName="c" + str(abs(hash(json.dumps(template))) % 10**8),
        ChangeSetType=kind,
        TemplateBody=json.dumps(template),
        Parameters=list(parameters),
    )
    return made


def test_workarounds_are_pinned_to_the_installed_moto():
    assert metadata.version("moto") == emulator.MOTO_VERSION


def test_gap1_get_azs_of_the_region_reference_breaks_subnets(moto):
    cf = client(moto)
    template = SUBNET_TEMPLATE
    made = _create(cf, "azs", template)
    with pytest.raises(ClientError, match="Ref': 'AWS::Region'}a"):
        cf.execute_change_set(ChangeSetName=made["Id"])
    fixed = json.loads(emulator.template_for_emulator(template, "eu-west-1"))
    assert fixed["Resources"]["Sub"]["Properties"]["AvailabilityZone"]["Fn::Select"][1] == {"Fn::GetAZs": "eu-west-1"}


def test_gap2_no_outputs_after_executing_a_change_set(moto):
    cf = client(moto)
    made = _create(cf, "outs", log_group_template("/g/outs"), [{"ParameterKey": "Retention", "ParameterValue": "7"}])
    cf.execute_change_set(ChangeSetName=made["Id"])
    assert "Outputs" not in cf.describe_stacks(StackName="outs")["Stacks"][0]
    emulator.refresh_outputs(cf, made["StackId"], [])
    assert cf.describe_stacks(StackName="outs")["Stacks"][0]["Outputs"][0]["OutputValue"] == "/g/outs"


def test_gap3_identical_resubmit_is_an_error_not_an_empty_change_set(moto):
    cf = client(moto)
    params = [{"ParameterKey": "Retention", "ParameterValue": "7"}]
    made = _create(cf, "same", log_group_template("/g/same"), params)
    cf.execute_change_set(ChangeSetName=made["Id"])
    with pytest.raises(ClientError) as exc:
        cf.create_change_set(
            StackName="same",
            ChangeSetName="again",
            ChangeSetType="UPDATE",
            TemplateBody=json.dumps(log_group_template("/g/same")),
            Parameters=params,
        )
    assert emulator.is_no_updates(exc.value)


def test_gap4_failing_resource_fails_execute_and_leaves_review_in_progress(moto):
    cf = client(moto)
    bad = {
        "Resources": {
            "Sub": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": "vpc-missing", "CidrBlock": "10.0.0.0/24"}}
        }
    }
    made = _create(cf, "bad", bad)
    with pytest.raises(ClientError):
        cf.execute_change_set(ChangeSetName=made["Id"])
    assert cf.describe_stacks(StackName="bad")["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"


def test_gap5_create_change_set_on_a_review_stack_makes_a_second_stack(moto):
    cf = client(moto)
    _create(cf, "twice", log_group_template("/g/a"), [{"ParameterKey": "Retention", "ParameterValue": "7"}])
    _create(cf, "twice", log_group_template("/g/b"), [{"ParameterKey": "Retention", "ParameterValue": "7"}])
    assert [s["StackName"] for s in cf.describe_stacks()["Stacks"]] == ["twice", "twice"]


def test_gap6_delete_of_the_network_stack_answers_an_error(moto):
    cf = client(moto)
    network = json.loads((ROOT / "out" / "dev" / "network.json").read_text())
    body = emulator.template_for_emulator(network, "eu-west-1")
    made = cf.create_change_set(
        StackName="net",
        ChangeSetName="c",
        ChangeSetType="CREATE",
        TemplateBody=body,
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "FlowLogRetentionInDays", "ParameterValue": "14"}],
    )
    cf.execute_change_set(ChangeSetName=made["Id"])
    with pytest.raises(ClientError, match="DependencyViolation"):
        cf.delete_stack(StackName="net")
    assert cf.describe_stacks()["Stacks"] == []  # yet the stack is gone


def test_gap7_get_att_of_an_unmodelled_resource_fails_the_stack(moto):
    cf = client(moto)
    template = {
        "Resources": {
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "MetricName": "m",
                    "Namespace": "n",
                    "ComparisonOperator": "GreaterThanThreshold",
                    "EvaluationPeriods": 1,
                    "Period": 60,
                    "Statistic": "Sum",
                    "Threshold": 1,
                },
            },
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::GetAtt": ["Alarm", "Arn"]}}},
        }
    }
    made = _create(cf, "alarm", template)
    with pytest.raises(ClientError, match="references undefined resource Alarm"):
        cf.execute_change_set(ChangeSetName=made["Id"])
    fixed = json.loads(emulator.template_for_emulator(template, "eu-west-1"))
    assert fixed["Resources"]["Logs"]["Properties"]["LogGroupName"] == "emulator-not-modelled:Alarm.Arn"


def test_gap8_change_set_execution_ignores_depends_on(moto):
    cf = client(moto)
    template = {
        "Resources": {
            "Service": {
                "Type": "AWS::ECS::Service",
                "DependsOn": ["Task"],
                "Properties": {"Cluster": {"Ref": "Cluster"}, "TaskDefinition": "fam", "DesiredCount": 0},
            },
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "c"}},
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "fam",
                    "ContainerDefinitions": [{"Name": "web", "Image": "nginx", "Memory": 128}],
                },
            },
        }
    }
    made = _create(cf, "order", template)
    with pytest.raises(ClientError, match="Unable to describe task definition"):
        cf.execute_change_set(ChangeSetName=made["Id"])
    assert list(json.loads(emulator.template_for_emulator(template, "eu-west-1"))["Resources"]) == [
        "Cluster",
        "Task",
        "Service",
    ]


def test_gap9_comma_delimited_list_parameters_come_back_as_python_lists(moto):
    cf = client(moto)
    template = {
        "Parameters": {"Ids": {"Type": "CommaDelimitedList"}},
        "Resources": {
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": {"Fn::Join": ["-", {"Ref": "Ids"}]}}}
        },
    }
    made = _create(cf, "list", template, [{"ParameterKey": "Ids", "ParameterValue": "a,b"}])
    cf.execute_change_set(ChangeSetName=made["Id"])
    stack = cf.describe_stacks(StackName="list")["Stacks"][0]
    assert stack["Parameters"][0]["ParameterValue"] == "['a', 'b']"
    assert emulator.normalise_stack(stack)["Parameters"][0]["ParameterValue"] == "a,b"


def test_gap10_target_group_name_attribute_drops_all_outputs(moto):
    cf = client(moto)
    template = {
        "Resources": {
            "Net": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Group": {
                "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
                "Properties": {
                    "Name": "tg",
                    "Port": 80,
                    "Protocol": "HTTP",
                    "VpcId": {"Ref": "Net"},
                    "TargetType": "ip",
                },
            },
        },
        "Outputs": {"Name": {"Value": {"Fn::GetAtt": ["Group", "TargetGroupName"]}}, "Vpc": {"Value": {"Ref": "Net"}}},
    }
    made = _create(cf, "tg", template)
    cf.execute_change_set(ChangeSetName=made["Id"])
    emulator.refresh_outputs(cf, made["StackId"], [])
    assert "Outputs" not in cf.describe_stacks(StackName="tg")["Stacks"][0]
    fixed = json.loads(emulator.template_for_emulator(template, "eu-west-1"))
    assert fixed["Outputs"]["Name"]["Value"] == "tg"


def test_gap11_update_termination_protection_is_not_implemented(moto):
    cf = client(moto)
    made = _create(cf, "tp", log_group_template("/g/tp"), [{"ParameterKey": "Retention", "ParameterValue": "7"}])
    cf.execute_change_set(ChangeSetName=made["Id"])
    with pytest.raises(MOTO_SERVER_ERROR, match=r"500|Internal Server Error"):
        cf.update_termination_protection(StackName="tp", EnableTerminationProtection=True)


def test_gap12_service_without_task_definition_breaks_the_change_set(moto):
    """An EXTERNAL-controller service (engine cloudformation) has no TaskDefinition: moto fails."""
    cf = client(moto)
    template = {
        "Resources": {
            "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {}},
            "Task": {
                "Type": "AWS::ECS::TaskDefinition",
                "Properties": {
                    "Family": "f",
                    "ContainerDefinitions": [{"Name": "web", "Image": "nginx", "Memory": 512}],
                },
            },
            "Service": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "Cluster": {"Ref": "Cluster"},
                    "DeploymentController": {"Type": "EXTERNAL"},
                    "DesiredCount": 1,
                },
            },
        }
    }
    made = _create(cf, "external", template)
    with pytest.raises(MOTO_SERVER_ERROR, match=r"500|Internal Server Error"):
        cf.execute_change_set(ChangeSetName=made["Id"])
    fixed = json.loads(emulator.template_for_emulator(template, "eu-west-1"))
    assert fixed["Resources"]["Service"]["Properties"]["TaskDefinition"] == {"Ref": "Task"}


def test_gap23_a_modified_log_group_loses_its_ref_and_the_stack_its_outputs(moto):
    """No workaround: moto 5.2.5 has no CloudFormation update for AWS::Logs::LogGroup, so after a change
    set modifies one, a Ref to it resolves to nothing and DescribeStacks drops every Output. A
    dependant wired to such a stack then finds its outputs missing (the deploy tests avoid it)."""
    cf = client(moto)
    made = _create(
        cf, "modified", log_group_template("/g/modified"), [{"ParameterKey": "Retention", "ParameterValue": "7"}]
    )
    cf.execute_change_set(ChangeSetName=made["Id"])
    emulator.refresh_outputs(cf, made["StackId"], [])
    assert cf.describe_stacks(StackName="modified")["Stacks"][0]["Outputs"][0]["OutputValue"] == "/g/modified"
    changed = cf.create_change_set(
        StackName="modified",
        ChangeSetName="c14",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(log_group_template("/g/modified")),
        Parameters=[{"ParameterKey": "Retention", "ParameterValue": "14"}],
    )
    cf.execute_change_set(ChangeSetName=changed["Id"])
    emulator.refresh_outputs(cf, made["StackId"], [])
    assert "Outputs" not in cf.describe_stacks(StackName="modified")["Stacks"][0]


def test_gap27_a_listener_needs_its_certificate_on_the_emulator(moto):
    """moto 5.2.5 creates an HTTPS listener only if its certificate exists in its ACM (or IAM), and the
    user's certificate never does: the emulator provider requests a stand-in and names it instead. If
    moto ever accepts an unknown certificate, this test fails and the stand-in can go."""
    import boto3

    elbv2 = boto3.client(
        "elbv2", endpoint_url=moto, region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    ec2 = boto3.client(
        "ec2", endpoint_url=moto, region_name="eu-west-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    balancer = elbv2.create_load_balancer(Name="gap27", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    placeholder = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    with pytest.raises(Exception, match="certificate"):
        elbv2.create_listener(
            LoadBalancerArn=balancer,
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": placeholder}],
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200"}}],
        )
    provider = emulator.EmulatorProvider(moto)
    entry = type(
        "Entry",
        (),
        {
            "region": "eu-west-1",
            "template": {
                "Resources": {
                    "L": {
                        "Type": "AWS::ElasticLoadBalancingV2::Listener",
                        "Properties": {"Certificates": [{"CertificateArn": placeholder}]},
                    }
                }
            },
        },
    )()
    sent = json.loads(provider.prepare_template(entry))
    stand_in = sent["Resources"]["L"]["Properties"]["Certificates"][0]["CertificateArn"]
    assert stand_in != placeholder and ":acm:" in stand_in
    assert json.loads(provider.prepare_template(entry)) == sent  # the same stand-in every time


GAP28_TEMPLATE = {
    "Parameters": {"Listener": {"Type": "String"}, "Vpc": {"Type": "String"}},
    "Resources": {
        "Group": {
            "Type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "Properties": {
                "Name": "gap28-blue",
                "Port": 80,
                "Protocol": "HTTP",
                "TargetType": "ip",
                "VpcId": {"Ref": "Vpc"},
            },
        },
        "Rule": {
            "Type": "AWS::ElasticLoadBalancingV2::ListenerRule",
            "Properties": {
                "ListenerArn": {"Ref": "Listener"},
                "Priority": 10,
                "Conditions": [{"Field": "host-header", "HostHeaderConfig": {"Values": ["www.example.com"]}}],
                "Actions": [
                    {
                        "Type": "forward",
                        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": {"Ref": "Group"}, "Weight": 100}]},
                    }
                ],
            },
        },
    },
}


def test_gap28_delete_stack_leaves_a_rule_on_a_shared_listener_and_its_target_group(moto):
    """A service stack of a several-services environment puts its rules on the platform stack's listener.
    moto 5.2.5's DeleteStack deletes neither them nor the target group (nor an ECS service or task
    definition): the rule keeps routing, and creating the stack again fails on the target group's name.
    If moto ever deletes them, the first assertions fail and the workaround can go."""
    cf, ec2, elbv2 = client(moto), client(moto, "ec2"), client(moto, "elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"eu-west-1{z}")["Subnet"]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    balancer = elbv2.create_load_balancer(Name="gap28", Subnets=subnets)["LoadBalancers"][0]["LoadBalancerArn"]
    not_found = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}
    listener = elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80, DefaultActions=[not_found])
    listener_arn = listener["Listeners"][0]["ListenerArn"]
    parameters = [
        {"ParameterKey": "Listener", "ParameterValue": listener_arn},
        {"ParameterKey": "Vpc", "ParameterValue": vpc},
    ]
    made = _create(cf, "gap28", GAP28_TEMPLATE, parameters)
    cf.execute_change_set(ChangeSetName=made["Id"])
    assert len(elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]) == 2  # the stack's rule and the default
    leftovers = emulator.deletion_leftovers(cf, made["StackId"])
    assert [kind for kind, _ in leftovers] == [
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
    ]
    cf.delete_stack(StackName="gap28")
    assert cf.describe_stacks()["Stacks"] == []
    # moto's raw behaviour: the rule still routes, the target group is still there.
    assert len(elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]) == 2
    assert [g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]] == ["gap28-blue"]
    again = _create(cf, "gap28", GAP28_TEMPLATE, parameters)
    with pytest.raises(ClientError, match="target group with the specified name already exists"):
        cf.execute_change_set(ChangeSetName=again["Id"])
    cf.delete_stack(StackName="gap28")

    aws = Aws(endpoint_url=moto, credentials=emulator.FAKE_CREDENTIALS, emulator=True)
    lines = emulator.remove_leftovers(aws, "eu-west-1", leftovers)
    assert lines == [
        "  emulator: moto's DeleteStack left 1 ListenerRule, 1 TargetGroup in place (gap 28); deleted now, as "
        "CloudFormation does"
    ]
    [default] = elbv2.describe_rules(ListenerArn=listener_arn)["Rules"]
    assert default["IsDefault"] and elbv2.describe_target_groups()["TargetGroups"] == []
