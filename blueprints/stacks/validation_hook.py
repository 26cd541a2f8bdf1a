"""Service stack, the validation hook: a Lambda function in the VPC that requests the new
version through the test listener during a deployment and reports to the engine (its handler is
the engine's ``hook_handler`` in blueprints/assets/validation_hook.py)."""

from __future__ import annotations

import json

from awacs import ec2 as awsec2
from awacs import logs as awslogs
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Parameter, Ref, awslambda, ec2, iam, logs
from troposphere import elasticloadbalancingv2 as elb

from .. import assets, naming, roles
from ..config import EnvironmentConfig
from ..engines.base import Engine, PlatformLoadBalancer, load_balancer_dns_name, load_balancer_full_name
from ..template import CfnTemplate, checkov_skip

HOOK_TIMEOUT_SECONDS = 300


def build(
    t: CfnTemplate,
    config: EnvironmentConfig,
    engine: Engine,
    private_subnets: Parameter,
    hook_group: ec2.SecurityGroup | Parameter,
    load_balancer: elb.LoadBalancer | PlatformLoadBalancer,
) -> awslambda.Function:
    svc = config.service
    log_group = t.add_resource(
        logs.LogGroup(
            "ValidationHookLogGroup",
            LogGroupName=naming.hook_log_group(config),
            RetentionInDays=svc.log_retention_days,
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Metadata=checkov_skip(
                ("CKV_AWS_158", "Holds only check results; AWS-owned keys encrypt it at rest."),
                ("CKV_AWS_338", "Retention follows service.log_retention_days."),
            ),
        )
    )
    statements = [
        Statement(
            Effect=Allow, Action=[awslogs.CreateLogStream, awslogs.PutLogEvents], Resource=[GetAtt(log_group, "Arn")]
        ),
        # The ENI actions Lambda needs to run in a VPC (those of AWS's managed policy
        # AWSLambdaVPCAccessExecutionRole, DescribeSubnets included), and the lookup of the load
        # balancer's private addresses: EC2 offers no resource-level permissions for Describe* and
        # Lambda picks the interfaces, so "*" is the narrowest.
        # https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaVPCAccessExecutionRole.html
        Statement(
            Effect=Allow,
            Action=[
                awsec2.CreateNetworkInterface,
                awsec2.DescribeNetworkInterfaces,
                awsec2.DescribeSubnets,
                awsec2.DeleteNetworkInterface,
                awsec2.AssignPrivateIpAddresses,
                awsec2.UnassignPrivateIpAddresses,
            ],
            Resource=["*"],
        ),
        *engine.hook_statements(config),
    ]
    role = t.add_resource(
        iam.Role(
            "ValidationHookRole",
            Description=f"Validation hook of {config.prefix}: report the result, write its logs.",
            AssumeRolePolicyDocument=roles.trust("lambda.amazonaws.com"),
            Policies=[roles.inline_policy("report-and-log", statements)],
            Metadata=checkov_skip(
                (
                    "CKV_AWS_111",
                    "Only the VPC network-interface actions Lambda needs, which have no narrower resource.",
                ),
                (
                    "CKV_AWS_290",
                    "Only the VPC network-interface actions Lambda needs, which have no narrower resource.",
                ),
            ),
        )
    )
    return t.add_resource(
        awslambda.Function(
            "ValidationHookFunction",
            DependsOn=log_group,
            FunctionName=naming.hook_function(config),
            Description="Requests the validation paths on the test listener and reports the result to the deployment.",
            Runtime="python3.12",
            Handler=f"index.{engine.hook_handler}",
            Role=GetAtt(role, "Arn"),
            Code=awslambda.Code(ZipFile=assets.text(assets.VALIDATION_HOOK)),
            Timeout=HOOK_TIMEOUT_SECONDS,
            MemorySize=128,
            VpcConfig=awslambda.VPCConfig(SubnetIds=Ref(private_subnets), SecurityGroupIds=[Ref(hook_group)]),
            Environment=awslambda.Environment(
                Variables={
                    "SCHEME": svc.scheme,
                    "TEST_PORT": str(svc.test_port),
                    "LOAD_BALANCER_NAME": load_balancer_full_name(load_balancer),
                    "LOAD_BALANCER_DNS": load_balancer_dns_name(load_balancer),
                    "PATHS": json.dumps(svc.validation_paths),
                    "EXPECTED_STATUS": str(svc.validation_expected_status),
                    "BODY_CONTAINS": svc.validation_body_contains or "",
                    "TIMEOUT_SECONDS": "5",
                    "RETRIES": "3",
                    **(
                        {"HOST_HEADER": config.route.host_headers[0]}
                        if config.route and config.route.host_headers
                        else {}
                    ),
                }
            ),
            Metadata=checkov_skip(
                (
                    "CKV_AWS_115",
                    "Reserved concurrency would take from small accounts' pool; one deployment runs at a time.",
                ),
                ("CKV_AWS_116", "The function reports failures to the deployment itself; a DLQ adds nothing."),
                ("CKV_AWS_173", "The variables hold no secrets (URLs, paths, expected status)."),
                ("CKV_AWS_272", "Inline source cannot be code-signed; it is reviewed in the template diff."),
            ),
        )
    )
