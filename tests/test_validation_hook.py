"""The validation hook: the core check against a real HTTP server on 127.0.0.1, and the
CodeDeploy adapter reporting through botocore's Stubber."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import boto3
import pytest
from botocore.stub import Stubber

from blueprints.assets import validation_hook as hook
from blueprints.config.service import ServiceConfig
from blueprints.stacks.validation_hook import HOOK_TIMEOUT_SECONDS
from tests.helpers import template

SHIPPED_RETRY_DELAY_SECONDS = hook.RETRY_DELAY_SECONDS  # before no_retry_delay sets it to 0
EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "hook-exec-1"}


class _App(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes]]] = {
        "/": (200, b"Hello from the sample app"),
        "/health": (200, b"ok"),
        "/broken": (500, b"boom"),
    }

    def do_GET(self):
        if self.path == "/slow":
            time.sleep(1.0)
        status, body = self.routes.get(self.path, (404, b"not found"))
        self.server.hosts.append(self.headers.get("Host"))
        try:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:
            pass  # the client of a timeout test gave up on /slow, as intended

    def log_message(self, *args):
        pass


def _serve(address: str) -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer((address, 0), _App)
    httpd.hosts = []
    # shutdown() waits for the serving loop's next poll: the default 0.5 s would dominate each test.
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server():
    yield from _serve("127.0.0.1")


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch):
    monkeypatch.setattr(hook, "RETRY_DELAY_SECONDS", 0)


def _url(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_all_paths_pass(server):
    result = hook.check(_url(server), ["/", "/health"], 200, None, timeout=2, retries=2)
    assert result["passed"] is True
    assert [(c["path"], c["status"], c["passed"], c["attempts"]) for c in result["checks"]] == [
        ("/", 200, True, 1),
        ("/health", 200, True, 1),
    ]


def test_body_substring_must_appear(server):
    assert hook.check(_url(server), ["/"], 200, "sample app", timeout=2, retries=1)["passed"] is True
    result = hook.check(_url(server), ["/"], 200, "welcome", timeout=2, retries=1)
    assert result["passed"] is False
    assert result["checks"][0]["error"] == "body does not contain 'welcome'"


def test_non_matching_status_fails_after_every_retry(server):
    result = hook.check(_url(server), ["/", "/broken"], 200, None, timeout=2, retries=3)
    assert result["passed"] is False
    ok, broken = result["checks"]
    assert ok["passed"] is True
    assert (broken["passed"], broken["status"], broken["attempts"]) == (False, 500, 3)
    assert broken["error"] == "status 500, expected 200"


def test_timeout_is_a_failure(server):
    result = hook.check(_url(server), ["/slow"], 200, None, timeout=0.2, retries=2)
    check = result["checks"][0]
    assert result["passed"] is False
    assert check["status"] is None and check["attempts"] == 2
    assert "timed out" in check["error"]


def test_connection_refused_is_a_failure():
    result = hook.check(f"http://127.0.0.1:{_closed_port()}", ["/"], 200, None, timeout=1, retries=2)
    check = result["checks"][0]
    assert result["passed"] is False and check["status"] is None
    assert "Connection refused" in check["error"] or "ConnectionRefusedError" in check["error"]


# --- CodeDeploy adapter -------------------------------------------------------------------


class _FakeEc2:
    """Returns the load balancer's network interfaces: here, the local test server."""

    def __init__(self, addresses):
        self.addresses, self.calls = addresses, []

    def describe_network_interfaces(self, Filters):  # noqa: N803 - boto3's naming
        self.calls.append(Filters)
        return {"NetworkInterfaces": [{"PrivateIpAddress": a} for a in self.addresses]}


def _environ(port: int, paths=("/",), status=200) -> dict:
    return {
        "SCHEME": "http",
        "TEST_PORT": str(port),
        "LOAD_BALANCER_NAME": "app/webapp-dev-alb/0123456789abcdef",
        "LOAD_BALANCER_DNS": "webapp-dev-alb-1.eu-west-1.elb.amazonaws.com",
        "PATHS": json.dumps(list(paths)),
        "EXPECTED_STATUS": str(status),
        "BODY_CONTAINS": "",
        "TIMEOUT_SECONDS": "1",
        "RETRIES": "2",
    }


def _codedeploy(expected_status: str | None, error: str | None = None):
    client = boto3.client("codedeploy", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    params = {
        "deploymentId": EVENT["DeploymentId"],
        "lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"],
        "status": expected_status,
    }
    if error:
        stubber.add_client_error(
            "put_lifecycle_event_hook_execution_status",
            service_error_code=error,
            http_status_code=400,
            expected_params=params,
        )
    else:
        stubber.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": EVENT["LifecycleEventHookExecutionId"]},
            params,
        )
    stubber.activate()
    return client, stubber


def _handle(environ, ec2, codedeploy):
    return hook.codedeploy_handler(dict(EVENT), None, codedeploy=codedeploy, ec2=ec2, environ=environ)


def test_codedeploy_reports_succeeded_when_all_paths_pass(server):
    client, stubber = _codedeploy("Succeeded")
    ec2 = _FakeEc2(["127.0.0.1"])
    assert _handle(_environ(server.server_address[1], ["/", "/health"]), ec2, client) == {"status": "Succeeded"}
    stubber.assert_no_pending_responses()
    assert ec2.calls == [[{"Name": "description", "Values": ["ELB app/webapp-dev-alb/0123456789abcdef"]}]]
    # Requests go to the private address but name the load balancer, as a browser would.
    assert set(server.hosts) == {"webapp-dev-alb-1.eu-west-1.elb.amazonaws.com"}


def test_codedeploy_reports_failed_on_a_non_matching_status(server):
    client, stubber = _codedeploy("Failed")
    assert _handle(_environ(server.server_address[1], ["/broken"]), _FakeEc2(["127.0.0.1"]), client) == {
        "status": "Failed"
    }
    stubber.assert_no_pending_responses()


def test_codedeploy_reports_failed_on_a_timeout(server):
    client, stubber = _codedeploy("Failed")
    environ = _environ(server.server_address[1], ["/slow"])
    environ["TIMEOUT_SECONDS"] = "0.2"
    assert _handle(environ, _FakeEc2(["127.0.0.1"]), client) == {"status": "Failed"}
    stubber.assert_no_pending_responses()


def test_codedeploy_reports_failed_on_connection_refused():
    client, stubber = _codedeploy("Failed")
    assert _handle(_environ(_closed_port()), _FakeEc2(["127.0.0.1"]), client) == {"status": "Failed"}
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize("broken", ["no-interface", "bad-settings"])
def test_codedeploy_reports_failed_when_the_check_cannot_run(server, broken):
    client, stubber = _codedeploy("Failed")
    environ = _environ(server.server_address[1])
    ec2 = _FakeEc2([] if broken == "no-interface" else ["127.0.0.1"])
    if broken == "bad-settings":
        del environ["PATHS"]
    assert _handle(environ, ec2, client) == {"status": "Failed"}
    stubber.assert_no_pending_responses()


def test_a_failing_codedeploy_call_raises_so_lambda_retries(server):
    client, stubber = _codedeploy("Succeeded", error="DeploymentDoesNotExistException")
    with pytest.raises(client.exceptions.DeploymentDoesNotExistException):
        _handle(_environ(server.server_address[1]), _FakeEc2(["127.0.0.1"]), client)
    stubber.assert_no_pending_responses()


def test_source_fits_inline_and_needs_only_the_lambda_runtime():
    """The source is embedded as Code.ZipFile (a zip of at most 4 MB, per the CloudFormation
    reference); the template itself must stay under the 51,200-byte TemplateBody limit, which
    tests/test_service.py checks. Imports must be standard library or boto3."""
    import ast
    from pathlib import Path

    source = Path(hook.__file__).read_text()
    assert len(source.encode()) < 4 * 1024 * 1024
    imported = {
        node.names[0].name.split(".")[0] for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import)
    }
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"json", "logging", "os", "ssl", "time", "urllib", "boto3"}


# --- ECS adapter (engine ecs) ---------------------------------------------------------------

# A POST_TEST_TRAFFIC_SHIFT payload in the documented shape (ECS developer guide, "Lifecycle hooks
# for Amazon ECS service deployments": serviceArn, targetServiceRevisionArn and the weights).
ECS_EVENT = {
    "serviceArn": "arn:aws:ecs:eu-west-1:111122223333:service/webapp-preview/webapp-preview-service",
    "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:111122223333:service-revision/webapp-preview/"
    "webapp-preview-service/2",
    "testTrafficWeights": {
        "arn:aws:ecs:eu-west-1:111122223333:service-revision/webapp-preview/webapp-preview-service/2": 100
    },
    "productionTrafficWeights": {
        "arn:aws:ecs:eu-west-1:111122223333:service-revision/webapp-preview/webapp-preview-service/1": 100
    },
}


def test_ecs_hook_returns_succeeded_when_all_paths_pass(server):
    ec2 = _FakeEc2(["127.0.0.1"])
    result = hook.ecs_handler(
        dict(ECS_EVENT), None, ec2=ec2, environ=_environ(server.server_address[1], ["/", "/health"])
    )
    assert result == {"hookStatus": "SUCCEEDED"}
    assert ec2.calls == [[{"Name": "description", "Values": ["ELB app/webapp-dev-alb/0123456789abcdef"]}]]
    assert set(server.hosts) == {"webapp-dev-alb-1.eu-west-1.elb.amazonaws.com"}


def test_ecs_hook_returns_failed_on_a_non_matching_status(server):
    result = hook.ecs_handler(
        dict(ECS_EVENT), None, ec2=_FakeEc2(["127.0.0.1"]), environ=_environ(server.server_address[1], ["/", "/broken"])
    )
    assert result == {"hookStatus": "FAILED"}


@pytest.mark.parametrize("broken", ["no-interface", "bad-settings", "refused"])
def test_ecs_hook_returns_failed_when_the_check_cannot_run(server, broken):
    environ = _environ(_closed_port() if broken == "refused" else server.server_address[1])
    if broken == "bad-settings":
        del environ["EXPECTED_STATUS"]
    ec2 = _FakeEc2([] if broken == "no-interface" else ["127.0.0.1"])
    assert hook.ecs_handler(dict(ECS_EVENT), None, ec2=ec2, environ=environ) == {"hookStatus": "FAILED"}


def test_ecs_hook_answers_in_its_result_only(server, monkeypatch):
    """ECS reads hookStatus from the return value: the adapter creates no AWS client to report
    (only the EC2 lookup it is given) and answers even for an event without optional fields."""
    import boto3 as boto3_module

    monkeypatch.setattr(boto3_module, "client", _refuse_client)
    result = hook.ecs_handler({}, None, ec2=_FakeEc2(["127.0.0.1"]), environ=_environ(server.server_address[1]))
    assert result == {"hookStatus": "SUCCEEDED"}


def _refuse_client(name, *args, **kwargs):
    raise AssertionError(f"the ECS hook must not create a {name} client")


def test_cloudformation_engine_event_uses_the_codedeploy_contract(server):
    """The AWS::CodeDeployBlueGreen transform runs a CodeDeploy deployment: CodeDeploy invokes the
    AfterAllowTestTraffic hook with DeploymentId and LifecycleEventHookExecutionId and waits for
    PutLifecycleEventHookExecutionStatus, so the cloudformation engine uses codedeploy_handler."""
    from blueprints import engines

    assert engines.get("cloudformation").hook_handler == "codedeploy_handler"
    client, stubber = _codedeploy("Succeeded")
    assert _handle(_environ(server.server_address[1]), _FakeEc2(["127.0.0.1"]), client) == {"status": "Succeeded"}
    stubber.assert_no_pending_responses()


# --- several load balancer addresses ---------------------------------------------------------


@pytest.fixture
def server_on_3():
    """The sample app on 127.0.0.3: 127.0.0.2, sorted first, answers nothing on that port."""
    yield from _serve("127.0.0.3")


def test_an_address_that_answers_nothing_is_skipped_for_the_next(server_on_3):
    port = server_on_3.server_address[1]
    result = hook.run_check(hook.settings(_environ(port)), _FakeEc2(["127.0.0.3", "127.0.0.2"]))
    assert result["passed"] is True and result["address"] == "127.0.0.3"


def test_an_answer_from_the_first_address_is_the_verdict(server_on_3):
    # Both addresses are the same server here: a failing answer must not be retried elsewhere.
    port = server_on_3.server_address[1]
    ec2 = _FakeEc2(["127.0.0.3", "127.0.0.3"])
    result = hook.run_check(hook.settings(_environ(port, paths=("/broken",))), ec2)
    assert result["passed"] is False and result["checks"][0]["status"] == 500
    assert len(server_on_3.hosts) == 2  # the two retries on one address, no third request


def test_no_address_answering_is_a_failure():
    port = _closed_port()
    result = hook.run_check(hook.settings(_environ(port)), _FakeEc2(["127.0.0.2", "127.0.0.4"]))
    assert result["passed"] is False and result["address"] == "127.0.0.4"


class _LambdaContext:
    """The one method of Lambda's Python context object the hook calls."""

    def __init__(self, remaining_ms: int):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _checked_addresses(monkeypatch) -> list[str]:
    tried: list[str] = []
    real_check = hook.check

    def recording_check(base_url, *args, **kwargs):
        tried.append(base_url.split("//")[1].split(":")[0])
        return real_check(base_url, *args, **kwargs)

    monkeypatch.setattr(hook, "check", recording_check)
    return tried


def test_another_address_is_tried_only_while_its_whole_check_and_the_report_fit(monkeypatch):
    # RETRIES 2, TIMEOUT_SECONDS 1, no retry delay here: a check of one path on a silent address
    # takes up to 2 s; with REPORT_SECONDS kept for the report, 12 s left are enough, 11.9 s not.
    tried = _checked_addresses(monkeypatch)
    conf, ec2 = hook.settings(_environ(_closed_port())), _FakeEc2(["127.0.0.2", "127.0.0.4"])
    assert hook.run_check(conf, ec2, _LambdaContext((hook.REPORT_SECONDS + 2) * 1000))["address"] == "127.0.0.4"
    assert tried == ["127.0.0.2", "127.0.0.4"]
    tried.clear()
    assert hook.run_check(conf, ec2, _LambdaContext((hook.REPORT_SECONDS + 2) * 1000 - 100))["address"] == "127.0.0.2"
    assert tried == ["127.0.0.2"]


def test_both_handlers_pass_their_context_and_keep_time_to_report(monkeypatch):
    tried = _checked_addresses(monkeypatch)
    environ, ec2, short = _environ(_closed_port()), _FakeEc2(["127.0.0.2", "127.0.0.4"]), _LambdaContext(1000)
    client, stubber = _codedeploy("Failed")
    assert hook.codedeploy_handler(dict(EVENT), short, codedeploy=client, ec2=ec2, environ=environ) == {
        "status": "Failed"
    }
    stubber.assert_no_pending_responses()
    assert hook.ecs_handler(dict(ECS_EVENT), short, ec2=ec2, environ=environ) == {"hookStatus": "FAILED"}
    assert tried == ["127.0.0.2", "127.0.0.2"]


def test_one_address_always_fits_in_the_function_timeout():
    """The first address is always checked: with the template's settings and the most paths a service
    may list, its longest check (every attempt timing out, then the retry delays) and the report fit in
    the function's Timeout."""
    function = template("dev", "service")["Resources"]["ValidationHookFunction"]["Properties"]
    variables = function["Environment"]["Variables"]
    assert (variables["TIMEOUT_SECONDS"], variables["RETRIES"], function["Timeout"]) == ("5", "3", HOOK_TIMEOUT_SECONDS)
    with pytest.raises(ValueError, match="must list 1 to 10 paths"):
        ServiceConfig.model_validate({"validation_paths": ["/"] * 11})
    per_path = 3 * 5 + SHIPPED_RETRY_DELAY_SECONDS * (1 + 2)
    assert 10 * per_path + hook.REPORT_SECONDS <= HOOK_TIMEOUT_SECONDS
