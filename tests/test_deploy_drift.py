"""fargate-deploy drift with botocore's Stubber (moto 5.2.5 has no drift detection: gap 20), using the
documented response shapes of DetectStackDrift, DescribeStackDriftDetectionStatus and
DescribeStackResourceDrifts (CloudFormation API reference)."""

from __future__ import annotations

import datetime as dt
import io

from botocore.stub import Stubber

from deployer import CHANGES, FAILED, OK
from deployer.changesets import Options
from deployer.context import Context
from deployer.drift import drift, expected_reason
from deployer.manifest import Manifest
from deployer.reporter import Reporter
from tests.helpers import fast_waiter, stack_entry, stub_client

STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/app-svc/1"
DETECTION = "b78ac9b0-dec1-11e7-a451-503a3e3b7f2a"
NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
CODEDEPLOY_TEMPLATE = {
    "Resources": {
        "ProductionListener": {"Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": {}},
        "Service": {"Type": "AWS::ECS::Service", "Properties": {"DeploymentController": {"Type": "CODE_DEPLOY"}}},
        "DeploymentGroup": {"Type": "AWS::CodeDeploy::DeploymentGroup", "Properties": {}},
        "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 14}},
    }
}
ECS_TEMPLATE = {
    "Resources": {
        "ProductionRule": {"Type": "AWS::ElasticLoadBalancingV2::ListenerRule", "Properties": {}},
        "Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "DeploymentController": {"Type": "ECS"},
                "DeploymentConfiguration": {"Strategy": "BLUE_GREEN"},
            },
        },
    }
}


class _FakeAws:
    def __init__(self, cfn):
        self._cfn = cfn

    def cfn(self, region):
        return self._cfn


def _context(cfn, template, output):
    entry = stack_entry("service", template, stack_name="app-svc")
    manifest = Manifest(env="dev", folder=None, stacks=[entry], selected=[entry])
    return Context(manifest, _FakeAws(cfn), Options(), fast_waiter(), reporter=Reporter(output))


def _drift(logical, kind, *differences, status="MODIFIED"):
    return {
        "StackId": STACK_ID,
        "LogicalResourceId": logical,
        "PhysicalResourceId": f"phys-{logical}",
        "ResourceType": kind,
        "StackResourceDriftStatus": status,
        "Timestamp": NOW,
        "PropertyDifferences": [
            {"PropertyPath": path, "ExpectedValue": old, "ActualValue": new, "DifferenceType": "NOT_EQUAL"}
            for path, old, new in differences
        ],
    }


def _run(template, drifts, stack_status="DRIFTED"):
    cfn = stub_client()
    output = io.StringIO()
    ctx = _context(cfn, template, output)
    with Stubber(cfn) as stub:
        stack = {"StackName": "app-svc", "StackId": STACK_ID, "StackStatus": "UPDATE_COMPLETE", "CreationTime": NOW}
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "app-svc"})
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": DETECTION}, {"StackName": STACK_ID})
        status = {"StackId": STACK_ID, "StackDriftDetectionId": DETECTION, "Timestamp": NOW}
        stub.add_response(
            "describe_stack_drift_detection_status",
            {**status, "DetectionStatus": "DETECTION_IN_PROGRESS"},
            {"StackDriftDetectionId": DETECTION},
        )
        stub.add_response(
            "describe_stack_drift_detection_status",
            {
                **status,
                "DetectionStatus": "DETECTION_COMPLETE",
                "StackDriftStatus": stack_status,
                "DriftedStackResourceCount": len(drifts),
            },
            {"StackDriftDetectionId": DETECTION},
        )
        stub.add_response(
            "describe_stack_resource_drifts",
            {"StackResourceDrifts": drifts},
            {"StackName": STACK_ID, "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]},
        )
        code = drift(ctx)
        stub.assert_no_pending_responses()
    return code, output.getvalue()


def test_drift_made_by_releases_is_listed_as_expected_and_exits_0():
    code, out = _run(
        CODEDEPLOY_TEMPLATE,
        [
            _drift(
                "ProductionListener",
                "AWS::ElasticLoadBalancingV2::Listener",
                ("/DefaultActions/0/TargetGroupArn", "arn:tg/blue", "arn:tg/green"),
            ),
            _drift("Service", "AWS::ECS::Service", ("/TaskDefinition", "arn:td/web:1", "arn:td/web:7")),
        ],
    )
    assert code == OK, out
    assert "ProductionListener (AWS::ElasticLoadBalancingV2::Listener) MODIFIED [expected: CodeDeploy moved" in out
    assert "/DefaultActions/0/TargetGroupArn: arn:tg/blue -> arn:tg/green" in out
    assert "/TaskDefinition: arn:td/web:1 -> arn:td/web:7" in out
    assert "Drift: 0 unexpected, 2 expected" in out


def test_unexpected_drift_is_marked_and_exits_3():
    code, out = _run(
        CODEDEPLOY_TEMPLATE,
        [
            _drift("Logs", "AWS::Logs::LogGroup", ("/RetentionInDays", "14", "30")),
            _drift("Service", "AWS::ECS::Service", ("/TaskDefinition", "arn:td/web:1", "arn:td/web:7")),
        ],
    )
    assert code == CHANGES, out
    assert "~ Logs (AWS::Logs::LogGroup) MODIFIED [UNEXPECTED]" in out
    assert "/RetentionInDays: 14 -> 30" in out
    assert "Drift: 1 unexpected, 1 expected" in out


def test_in_sync_exits_0():
    code, out = _run(CODEDEPLOY_TEMPLATE, [], stack_status="IN_SYNC")
    assert code == OK and "app-svc: IN_SYNC" in out


def test_ecs_owned_listener_rule_weights_are_expected_only_for_engine_ecs():
    path = "/Actions/0/ForwardConfig/TargetGroups/1/Weight"
    rule = "AWS::ElasticLoadBalancingV2::ListenerRule"
    assert expected_reason(rule, path, ECS_TEMPLATE) == "ECS blue/green owns the listener rule's target group weights"
    assert expected_reason(rule, path, CODEDEPLOY_TEMPLATE) is None
    assert expected_reason(rule, "/Conditions/0/Values/0", ECS_TEMPLATE) is None
    # a listener's default action is CodeDeploy's only when CodeDeploy moves traffic
    listener = "AWS::ElasticLoadBalancingV2::Listener"
    assert expected_reason(listener, "/DefaultActions/0/TargetGroupArn", ECS_TEMPLATE) is None
    code, out = _run(ECS_TEMPLATE, [_drift("ProductionRule", rule, (path, "0", "100"))])
    assert code == OK and "[expected: ECS blue/green owns" in out


def test_codedeploy_moves_the_rules_of_a_service_on_shared_listeners():
    """A CodeDeploy service of a several-services environment has listener rules of its own on the
    platform's listeners: a release rewrites their actions, which is expected drift; their conditions are not."""
    rule = "AWS::ElasticLoadBalancingV2::ListenerRule"
    shared = {
        "Resources": {**CODEDEPLOY_TEMPLATE["Resources"], "ProductionRule": ECS_TEMPLATE["Resources"]["ProductionRule"]}
    }
    assert expected_reason(rule, "/Actions/0/TargetGroupArn", shared) == (
        "CodeDeploy moved the service's traffic to the other target group (its listener rule)"
    )
    assert expected_reason(rule, "/Conditions/0/Values/0", shared) is None
    assert expected_reason(rule, "/Actions/0/TargetGroupArn", CODEDEPLOY_TEMPLATE) is None


def test_a_deleted_resource_is_unexpected_and_a_failed_detection_exits_1():
    code, out = _run(CODEDEPLOY_TEMPLATE, [_drift("Logs", "AWS::Logs::LogGroup", status="DELETED")])
    assert code == CHANGES and "- Logs (AWS::Logs::LogGroup) DELETED [UNEXPECTED]" in out
    cfn = stub_client()
    output = io.StringIO()
    with Stubber(cfn) as stub:
        stack = {"StackName": "app-svc", "StackId": STACK_ID, "StackStatus": "UPDATE_IN_PROGRESS", "CreationTime": NOW}
        stub.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "app-svc"})
        stub.add_client_error(
            "detect_stack_drift",
            "ValidationError",
            f"Stack:{STACK_ID} is in UPDATE_IN_PROGRESS state and can not be updated.",
        )
        assert drift(_context(cfn, CODEDEPLOY_TEMPLATE, output)) == FAILED
    assert "app-svc is in UPDATE_IN_PROGRESS: another operation" in output.getvalue()
