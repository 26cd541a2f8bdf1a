"""The `ecs` engine's release wait (blueprints.engines.release_commands.wait_for_ecs_deployment), run
as the buildspec runs it: bash and the real AWS CLI, here against a local HTTP server that answers
ECS's JSON protocol with canned responses. Every canned response (and every request the CLI sends)
is validated against botocore's ECS service model, so the shapes are the documented ones:
ListServiceDeployments, DescribeServiceRevisions, DescribeServiceDeployments (ECS API reference)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from blueprints.engines.release_commands import wait_for_ecs_deployment
from tests.helpers import assert_matches_shape

# bash and the real AWS CLI in subprocesses, a CLI start per call: seconds per test.
pytestmark = pytest.mark.slow

MODEL = botocore.session.get_session().get_service_model("ecs")
PREFIX = "arn:aws:ecs:eu-west-1:123456789012"
OURS = f"{PREFIX}:task-definition/webapp-web:7"
OTHER = f"{PREFIX}:task-definition/webapp-web:6"
SERVICE = f"{PREFIX}:service/webapp/webapp-web"
CLUSTER = f"{PREFIX}:cluster/webapp"
NOW = 1_764_600_000.0


def _deployment(ident: str, revision: str, status: str) -> dict[str, Any]:
    return {
        "serviceDeploymentArn": f"{PREFIX}:service-deployment/webapp/webapp-web/{ident}",
        "serviceArn": SERVICE,
        "clusterArn": CLUSTER,
        "createdAt": NOW,
        "startedAt": NOW,
        "targetServiceRevisionArn": f"{PREFIX}:service-revision/webapp/webapp-web/{revision}",
        "status": status,
    }


def _revision(revision: str, task_definition: str) -> dict[str, Any]:
    return {
        "serviceRevisionArn": f"{PREFIX}:service-revision/webapp/webapp-web/{revision}",
        "serviceArn": SERVICE,
        "clusterArn": CLUSTER,
        "taskDefinition": task_definition,
        "launchType": "FARGATE",
        "createdAt": NOW,
    }


# An earlier release's deployment (another task definition), finished SUCCESSFUL, listed first;
# and the deployment of this release's task definition.
EARLIER = _deployment("earlierDeploymentId000", "1111111111111111111", "SUCCESSFUL")
THIS = _deployment("thisReleaseDeploymentId", "2222222222222222222", "IN_PROGRESS")
REVISIONS = [_revision("1111111111111111111", OTHER), _revision("2222222222222222222", OURS)]


class CannedEcs:
    """Answers ListServiceDeployments, DescribeServiceRevisions and DescribeServiceDeployments; each
    DescribeServiceDeployments of a deployment answers its next status (the last one repeats)."""

    def __init__(self, listed: list[dict[str, Any]], statuses: dict[str, list[str]]):
        self.listed, self.statuses = listed, statuses
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def answer(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        model = MODEL.operation_model(operation)
        assert_matches_shape(request, model.input_shape, operation)
        self.requests.append((operation, request))
        if operation == "ListServiceDeployments":
            response: dict[str, Any] = {"serviceDeployments": self.listed}
        elif operation == "DescribeServiceRevisions":
            asked = request["serviceRevisionArns"]
            response = {"serviceRevisions": [r for r in REVISIONS if r["serviceRevisionArn"] in asked], "failures": []}
        elif operation == "DescribeServiceDeployments":
            found = []
            for arn in request["serviceDeploymentArns"]:
                brief = next(d for d in self.listed if d["serviceDeploymentArn"] == arn)
                queue = self.statuses[arn]
                status = queue.pop(0) if len(queue) > 1 else queue[0]
                described = {k: v for k, v in brief.items() if k != "targetServiceRevisionArn"}
                described.update(
                    status=status,
                    targetServiceRevision={"arn": brief["targetServiceRevisionArn"], "requestedTaskCount": 2},
                )
                if status.startswith("ROLLBACK"):
                    described["statusReason"] = "Service deployment rolled back because the circuit breaker tripped."
                found.append(described)
            response = {"serviceDeployments": found, "failures": []}
        else:
            raise AssertionError(f"the release wait called {operation}")
        assert_matches_shape(response, model.output_shape, operation)
        return response

    def described(self) -> set[str]:
        return {
            arn for op, r in self.requests if op == "DescribeServiceDeployments" for arn in r["serviceDeploymentArns"]
        }


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(canned: CannedEcs) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                target = self.headers["X-Amz-Target"]
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                body = json.dumps(canned.answer(target.split(".")[-1], request)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


def wait(endpoint: str, tmp_path: Path, deadline_minutes: int = 50) -> subprocess.CompletedProcess[str]:
    """The wait as the buildspec runs it (the step before set TASK_DEFINITION_ARN; bash with the
    ``set -euo pipefail`` of release.yml.j2), `sleep` a no-op."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "sleep").write_text("#!/bin/sh\n")
    (bin_dir / "sleep").chmod(0o755)
    env = {
        "PATH": os.pathsep.join([str(bin_dir), str(Path(sys.executable).parent), os.environ["PATH"]]),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": endpoint,
        "CLUSTER_NAME": "webapp",
        "SERVICE_NAME": "webapp-web",
        "TASK_DEFINITION_ARN": OURS,
    }
    script = wait_for_ecs_deployment("CLUSTER_NAME", "SERVICE_NAME", deadline_minutes)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_successful_deployment_of_the_task_definition_passes(serve, tmp_path):
    canned = CannedEcs([EARLIER, THIS], {THIS["serviceDeploymentArn"]: ["IN_PROGRESS", "SUCCESSFUL"]})
    result = wait(serve(canned), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{THIS['serviceDeploymentArn']}: IN_PROGRESS" in result.stdout
    assert f"{THIS['serviceDeploymentArn']}: SUCCESSFUL" in result.stdout
    # Found through the service, its cluster and a createdAt window, as ListServiceDeployments filters.
    operation, listed = canned.requests[0]
    assert operation == "ListServiceDeployments"
    assert (listed["service"], listed["cluster"], sorted(listed["createdAt"])) == ("webapp-web", "webapp", ["after"])


def test_rolled_back_deployment_fails_naming_the_status(serve, tmp_path):
    statuses = {THIS["serviceDeploymentArn"]: ["IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]}
    result = wait(serve(CannedEcs([EARLIER, THIS], statuses)), tmp_path)
    assert result.returncode != 0
    assert f"ECS did not deploy {OURS}" in result.stdout
    assert "ended ROLLBACK_SUCCESSFUL (Service deployment rolled back because the circuit breaker tripped.)" in (
        result.stdout
    )


@pytest.mark.parametrize("outcome", ["ROLLBACK_FAILED", "STOPPED"])
def test_other_completed_statuses_fail(serve, tmp_path, outcome):
    # Terminal statuses of botocore's ECS model (ServiceDeploymentStatus): every one but SUCCESSFUL fails.
    assert outcome in MODEL.shape_for("ServiceDeploymentStatus").enum
    result = wait(serve(CannedEcs([THIS], {THIS["serviceDeploymentArn"]: [outcome]})), tmp_path)
    assert result.returncode != 0
    assert f"ended {outcome}" in result.stdout


def test_a_deployment_of_another_task_definition_is_ignored(serve, tmp_path):
    # The earlier release's SUCCESSFUL deployment is listed first; the wait follows this release's.
    canned = CannedEcs([EARLIER, THIS], {THIS["serviceDeploymentArn"]: ["ROLLBACK_SUCCESSFUL"]})
    result = wait(serve(canned), tmp_path)
    assert result.returncode != 0
    assert canned.described() == {THIS["serviceDeploymentArn"]}
    # With only another task definition's deployment, the wait finds none and gives up at its deadline.
    canned = CannedEcs([EARLIER], {})
    result = wait(serve(canned), tmp_path, deadline_minutes=0)
    assert result.returncode != 0
    assert f"ECS started no service deployment of {OURS} on webapp-web within 0 minutes" in result.stdout
    assert canned.described() == set()


def test_the_waiting_and_completed_statuses_are_exactly_botocore_s():
    # botocore's ECS model (ServiceDeploymentStatus) is the list ECS answers with: each is either waited
    # for or ends the wait, and none of ours is a status ECS never reports.
    from blueprints.engines import release_commands

    waiting, completed = release_commands.SERVICE_DEPLOYMENT_WAITING, release_commands.SERVICE_DEPLOYMENT_COMPLETED
    assert not set(waiting) & set(completed)
    assert sorted(waiting + completed) == sorted(MODEL.shape_for("ServiceDeploymentStatus").enum)
