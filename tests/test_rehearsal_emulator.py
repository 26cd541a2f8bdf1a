"""Each gap the release rehearsal closes (deployer.rehearsal_emulator, deployer.rehearsal_docker)
exists because moto 5.2.5 behaves unlike AWS on the release path. Each test first shows moto's raw
behaviour on the unpatched endpoint (fixture ``moto``), so it fails once moto no longer needs the
workaround, then shows the rehearsal's in-process server answering as AWS does."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from moto.core.responses import ActionResult

from deployer import rehearsal_docker
from deployer.rehearsal_emulator import MOTO_VERSION, SERVICE_DEPLOYMENT_OUTCOMES, post_clean_scan, rehearsal_server
from tests.helpers import assert_matches_shape
from tests.moto_support import client

pytestmark = pytest.mark.deploy
REGION = "eu-west-1"


def test_workarounds_are_pinned_to_the_installed_moto():
    assert metadata.version("moto") == MOTO_VERSION


def _service_with_new_revision(endpoint: str) -> tuple[dict, str]:
    ecs = client(endpoint, "ecs")
    ecs.create_cluster(clusterName="c")
    container = {"name": "web", "image": "old", "memory": 512}
    first = ecs.register_task_definition(family="f", containerDefinitions=[container])["taskDefinition"]
    ecs.create_service(
        cluster="c", serviceName="s", taskDefinition=first["taskDefinitionArn"], desiredCount=1,
        deploymentController={"type": "ECS"},
    )  # fmt: skip
    second = ecs.register_task_definition(family="f", containerDefinitions=[{**container, "image": "new"}])
    arn = second["taskDefinition"]["taskDefinitionArn"]
    ecs.update_service(cluster="c", service="s", taskDefinition=arn)
    return ecs.describe_services(cluster="c", services=["s"])["services"][0], arn


def test_gap13_service_deployments_are_not_modelled(moto):
    service, arn = _service_with_new_revision(moto)
    # moto answers 500 (NotImplementedError) for the service deployment actions.
    with pytest.raises(ClientError, match="500"):
        client(moto, "ecs").list_service_deployments(cluster="c", service="s")
    with rehearsal_server() as endpoint:
        service, arn = _service_with_new_revision(endpoint)
        ecs = client(endpoint, "ecs")
        listed = ecs.list_service_deployments(cluster="c", service="s")["serviceDeployments"]
        [brief] = listed
        revisions = ecs.describe_service_revisions(serviceRevisionArns=[brief["targetServiceRevisionArn"]])
        statuses = [
            ecs.describe_service_deployments(serviceDeploymentArns=[brief["serviceDeploymentArn"]])[
                "serviceDeployments"
            ][0]["status"]
            for _ in range(3)
        ]
        later = ecs.list_service_deployments(cluster="c", service="s", createdAt={"after": "2999-01-01T00:00:00Z"})
    assert service["taskDefinition"] == arn  # the revision's ARN, as ECS reports it
    assert brief["serviceDeploymentArn"].startswith("arn:aws:ecs:eu-west-1:123456789012:service-deployment/c/s/")
    assert [r["taskDefinition"] for r in revisions["serviceRevisions"]] == [arn]
    assert statuses == ["IN_PROGRESS", "SUCCESSFUL", "SUCCESSFUL"]
    assert later["serviceDeployments"] == []  # the createdAt filter applies


def test_gap13_emulated_rollback_returns_the_service_to_the_source_revision():
    with rehearsal_server("ROLLBACK_SUCCESSFUL") as endpoint:
        _, arn = _service_with_new_revision(endpoint)
        ecs = client(endpoint, "ecs")
        [brief] = ecs.list_service_deployments(cluster="c", service="s")["serviceDeployments"]
        for _ in range(3):
            [described] = ecs.describe_service_deployments(serviceDeploymentArns=[brief["serviceDeploymentArn"]])[
                "serviceDeployments"
            ]
        after = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert described["status"] == "ROLLBACK_SUCCESSFUL"
    [source] = described["sourceServiceRevisions"]
    assert described["rollback"]["serviceRevisionArn"] == source["arn"]
    assert after["taskDefinition"] != arn and after["taskDefinition"].endswith("task-definition/f:1")


GAP_13_OPERATIONS = {"ListServiceDeployments", "DescribeServiceRevisions", "DescribeServiceDeployments"}


@contextlib.contextmanager
def _answers() -> Iterator[list[tuple[Any, Any]]]:
    """(operation model, result) of each answer of the in-process server, before moto's serializer:
    it writes only the members of botocore's output shape and drops any other key without a word, so a
    misspelt field would reach a client as a missing one. The check is on what the emulator answered."""
    seen: list[tuple[Any, Any]] = []
    original = ActionResult.execute_result

    def spy(self: ActionResult, context: Any) -> Any:
        seen.append((context.operation_model, self.result))
        return original(self, context)

    with mock.patch.object(ActionResult, "execute_result", spy):
        yield seen


@pytest.mark.parametrize("outcome", sorted(SERVICE_DEPLOYMENT_OUTCOMES))
def test_gap13_answers_have_the_shapes_of_botocores_ecs_model(outcome):
    """Every answer of the three emulated actions, through each outcome to its end, against botocore's
    ECS model (botocore/data/ecs/2014-11-13/service-2.json): member names, types, required members and
    enum values (ServiceDeploymentStatus, LaunchType). An unknown ARN is a failure with reason MISSING,
    as DescribeServiceDeploymentsResponse.failures documents."""
    with rehearsal_server(outcome) as endpoint, _answers() as seen:
        _service_with_new_revision(endpoint)
        ecs = client(endpoint, "ecs")
        [brief] = ecs.list_service_deployments(cluster="c", service="s")["serviceDeployments"]
        ecs.describe_service_revisions(serviceRevisionArns=[brief["targetServiceRevisionArn"]])
        deployment, unknown = brief["serviceDeploymentArn"], brief["serviceDeploymentArn"] + "x"
        for _ in SERVICE_DEPLOYMENT_OUTCOMES[outcome]:
            answer = ecs.describe_service_deployments(serviceDeploymentArns=[deployment, unknown])
        ecs.list_service_deployments(cluster="c", service="s", status=[outcome])
    assert answer["serviceDeployments"][0]["status"] == outcome
    assert answer["failures"] == [{"arn": unknown, "reason": "MISSING"}]
    checked = [(model, result) for model, result in seen if model.name in GAP_13_OPERATIONS]
    assert {model.name for model, _ in checked} == GAP_13_OPERATIONS
    for model, result in checked:
        assert_matches_shape(result, model.output_shape, model.name)
    listed = [result["serviceDeployments"] for model, result in checked if model.name == "ListServiceDeployments"]
    assert [[b["status"] for b in answer] for answer in listed] == [["IN_PROGRESS"], [outcome]]


def _push(endpoint: str, scan_on_push: bool = True) -> str:
    ecr = client(endpoint, "ecr")
    ecr.create_repository(repositoryName="repo", imageScanningConfiguration={"scanOnPush": scan_on_push})
    manifest = rehearsal_docker.image_manifest("repo:t")
    pushed = ecr.put_image(repositoryName="repo", imageTag="t", imageManifest=manifest)
    digest: str = pushed["image"]["imageId"]["imageDigest"]
    return digest


def test_gap14_scan_on_push_starts_no_scan(moto, monkeypatch, tmp_path):
    digest = _push(moto)
    with pytest.raises(ClientError, match="ScanNotFoundException"):
        client(moto, "ecr").describe_image_scan_findings(repositoryName="repo", imageId={"imageDigest": digest})
    # The docker stand-in's push starts the scan (and, by default, posts a clean result: gap 15).
    with rehearsal_server() as endpoint:
        client(endpoint, "ecr").create_repository(
            repositoryName="repo", imageScanningConfiguration={"scanOnPush": True}
        )
        monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        monkeypatch.setenv("REHEARSAL_PUSHES", str(tmp_path / "pushes.jsonl"))
        assert rehearsal_docker.main(["push", f"123456789012.dkr.ecr.{REGION}.amazonaws.com/repo:t"]) == 0
        [pushed] = [json.loads(line) for line in (tmp_path / "pushes.jsonl").read_text().splitlines()]
        found = client(endpoint, "ecr").describe_image_scan_findings(
            repositoryName="repo", imageId={"imageDigest": pushed["digest"]}
        )
    assert (pushed["scan_on_push"], found["imageScanStatus"]["status"]) == (True, "COMPLETE")
    assert found["imageScanFindings"]["findingSeverityCounts"] == {}


def test_gap15_a_scan_finds_a_static_high_vulnerability_unless_a_result_is_posted(moto):
    ecr = client(moto, "ecr")
    digest = _push(moto)
    ecr.start_image_scan(repositoryName="repo", imageId={"imageDigest": digest})
    found = ecr.describe_image_scan_findings(repositoryName="repo", imageId={"imageDigest": digest})
    assert found["imageScanFindings"]["findingSeverityCounts"] == {"HIGH": 1}
    with rehearsal_server() as endpoint:
        ecr = client(endpoint, "ecr")
        digest = _push(endpoint)
        ecr.start_image_scan(repositoryName="repo", imageId={"imageDigest": digest})
        post_clean_scan(endpoint, REGION, "repo", digest)
        found = ecr.describe_image_scan_findings(repositoryName="repo", imageId={"imageDigest": digest})
    assert found["imageScanStatus"]["status"] == "COMPLETE"
    assert found["imageScanFindings"]["findingSeverityCounts"] == {}
    assert found["imageId"]["imageDigest"] == digest


TASK_STACK = {
    "Parameters": {"Image": {"Type": "String"}},
    "Resources": {
        "Task": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {
                "Family": "f",
                "Memory": "512",
                "ContainerDefinitions": [{"Name": "web", "Image": {"Ref": "Image"}, "Essential": True}],
            },
        }
    },
}


def _task_image_after_update(endpoint: str) -> dict:
    cf = client(endpoint)
    body = json.dumps(TASK_STACK)
    cf.create_stack(StackName="t", TemplateBody=body, Parameters=[{"ParameterKey": "Image", "ParameterValue": "a"}])
    cf.update_stack(StackName="t", TemplateBody=body, Parameters=[{"ParameterKey": "Image", "ParameterValue": "b"}])
    arn = cf.describe_stack_resource(StackName="t", LogicalResourceId="Task")["StackResourceDetail"][
        "PhysicalResourceId"
    ]
    container: dict = client(endpoint, "ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"][
        "containerDefinitions"
    ][0]
    return container


def test_gap16_a_stack_update_registers_container_definitions_without_image(moto):
    assert "image" not in _task_image_after_update(moto)
    with rehearsal_server() as endpoint:
        assert _task_image_after_update(endpoint)["image"] == "b"


REPOSITORY_STACK = {
    "Resources": {
        "Repo": {
            "Type": "AWS::ECR::Repository",
            "Properties": {"RepositoryName": "scanned", "ImageScanningConfiguration": {"ScanOnPush": True}},
        }
    }
}


def _scan_on_push(endpoint: str) -> bool:
    client(endpoint).create_stack(StackName="repo", TemplateBody=json.dumps(REPOSITORY_STACK))
    [repository] = client(endpoint, "ecr").describe_repositories(repositoryNames=["scanned"])["repositories"]
    return bool(repository["imageScanningConfiguration"].get("scanOnPush"))


def test_gap17_a_template_repositorys_scan_on_push_is_not_reported(moto):
    assert _scan_on_push(moto) is False
    with rehearsal_server() as endpoint:
        assert _scan_on_push(endpoint) is True


LIST_STACK = {
    "Parameters": {"Subnets": {"Type": "CommaDelimitedList"}},
    "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/g/list"}}},
}


def _listed_parameter(endpoint: str) -> str:
    cf = client(endpoint)
    parameters = [{"ParameterKey": "Subnets", "ParameterValue": "a,b"}]
    cf.create_stack(StackName="list", TemplateBody=json.dumps(LIST_STACK), Parameters=parameters)
    value: str = cf.describe_stacks(StackName="list")["Stacks"][0]["Parameters"][0]["ParameterValue"]
    return value


def test_gap18_describe_stacks_shows_a_comma_delimited_list_as_a_python_list(moto):
    assert _listed_parameter(moto) == "['a', 'b']"
    with rehearsal_server() as endpoint:
        assert _listed_parameter(endpoint) == "a,b"
