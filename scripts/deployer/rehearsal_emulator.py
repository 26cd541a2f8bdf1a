"""EMULATOR SUPPORT for the release rehearsal (fargate-deploy rehearse): moto 5.2.5 in this process.

The rehearsal runs the release's own commands (the AWS CLI in the buildspecs) against moto, so the
gaps they hit cannot be closed around the calls as deployer.emulator closes the deployer's: they
are closed in the server, which is why the rehearsal runs moto in-process (ThreadedMotoServer) on
127.0.0.1. Gaps 1–12 are deployer.emulator's (the rehearsal deploys through it). The release path
adds, each with a test in tests/test_rehearsal_emulator.py that shows moto's raw behaviour still
needs the workaround:

- 13: ECS service deployments are not modelled: ListServiceDeployments, DescribeServiceDeployments
  and DescribeServiceRevisions are unimplemented actions, and UpdateService keeps a task definition's
  family name where ECS reports the revision's ARN (emulated by deployer.rehearsal_service_deployments:
  UpdateService records a service deployment and its service revisions, answered as the ECS API
  reference documents them);
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
from typing import Any
from unittest import mock

from .emulator import MOTO_VERSION
from .rehearsal_service_deployments import SERVICE_DEPLOYMENT_OUTCOMES, emulated

HOST = "127.0.0.1"
# Gap 15: moto answers DescribeImageScanFindings with a static HIGH finding unless a result was
# posted here for the repository and image (moto/ecr/models.py, describe_image_scan_findings).
SCAN_RESULTS_API = "/moto-api/static/ecr/scan-finding-results"
# moto's default account, the one its ARNs and ECR registry carry.
ACCOUNT = "123456789012"


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

    with contextlib.ExitStack() as stack:
        stack.enter_context(emulated(service_deployment_outcome))
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
