"""EMULATOR SUPPORT for the release rehearsal (fargate-deploy rehearse): moto 5.2.5 in this process.

The rehearsal runs the release's own commands (the AWS CLI in the buildspecs) against moto, so the
gaps they hit cannot be closed around the calls as deployer.emulator closes the deployer's: they
are closed in the server, which is why the rehearsal runs moto in-process (ThreadedMotoServer) on
127.0.0.1. Gaps 1–12 are deployer.emulator's (the rehearsal deploys through it). The release path
adds, each with a test in tests/test_rehearsal_emulator.py that shows moto's raw behaviour still
needs the workaround:

- 13: ECS service deployments are not modelled: ListServiceDeployments, DescribeServiceDeployments
  and DescribeServiceRevisions are unimplemented actions, and UpdateService keeps a task definition's
  family name where ECS reports the revision's ARN (emulated here: UpdateService records a service
  deployment and its service revisions, answered as the ECS API reference documents them);
- 14: ECR ignores ScanOnPush (closed by the docker stand-in's push, deployer.rehearsal_docker);
- 15: DescribeImageScanFindings answers a static HIGH finding (a clean result is posted here);
- 16: a stack update registers container definitions in PascalCase (patched here);
- 17: a template's repository reports no scanOnPush (patched here);
- 18: DescribeStacks shows a CommaDelimitedList as a Python list (patched here).

Not gaps of moto's API but of what it models, emulated by the rehearsal and reported as such: the
CodeDeploy deployment (deployer.rehearsal_deploy.codedeploy_to_ecs), the blue/green transform's
green deployment (deployer.rehearsal_deploy.bluegreen_transform) and the traffic move of an ECS or
CodeDeploy blue/green deployment on the service stack's own listener rules
(deployer.rehearsal_traffic). None of this code runs against AWS.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import urllib.request
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from .emulator import MOTO_VERSION

HOST = "127.0.0.1"
# Gap 15: moto answers DescribeImageScanFindings with a static HIGH finding unless a result was
# posted here for the repository and image (moto/ecr/models.py, describe_image_scan_findings).
SCAN_RESULTS_API = "/moto-api/static/ecr/scan-finding-results"
# moto's default account, the one its ARNs and ECR registry carry.
ACCOUNT = "123456789012"


# Gap 13's verdicts: the statuses an emulated service deployment passes through, one per
# DescribeServiceDeployments call, its last one completed (ECS developer guide, "View service history
# using Amazon ECS service deployments": ongoing IN_PROGRESS, ROLLBACK_IN_PROGRESS; completed
# SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED).
SERVICE_DEPLOYMENT_OUTCOMES: dict[str, tuple[str, ...]] = {
    "SUCCESSFUL": ("IN_PROGRESS", "SUCCESSFUL"),
    "ROLLBACK_SUCCESSFUL": ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"),
    "ROLLBACK_FAILED": ("IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED"),
    "STOPPED": ("IN_PROGRESS", "STOP_REQUESTED", "STOPPED"),
}
STATUS_REASONS = {
    "SUCCESSFUL": "Service deployment succeeded (emulated by the release rehearsal).",
    "ROLLBACK_SUCCESSFUL": "Service deployment rolled back (emulated by the release rehearsal).",
    "ROLLBACK_FAILED": "Service deployment rollback failed (emulated by the release rehearsal).",
    "STOPPED": "Service deployment stopped (emulated by the release rehearsal).",
}


class _ServiceDeployments:
    """Gap 13's state in one moto ECS backend (a moto reset replaces the backend, and with it this):
    service revisions and the service deployments between them."""

    def __init__(self) -> None:
        self.revisions: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.current: dict[str, str] = {}  # service ARN -> its current revision's ARN

    @staticmethod
    def of(backend: Any) -> _ServiceDeployments:
        state: _ServiceDeployments | None = backend.__dict__.get("_rehearsal_service_deployments")
        if state is None:
            state = backend.__dict__["_rehearsal_service_deployments"] = _ServiceDeployments()
        return state

    def revision(self, service: Any, task_definition: str) -> str:
        """A service revision of ``service`` running ``task_definition`` (ServiceRevision: the ARN
        service-revision/CLUSTER/SERVICE/ID as AWS's examples show it, and the taskDefinition)."""
        from moto.core.utils import utcnow
        from moto.moto_api._internal import mock_random

        region_account = service.arn.split(":service/")[0]
        arn = f"{region_account}:service-revision/{service.cluster_name}/{service.name}/" + str(
            mock_random.randint(10**18, 10**19 - 1)
        )
        self.revisions[arn] = {
            "serviceRevisionArn": arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "taskDefinition": task_definition,
            "launchType": service.launch_type or "FARGATE",
            "loadBalancers": service.load_balancers,
            "createdAt": utcnow(),
        }
        return arn

    def deploy(self, service: Any, previous: str | None, target: str, outcome: str) -> None:
        from moto.core.utils import utcnow
        from moto.moto_api._internal import mock_random

        source = self.current.get(service.arn) or (self.revision(service, previous) if previous else None)
        target_revision = self.revision(service, target)
        self.current[service.arn] = target_revision
        region_account = service.arn.split(":service/")[0]
        deployment_id = "".join(
            mock_random.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(21)
        )
        arn = f"{region_account}:service-deployment/{service.cluster_name}/{service.name}/{deployment_id}"
        now = utcnow()
        self.deployments[arn] = {
            "arn": arn,
            "service": service,
            "source": source,
            "target": target_revision,
            "statuses": SERVICE_DEPLOYMENT_OUTCOMES[outcome],
            "answered": 0,
            "createdAt": now,
            "updatedAt": now,
        }

    def status(self, deployment: dict[str, Any]) -> str:
        statuses: tuple[str, ...] = deployment["statuses"]
        return statuses[min(deployment["answered"], len(statuses) - 1)]

    def advance(self, deployment: dict[str, Any]) -> None:
        """One DescribeServiceDeployments answer later; a rollback returns the service to the source
        revision's task definition, as ECS does."""
        from moto.core.utils import utcnow

        before = self.status(deployment)
        deployment["answered"] += 1
        after = self.status(deployment)
        if after != before:
            deployment["updatedAt"] = utcnow()
            if after == "ROLLBACK_SUCCESSFUL" and deployment["source"]:
                service = deployment["service"]
                service.task_definition = self.revisions[deployment["source"]]["taskDefinition"]
                self.current[service.arn] = deployment["source"]

    def brief(self, deployment: dict[str, Any]) -> dict[str, Any]:
        """ServiceDeploymentBrief (ECS API reference)."""
        status = self.status(deployment)
        service = deployment["service"]
        found = {
            "serviceDeploymentArn": deployment["arn"],
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "createdAt": deployment["createdAt"],
            "startedAt": deployment["createdAt"],
            "targetServiceRevisionArn": deployment["target"],
            "status": status,
        }
        if status in STATUS_REASONS:
            found.update(finishedAt=deployment["updatedAt"], statusReason=STATUS_REASONS[status])
        return found

    def described(self, deployment: dict[str, Any]) -> dict[str, Any]:
        """ServiceDeployment (ECS API reference, DescribeServiceDeployments)."""
        brief = self.brief(deployment)
        count = deployment["service"].desired_count

        def summary(arn: str) -> dict[str, Any]:
            return {"arn": arn, "requestedTaskCount": count, "runningTaskCount": count, "pendingTaskCount": 0}

        found = {
            key: brief[key]
            for key in ("serviceDeploymentArn", "serviceArn", "clusterArn", "createdAt", "startedAt", "status")
        }
        found.update(
            updatedAt=deployment["updatedAt"],
            sourceServiceRevisions=[summary(deployment["source"])] if deployment["source"] else [],
            targetServiceRevision=summary(deployment["target"]),
        )
        for key in ("finishedAt", "statusReason"):
            if key in brief:
                found[key] = brief[key]
        if brief["status"].startswith("ROLLBACK") and deployment["source"]:
            found["rollback"] = {
                "reason": "emulated by the release rehearsal",
                "startedAt": deployment["updatedAt"],
                "serviceRevisionArn": deployment["source"],
            }
        return found


def _service_update(original: Any, outcome: str) -> Any:
    """Gap 13 (UpdateService): moto 5.2.5 records no service deployment. ECS starts one when
    UpdateService gives the service another task definition ("This parameter triggers a new service
    deployment": ECS API reference, UpdateService); record it, with its source and target service
    revisions, for services with the ECS deployment controller, ending with ``outcome``. moto also
    keeps the task definition as given (a family name when CloudFormation updates the service), where
    ECS reports the revision's ARN: store the ARN."""

    def update_service(self: Any, service_properties: dict[str, Any]) -> Any:
        requested = service_properties.get("task_definition")
        name = service_properties.get("service", "").split("/")[-1]
        previous = self._get_service(service_properties.get("cluster", "default"), name).task_definition
        service = original(self, service_properties)
        if not requested:
            return service
        revision = self.describe_task_definition(requested)
        service.task_definition = revision.arn
        if service.deployment_controller.get("type", "ECS") == "ECS" and revision.arn != previous:
            _ServiceDeployments.of(self).deploy(service, previous, revision.arn, outcome)
        return service

    return update_service


def _epoch(value: Any) -> float:
    """A request's timestamp (the JSON protocol sends epoch seconds) or moto's naive UTC datetime."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return _epoch(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def _list_service_deployments(self: Any) -> Any:
    """Gap 13 (ListServiceDeployments): the service's deployments, filtered by status and createdAt
    as the request asks, newest first, at most maxResults (no nextToken: the rehearsal makes few)."""
    from moto.core.responses import ActionResult

    backend = self.ecs_backend
    service = backend._get_service(self._get_param("cluster", "default"), self._get_param("service"))
    state = _ServiceDeployments.of(backend)
    statuses = self._get_param("status") or []
    created = self._get_param("createdAt") or {}
    found = []
    for deployment in sorted(state.deployments.values(), key=lambda d: d["createdAt"], reverse=True):
        if deployment["service"] is not service or (statuses and state.status(deployment) not in statuses):
            continue
        at = _epoch(deployment["createdAt"])
        if ("after" in created and at < _epoch(created["after"])) or (
            "before" in created and at > _epoch(created["before"])
        ):
            continue
        found.append(state.brief(deployment))
    return ActionResult({"serviceDeployments": found[: int(self._get_param("maxResults") or 20)]})


def _describe_service_deployments(self: Any) -> Any:
    """Gap 13 (DescribeServiceDeployments): each call moves a deployment one status on, to its outcome."""
    from moto.core.responses import ActionResult

    state = _ServiceDeployments.of(self.ecs_backend)
    found, failures = [], []
    for arn in self._get_param("serviceDeploymentArns") or []:
        deployment = state.deployments.get(arn)
        if deployment is None:
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        found.append(state.described(deployment))
        state.advance(deployment)
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _describe_service_revisions(self: Any) -> Any:
    """Gap 13 (DescribeServiceRevisions): the recorded revisions, with their taskDefinition."""
    from moto.core.responses import ActionResult

    state = _ServiceDeployments.of(self.ecs_backend)
    found, failures = [], []
    for arn in self._get_param("serviceRevisionArns") or []:
        if arn in state.revisions:
            found.append(state.revisions[arn])
        else:
            failures.append({"arn": arn, "reason": "MISSING"})
    return ActionResult({"serviceRevisions": found, "failures": failures})


GAP_13_ACTIONS = {
    "list_service_deployments": _list_service_deployments,
    "describe_service_deployments": _describe_service_deployments,
    "describe_service_revisions": _describe_service_revisions,
}


def _camel_case(original: Any, method_name: str, prop: str) -> Any:
    """A CloudFormation create/update classmethod of a moto model, given ``prop`` with its nested
    keys in the API's camelCase, as the template's PascalCase arrives (gaps 16 and 17)."""

    def method(cls: Any, *args: Any, **kwargs: Any) -> Any:
        from moto.core.utils import pascal_to_camelcase, remap_nested_keys

        def remapped(resource: dict[str, Any]) -> dict[str, Any]:
            properties = dict(resource.get("Properties", {}))
            if prop in properties:
                properties[prop] = remap_nested_keys(properties[prop], pascal_to_camelcase)
            return {**resource, "Properties": properties}

        # moto passes the resource's JSON as cloudformation_json, by keyword or after the name(s).
        if "cloudformation_json" in kwargs:
            kwargs["cloudformation_json"] = remapped(kwargs["cloudformation_json"])
        else:
            index = 2 if method_name.startswith("update") else 1
            args = (*args[:index], remapped(args[index]), *args[index + 1 :])
        return original.__func__(cls, *args, **kwargs)

    return classmethod(method)


# Gap 16: moto 5.2.5's CloudFormation update of an AWS::ECS::TaskDefinition registers the new
# revision with the template's container definitions as they are, in PascalCase ("Image", "Name"),
# where its create (and ECS) use the API's camelCase: DescribeTaskDefinition then shows no
# ``image`` for a revision a stack update registered (a cloudformation-engine release).
# Gap 17: moto 5.2.5's CloudFormation AWS::ECR::Repository keeps ImageScanningConfiguration in
# PascalCase ({"ScanOnPush": true}), so DescribeRepositories reports no scanOnPush for a repository
# the template creates with scan on push.
CAMEL_CASE_PROPERTIES = (
    ("moto.ecs.models", "TaskDefinition", "update_from_cloudformation_json", "ContainerDefinitions"),
    ("moto.ecr.models", "Repository", "create_from_cloudformation_json", "ImageScanningConfiguration"),
    ("moto.ecr.models", "Repository", "update_from_cloudformation_json", "ImageScanningConfiguration"),
)


def _parameter_list(original: property) -> property:
    """Gap 18: moto 5.2.5's DescribeStacks shows a CommaDelimitedList parameter as a Python list,
    "['a', 'b']", where CloudFormation returns the string it was given, "a,b". The deployer closes
    this on its side (deployer.emulator, gap 9), but a release's own `aws cloudformation
    describe-stacks` sees moto's answer: the cloudformation engine's build passes the values back
    as the stack's parameters, and "['a', 'b']" is not a subnet list. Render the string."""

    def parameter_list(self: Any) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = original.fget(self)  # type: ignore[misc]
        for parameter in listed:
            if isinstance(parameter["ParameterValue"], list):
                parameter["ParameterValue"] = ",".join(str(v) for v in parameter["ParameterValue"])
        return listed

    return property(parameter_list)


@contextlib.contextmanager
def _patched(service_deployment_outcome: str) -> Iterator[None]:
    import importlib

    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    update = _service_update(EC2ContainerServiceBackend.update_service, service_deployment_outcome)
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(EC2ContainerServiceBackend, "update_service", update))
        for action, handler in GAP_13_ACTIONS.items():
            stack.enter_context(mock.patch.object(EC2ContainerServiceResponse, action, handler, create=True))
        from moto.cloudformation.models import Stack

        stack.enter_context(
            mock.patch.object(Stack, "parameter_list", _parameter_list(Stack.__dict__["parameter_list"]))
        )
        for module, name, method, prop in CAMEL_CASE_PROPERTIES:
            model = getattr(importlib.import_module(module), name)
            stack.enter_context(mock.patch.object(model, method, _camel_case(model.__dict__[method], method, prop)))
        yield


def _post(url: str, body: dict[str, Any] | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).close()


def clean_scan_result(region: str, repository: str, digest: str) -> dict[str, Any]:
    """Gap 15's payload: a completed basic scan with no findings (ECR reports the severities
    present only, so a clean image has empty counts; ECR API reference, ImageScanFindings)."""
    return {
        "region": region,
        "results": [
            {
                "registryId": ACCOUNT,
                "repositoryName": repository,
                "imageId": {"imageDigest": digest},
                "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
                "imageScanFindings": {"findings": [], "findingSeverityCounts": {}},
            }
        ],
    }


def post_clean_scan(endpoint: str, region: str, repository: str, digest: str) -> None:
    _post(endpoint + SCAN_RESULTS_API, clean_scan_result(region, repository, digest))


@contextlib.contextmanager
def rehearsal_server(service_deployment_outcome: str = "SUCCESSFUL") -> Iterator[str]:
    """moto in this process on a free port of 127.0.0.1, with gaps 13, 16, 17 and 18 closed, reset before
    and after (moto's backends are per process: a reset also clears any other in-process server).
    ``service_deployment_outcome``: how every emulated ECS service deployment ends (gap 13), one of
    SERVICE_DEPLOYMENT_OUTCOMES."""
    if service_deployment_outcome not in SERVICE_DEPLOYMENT_OUTCOMES:
        raise ValueError(f"service_deployment_outcome must be one of {', '.join(SERVICE_DEPLOYMENT_OUTCOMES)}")
    from moto.server import ThreadedMotoServer

    # The server shares this process: keep its request log and its notes on resource types it
    # does not model out of the rehearsal's output.
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    url = f"http://{HOST}:{port}"
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    with warnings.catch_warnings(), _patched(service_deployment_outcome):
        warnings.filterwarnings("ignore", message="Tried to parse AWS")
        server.start()
        try:
            _post(f"{url}/moto-api/reset")
            yield url
        finally:
            with contextlib.suppress(OSError):
                _post(f"{url}/moto-api/reset")
            server.stop()


__all__ = [
    "MOTO_VERSION",
    "SERVICE_DEPLOYMENT_OUTCOMES",
    "clean_scan_result",
    "post_clean_scan",
    "rehearsal_server",
]
