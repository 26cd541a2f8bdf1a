"""EMULATOR SUPPORT, gap 13 of deployer.rehearsal_emulator: moto 5.2.5 models no ECS service deployments.

ListServiceDeployments, DescribeServiceRevisions and DescribeServiceDeployments are unimplemented
actions there (a 500), and UpdateService keeps a task definition as given (a family name when
CloudFormation updates the service) where ECS reports the revision's ARN. The ``ecs`` engine's release
waits on exactly those three actions (blueprints.engines.release_commands.wait_for_ecs_deployment), so
the in-process server answers them: UpdateService that gives the service another task definition
records a service deployment between two service revisions ("This parameter triggers a new service
deployment": ECS API reference, UpdateService), and each DescribeServiceDeployments of it answers its
next status, ending with the outcome the rehearsal asked for. The answers carry the members of
botocore's ECS model (ServiceDeploymentBrief, ServiceDeployment, ServiceRevision), which
tests/test_rehearsal_emulator.py checks every answer against. None of this code runs against AWS.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from unittest import mock

# The statuses an emulated service deployment passes through, one per DescribeServiceDeployments
# call, its last one completed (ECS developer guide, "View service history using Amazon ECS service
# deployments": ongoing IN_PROGRESS, ROLLBACK_IN_PROGRESS; completed SUCCESSFUL, STOPPED,
# ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED).
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
# The 21 characters of a service deployment's ID, as AWS's ARN examples show them.
DEPLOYMENT_ID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


@dataclass
class _Deployment:
    """One service deployment; times are moto's (naive UTC datetimes, as its request parser gives too)."""

    arn: str
    service: Any  # moto's ECS Service
    source: str | None  # service revision ARNs
    target: str
    statuses: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    answered: int = 0  # DescribeServiceDeployments answers so far
    rollback_at: datetime | None = None

    @property
    def status(self) -> str:
        return self.statuses[min(self.answered, len(self.statuses) - 1)]

    def _common(self) -> dict[str, Any]:
        found = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.service.arn,
            "clusterArn": self.service.cluster_arn,
            "createdAt": self.created_at,
            "startedAt": self.created_at,
            "status": self.status,
        }
        if self.status in STATUS_REASONS:
            found.update(finishedAt=self.updated_at, statusReason=STATUS_REASONS[self.status])
        return found

    def brief(self) -> dict[str, Any]:
        """ServiceDeploymentBrief (ECS API reference, ListServiceDeployments)."""
        return {**self._common(), "targetServiceRevisionArn": self.target}

    def described(self) -> dict[str, Any]:
        """ServiceDeployment (ECS API reference, DescribeServiceDeployments)."""
        count = self.service.desired_count

        def summary(arn: str) -> dict[str, Any]:
            return {"arn": arn, "requestedTaskCount": count, "runningTaskCount": count, "pendingTaskCount": 0}

        found = self._common()
        found.update(
            updatedAt=self.updated_at,
            sourceServiceRevisions=[summary(self.source)] if self.source else [],
            targetServiceRevision=summary(self.target),
        )
        if self.status == "STOPPED":  # ServiceDeployment.stoppedAt: "The time the service deployment stopped."
            found["stoppedAt"] = self.updated_at
        if self.rollback_at and self.source:
            found["rollback"] = {
                "reason": "emulated by the release rehearsal",
                "startedAt": self.rollback_at,
                "serviceRevisionArn": self.source,
            }
        return found


class _ServiceDeployments:
    """The state in one moto ECS backend (a moto reset replaces the backend, and with it this):
    service revisions and the service deployments between them."""

    def __init__(self) -> None:
        self.revisions: dict[str, dict[str, Any]] = {}  # ARN -> ServiceRevision
        self.deployments: dict[str, _Deployment] = {}
        self.current: dict[str, str] = {}  # service ARN -> its current revision's ARN

    @staticmethod
    def of(backend: Any) -> _ServiceDeployments:
        state: _ServiceDeployments | None = backend.__dict__.get("_rehearsal_service_deployments")
        if state is None:
            state = backend.__dict__["_rehearsal_service_deployments"] = _ServiceDeployments()
        return state

    def revision(self, service: Any, task_definition: str) -> str:
        """A service revision of ``service`` running ``task_definition`` (ARN service-revision/CLUSTER/
        SERVICE/ID with a 19-digit ID, as AWS's examples show it)."""
        from moto.core.utils import utcnow
        from moto.moto_api._internal import mock_random

        arn = _arn(service, "service-revision", str(mock_random.randint(10**18, 10**19 - 1)))
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
        target_revision = self.current[service.arn] = self.revision(service, target)
        ident = "".join(mock_random.choice(DEPLOYMENT_ID_CHARACTERS) for _ in range(21))
        arn = _arn(service, "service-deployment", ident)
        now = utcnow()
        self.deployments[arn] = _Deployment(
            arn, service, source, target_revision, SERVICE_DEPLOYMENT_OUTCOMES[outcome], now, now
        )

    def advance(self, deployment: _Deployment) -> None:
        """One DescribeServiceDeployments answer later; a rollback returns the service to the source
        revision's task definition, as ECS does."""
        from moto.core.utils import utcnow

        before = deployment.status
        deployment.answered += 1
        if deployment.status == before:
            return
        deployment.updated_at = utcnow()
        if deployment.status.startswith("ROLLBACK") and deployment.rollback_at is None:
            deployment.rollback_at = deployment.updated_at
        if deployment.status == "ROLLBACK_SUCCESSFUL" and deployment.source:
            service = deployment.service
            service.task_definition = self.revisions[deployment.source]["taskDefinition"]
            self.current[service.arn] = deployment.source


def _arn(service: Any, kind: str, ident: str) -> str:
    region_account = service.arn.split(":service/")[0]
    return f"{region_account}:{kind}/{service.cluster_name}/{service.name}/{ident}"


def _service_update(original: Any, outcome: str) -> Any:
    """UpdateService: store the task definition's ARN, and for a service with the ECS deployment
    controller given another task definition, record a service deployment ending with ``outcome``."""

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


def _list_service_deployments(self: Any) -> Any:
    """ListServiceDeployments: the service's deployments, filtered by status and createdAt as the
    request asks, newest first, at most maxResults (no nextToken: the rehearsal makes few)."""
    from moto.core.responses import ActionResult

    backend = self.ecs_backend
    service = backend._get_service(self._get_param("cluster", "default"), self._get_param("service"))
    state = _ServiceDeployments.of(backend)
    statuses = self._get_param("status") or []
    created = self._get_param("createdAt") or {}
    after, before = created.get("after"), created.get("before")
    found = [
        deployment.brief()
        for deployment in sorted(state.deployments.values(), key=lambda d: d.created_at, reverse=True)
        if deployment.service is service
        and (not statuses or deployment.status in statuses)
        and (after is None or deployment.created_at >= after)
        and (before is None or deployment.created_at <= before)
    ]
    return ActionResult({"serviceDeployments": found[: int(self._get_param("maxResults") or 20)]})


def _describe_service_deployments(self: Any) -> Any:
    """DescribeServiceDeployments: each call moves a deployment one status on, to its outcome; an
    unknown ARN is a failure with reason MISSING (ECS API reference)."""
    from moto.core.responses import ActionResult

    state = _ServiceDeployments.of(self.ecs_backend)
    found, failures = [], []
    for arn in self._get_param("serviceDeploymentArns") or []:
        deployment = state.deployments.get(arn)
        if deployment is None:
            failures.append({"arn": arn, "reason": "MISSING"})
            continue
        found.append(deployment.described())
        state.advance(deployment)
    return ActionResult({"serviceDeployments": found, "failures": failures})


def _describe_service_revisions(self: Any) -> Any:
    """DescribeServiceRevisions: the recorded revisions, with their taskDefinition."""
    from moto.core.responses import ActionResult

    state = _ServiceDeployments.of(self.ecs_backend)
    found, failures = [], []
    for arn in self._get_param("serviceRevisionArns") or []:
        if arn in state.revisions:
            found.append(state.revisions[arn])
        else:
            failures.append({"arn": arn, "reason": "MISSING"})
    return ActionResult({"serviceRevisions": found, "failures": failures})


ACTIONS = {
    "list_service_deployments": _list_service_deployments,
    "describe_service_deployments": _describe_service_deployments,
    "describe_service_revisions": _describe_service_revisions,
}


@contextlib.contextmanager
def emulated(outcome: str) -> Iterator[None]:
    """Gap 13 closed in this process's moto while the context lasts, every deployment ending ``outcome``."""
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.ecs.responses import EC2ContainerServiceResponse

    update = _service_update(EC2ContainerServiceBackend.update_service, outcome)
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(EC2ContainerServiceBackend, "update_service", update))
        for action, handler in ACTIONS.items():
            stack.enter_context(mock.patch.object(EC2ContainerServiceResponse, action, handler, create=True))
        yield


__all__ = ["SERVICE_DEPLOYMENT_OUTCOMES", "emulated"]
