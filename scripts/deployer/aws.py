"""AWS clients (standard retry mode), the first call's reachability probe, the naming of the local
emulator's own failures and of busy stacks, and the S3 upload of templates too large to send inline."""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from . import UserError
from .manifest import BODY_LIMIT, StackEntry

# Standard retry mode retries throttling and transient errors with exponential backoff and jitter.
# https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
# One client per service and region serves every environment of an apply (Aws.sharing): room for the
# stack slots of context.STACK_SLOTS and the calls made outside them (botocore's default pool is 10).
# Kept as keyword arguments of botocore's Config, imported (with boto3) only when a client is made: an
# apply that ends "up to date" through deployer.up_to_date makes none (boto3 and botocore.config ~80 ms).
RETRY_CONFIG: dict[str, Any] = dict(
    retries={"mode": "standard", "max_attempts": 10}, connect_timeout=10, read_timeout=60, max_pool_connections=32
)
# The first call of a command: a short connect timeout and no retries, so that an unreachable
# endpoint is reported within seconds (with standard retries it takes over a minute).
PROBE_CONFIG: dict[str, Any] = dict(
    retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2, read_timeout=10
)
EMULATOR_ERROR = "EmulatorError"
EMULATOR_FIX = (
    "this is an emulator limit, not an AWS answer. What it created may be half done: reset the emulator "
    "(POST {url}/moto-api/reset, or restart moto) before trying again, or deploy to AWS"
)


def _emulator_failure(url: str) -> Callable[..., None]:
    """A botocore before-parse handler: a server error, or a body the protocol cannot parse (moto
    answers some errors of XML APIs in JSON), raised as one ClientError that names the emulator."""

    def handler(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        status = response_dict.get("status_code", 200)
        body = response_dict.get("body") or b""
        text = body.decode("utf-8", "replace").strip() if isinstance(body, bytes) else ""
        protocol = operation_model.metadata.get("protocol", "")
        unparsable = protocol in ("query", "rest-xml", "ec2") and text and not text.startswith("<")
        if status < 500 and not unparsable:
            return
        detail = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()[:300] or f"HTTP {status}"
        message = f"the local emulator (moto) failed on {operation_model.name}: {detail}; " + EMULATOR_FIX.format(
            url=url
        )
        raise ClientError({"Error": {"Code": EMULATOR_ERROR, "Message": message}}, operation_model.name)

    return handler


class Aws:
    """One boto3 session; clients created once per service and region (creation is not thread-safe)."""

    def __init__(
        self,
        profile: str | None = None,
        endpoint_url: str | None = None,
        credentials: dict | None = None,
        emulator: bool = False,
        say: Callable[[str], None] | None = None,
    ):
        import boto3

        self.session = boto3.Session(profile_name=profile, **(credentials or {}))
        self.endpoint_url = endpoint_url
        self.emulator = emulator  # name the emulator's own failures as such (see _emulator_failure)
        self.say = say or (lambda line: None)  # announcements (the template bucket's creation)
        # Called with (service, client) for every new client: the emulator adds its guards this way.
        self.client_hooks: list[Callable[[str, Any], None]] = []
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._bucket_lock = threading.Lock()  # one default bucket creation at a time
        self._buckets: dict[str, str] = {}

    def sharing(self, say: Callable[[str], None]) -> Aws:
        """These clients and this session with another ``say`` (another environment of one apply).
        botocore clients are thread-safe and each costs tens of milliseconds to create (its service model
        is loaded per session): several environments share them rather than make their own."""
        other = copy.copy(self)  # shallow: the session, the clients, their locks and the buckets are shared
        other.say = say
        return other

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self._new_client(service, region, RETRY_CONFIG)
            return self._clients[key]

    def _new_client(self, service: str, region: str, config: dict[str, Any]) -> Any:
        from botocore.config import Config

        # A copy: botocore rewrites the retries it is given (max_attempts becomes total_max_attempts).
        settings = Config(**copy.deepcopy(config))
        client = self.session.client(service, region_name=region, endpoint_url=self.endpoint_url, config=settings)
        if self.emulator and self.endpoint_url:
            client.meta.events.register(f"before-parse.{service}", _emulator_failure(self.endpoint_url))
        for hook in self.client_hooks:
            hook(service, client)
        return client

    def probe(self, region: str) -> None:
        """One call (STS GetCallerIdentity) with a 2 s connect timeout and no retry: an endpoint that
        cannot be reached, or missing credentials, is bad input (exit 2) reported within seconds."""
        sts = self._new_client("sts", region, PROBE_CONFIG)
        where = f"the local emulator at {self.endpoint_url}" if self.emulator else f"AWS ({sts.meta.endpoint_url})"
        try:
            sts.get_caller_identity()
        except (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError) as exc:
            if self.emulator:
                fix = (
                    "start it (moto_server -H 127.0.0.1 -p PORT) and pass that port, or use --local to have "
                    "fargate-deploy start one"
                )
            else:
                fix = "check the network, proxy (HTTPS_PROXY) and --region; nothing was deployed"
            raise UserError(f"cannot reach {where}: {exc}; {fix}") from None
        except NoCredentialsError:
            raise UserError(
                f"no AWS credentials for {where}: pass --profile P, set AWS_PROFILE, or log in (aws sso login)"
            ) from None

    def cfn(self, region: str) -> Any:
        return self.client("cloudformation", region)

    def template_source(self, entry: StackEntry, body: str, bucket: str | None) -> dict[str, str]:
        """TemplateBody, or TemplateURL after uploading a body over the 51,200-byte inline limit."""
        data = body.encode()
        if len(data) <= BODY_LIMIT:
            return {"TemplateBody": body}
        s3 = self.client("s3", entry.region)
        with self._bucket_lock:
            name = bucket or self._buckets.get(entry.region) or self._default_bucket(entry.region)
            self._buckets[entry.region] = name
        key = f"{entry.stack_name}/{hashlib.sha256(data).hexdigest()}.json"
        s3.put_object(Bucket=name, Key=key, Body=data, ContentType="application/json")
        return {"TemplateURL": f"https://{name}.s3.{entry.region}.amazonaws.com/{key}"}

    def _default_bucket(self, region: str) -> str:
        """One bucket per account and region, created on first use: encrypted, public access blocked."""
        account = self.client("sts", region).get_caller_identity()["Account"]
        name = f"cfn-templates-{account}-{region}"
        s3 = self.client("s3", region)
        try:
            s3.head_bucket(Bucket=name)
            return name
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
                raise
        args: dict[str, Any] = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        self.say(f"creating bucket {name} for templates over {BODY_LIMIT:,} bytes (encrypted, public access blocked)")
        s3.create_bucket(Bucket=name, **args)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}],
            },
        )
        return name


def error_code(exc: ClientError) -> str:
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code


def physical_ids(cfn: Any, stack_id: str, resource_type: str | None = None) -> dict[str, str]:
    """The stack's resources (of ``resource_type`` if given) as listed: logical ID -> physical ID. An entry
    without both IDs is skipped (moto 5.2.5 lists an alarm without them)."""
    found: dict[str, str] = {}
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_id):
        for res in page.get("StackResourceSummaries", []):
            if resource_type not in (None, res.get("ResourceType")):
                continue
            if res.get("LogicalResourceId") and res.get("PhysicalResourceId"):
                found[res["LogicalResourceId"]] = res["PhysicalResourceId"]
    return found


# CloudFormation's answers when another operation holds the stack: CreateChangeSet/UpdateStack answer
# ValidationError "Stack:<arn> is in UPDATE_IN_PROGRESS state and can not be updated."; ExecuteChangeSet
# answers InvalidChangeSetStatus (API reference, ExecuteChangeSet: "the stack status might be
# UPDATE_IN_PROGRESS"); other calls OperationInProgressException.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html
BUSY = re.compile(r"(?:Stack:?\s*)?(?P<stack>\S+) is in (?P<status>[A-Z_]+_IN_PROGRESS) state")
BUSY_CODES = ("OperationInProgressException", "InvalidChangeSetStatus")


def busy_stack(exc: ClientError) -> str | None:
    """A clear line when the error means another operation is changing the stack; None otherwise."""
    code = exc.response.get("Error", {}).get("Code", "")
    message = exc.response.get("Error", {}).get("Message", "")
    found = BUSY.search(message)
    if not found and code not in BUSY_CODES:
        return None
    if code == "InvalidChangeSetStatus" and not found and "IN_PROGRESS" not in message:
        return None
    stack = found["stack"].rsplit(":stack/", 1)[-1].split("/")[0] if found else "the stack"
    status = f" is in {found['status']}" if found else " is busy"
    return (
        f"{stack}{status}: another operation (perhaps another fargate-deploy run) is changing it. This run "
        f"changed nothing on it; watch the other operation with `fargate-deploy status`, and run this command "
        f"again once it has finished. (AWS said: {message})"
    )


def error_message(exc: ClientError) -> str:
    busy = busy_stack(exc)
    if busy:
        return busy
    message: str = exc.response.get("Error", {}).get("Message", str(exc))
    return message


def describe_stack(cfn: Any, name_or_id: str) -> dict[str, Any] | None:
    """The stack, or None when it does not exist (CloudFormation answers ValidationError)."""
    try:
        stack: dict[str, Any] = cfn.describe_stacks(StackName=name_or_id)["Stacks"][0]
        return stack
    except ClientError as exc:
        if error_code(exc) == "ValidationError" and "does not exist" in error_message(exc):
            return None
        raise
