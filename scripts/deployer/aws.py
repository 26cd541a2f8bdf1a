"""AWS clients (standard retry mode) and the S3 upload of templates too large to send inline."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .manifest import BODY_LIMIT, StackEntry

# Standard retry mode retries throttling and transient errors with exponential backoff and jitter.
# https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 10}, connect_timeout=10, read_timeout=60)


class Aws:
    """One boto3 session; clients created once per service and region (creation is not thread-safe)."""

    def __init__(self, profile: str | None = None, endpoint_url: str | None = None, credentials: dict | None = None):
        self.session = boto3.Session(profile_name=profile, **(credentials or {}))
        self.endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._bucket_lock = threading.Lock()  # one default bucket creation at a time
        self._buckets: dict[str, str] = {}

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = self.session.client(
                    service, region_name=region, endpoint_url=self.endpoint_url, config=RETRY_CONFIG
                )
            return self._clients[key]

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


def error_message(exc: ClientError) -> str:
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
