"""A small read-only CloudFormation client for apply's up-to-date check (deployer.up_to_date): three
query-protocol actions, DescribeStacks, GetTemplate and GetStackPolicy, signed with Signature Version 4
over http.client, their XML answers parsed with xml.etree into what botocore's parser gives.

Why not botocore: importing it and creating a client costs more than everything else an up-to-date
apply does (tests/test_up_to_date_query.py checks this module against botocore's own signer and parser).
It is only ever used with credentials known exactly (deployer.up_to_date decides), and it never guesses:
anything it cannot answer as botocore would (a call it does not know, an error other than
ValidationError, a server error, an unreadable answer, a lost connection) raises ``FullPath``, and the
caller then starts over with botocore.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import threading
import xml.etree.ElementTree as ET
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.exceptions import ClientError  # botocore.exceptions alone is cheap (no session, no loaders)

API_VERSION = "2010-05-15"
SERVICE = "cloudformation"
TIMEOUT = 10.0


class FullPath(BaseException):
    """The quick look cannot answer exactly: start over on the normal path (botocore). A BaseException,
    so that no ``except Exception`` of the code it runs under turns it into an answer."""


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


# --- Signature Version 4 -------------------------------------------------------------------------
# https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html (canonical request,
# string to sign, signing key, Authorization header); botocore.auth.SigV4Auth does the same.


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    credentials: Credentials, region: str, host: str, body: bytes, timestamp: str, content_type: str
) -> dict[str, str]:
    """The headers of a signed POST of ``body`` to ``/`` of ``host`` (``timestamp``: YYYYMMDDTHHMMSSZ)."""
    headers = {"content-type": content_type, "host": host, "x-amz-date": timestamp}
    if credentials.token:
        headers["x-amz-security-token"] = credentials.token
    names = sorted(headers)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",  # no query string: the parameters are in the body
            *(f"{name}:{' '.join(headers[name].split())}" for name in names),
            "",
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{timestamp[:8]}/{region}/{SERVICE}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(f"AWS4{credentials.secret_key}".encode(), timestamp[:8])
    for part in (region, SERVICE, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed = {k: v for k, v in headers.items() if k != "host"}
    signed["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return signed


def form(action: str, params: dict[str, str]) -> bytes:
    """The query protocol's body, as botocore's serializer writes it (RFC 3986 unreserved kept)."""
    fields = {"Action": action, "Version": API_VERSION, **params}
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in fields.items()).encode()


# --- parsing: the output shapes of botocore 1.35.99's model (tests compare them with it) ---------

STACK: dict[str, Any] = {
    "StackId": "string",
    "StackName": "string",
    "ChangeSetId": "string",
    "Description": "string",
    "Parameters": [
        {"ParameterKey": "string", "ParameterValue": "string", "UsePreviousValue": "boolean", "ResolvedValue": "string"}
    ],
    "CreationTime": "timestamp",
    "DeletionTime": "timestamp",
    "LastUpdatedTime": "timestamp",
    "RollbackConfiguration": {
        "RollbackTriggers": [{"Arn": "string", "Type": "string"}],
        "MonitoringTimeInMinutes": "integer",
    },
    "StackStatus": "string",
    "StackStatusReason": "string",
    "DisableRollback": "boolean",
    "NotificationARNs": ["string"],
    "TimeoutInMinutes": "integer",
    "Capabilities": ["string"],
    "Outputs": [{"OutputKey": "string", "OutputValue": "string", "Description": "string", "ExportName": "string"}],
    "RoleARN": "string",
    "Tags": [{"Key": "string", "Value": "string"}],
    "EnableTerminationProtection": "boolean",
    "ParentId": "string",
    "RootId": "string",
    "DriftInformation": {"StackDriftStatus": "string", "LastCheckTimestamp": "timestamp"},
    "RetainExceptOnCreate": "boolean",
    "DeletionMode": "string",
    "DetailedStatus": "string",
}
OUTPUTS: dict[str, dict[str, Any]] = {
    "DescribeStacks": {"Stacks": [STACK], "NextToken": "string"},
    "GetTemplate": {"TemplateBody": "string", "StagesAvailable": ["string"]},
    "GetStackPolicy": {"StackPolicyBody": "string"},
}


def _tag(node: ET.Element) -> str:
    return node.tag.rsplit("}", 1)[-1]  # without the XML namespace, as botocore reads it


def _scalar(kind: str, text: str) -> Any:
    if kind == "string":
        return text
    if kind == "boolean":
        return text == "true"
    if kind == "integer":
        return int(text)
    return datetime.fromisoformat(text)  # ISO 8601 (2024-05-01T12:00:00.123Z); anything else: FullPath


def _value(shape: Any, node: ET.Element) -> Any:
    if isinstance(shape, dict):
        children = {_tag(child): child for child in node}
        return {name: _value(sub, children[name]) for name, sub in shape.items() if name in children}
    if isinstance(shape, list):
        return [_value(shape[0], child) for child in node if _tag(child) == "member"]
    return _scalar(shape, node.text or "")


def parse(action: str, body: bytes) -> dict[str, Any]:
    """A successful answer (``<ActionResponse><ActionResult>...``), as botocore's query parser gives it;
    ResponseMetadata holds the RequestId only (the deployer reads none of it)."""
    root = ET.fromstring(body)
    parts = {_tag(child): child for child in root}
    result = parts.get(f"{action}Result")
    parsed: dict[str, Any] = _value(OUTPUTS[action], result) if result is not None else {}
    metadata = {_tag(c): c for c in parts.get("ResponseMetadata", ET.Element("x"))}
    if "RequestId" in metadata:
        parsed["ResponseMetadata"] = {"RequestId": metadata["RequestId"].text or ""}
    return parsed


def error(action: str, status: int, body: bytes) -> ClientError:
    """A ValidationError answer as the ClientError botocore raises for it; any other error: FullPath."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise FullPath from None
    found = next((node for node in root.iter() if _tag(node) == "Error"), None)
    fields = {_tag(child): child.text or "" for child in found} if found is not None else {}
    if fields.get("Code") != "ValidationError" or status >= 500:
        raise FullPath
    request = next((node.text or "" for node in root.iter() if _tag(node) == "RequestId"), "")
    details = {k: fields[k] for k in ("Type", "Code", "Message") if k in fields}
    return ClientError({"Error": details, "ResponseMetadata": {"RequestId": request, "HTTPStatusCode": status}}, action)


# --- the client ----------------------------------------------------------------------------------


class QueryClient:
    """The CloudFormation reads of one region at ``endpoint`` (https://cloudformation.REGION.amazonaws.com,
    or the emulator's http://127.0.0.1:PORT). Thread-safe: one kept-alive connection per thread.
    The methods mirror botocore's client (same arguments, same answers); any other is FullPath."""

    def __init__(
        self, endpoint: str, region: str, credentials: Credentials, clock: Any = None, cafile: str | None = None
    ):
        url = urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname or url.path not in ("", "/"):
            raise FullPath
        self._secure, self._netloc, self.region = url.scheme == "https", url.netloc, region
        self._credentials = credentials
        self._clock = clock or (lambda: datetime.now(UTC))
        self._local = threading.local()
        self._cafile = cafile  # https: the bundle botocore would verify with (deployer.up_to_date.ca_bundle)

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None or fresh:
            if connection is not None:
                connection.close()
            if self._secure:
                import ssl

                context = ssl.create_default_context(cafile=self._cafile or None)
                connection = http.client.HTTPSConnection(self._netloc, timeout=TIMEOUT, context=context)
            else:
                connection = http.client.HTTPConnection(self._netloc, timeout=TIMEOUT)
            self._local.connection = connection
        return connection

    def call(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        body = form(action, params)
        content_type = "application/x-www-form-urlencoded; charset=utf-8"
        timestamp = self._clock().strftime("%Y%m%dT%H%M%SZ")
        headers = sign(self._credentials, self.region, self._netloc.lower(), body, timestamp, content_type)
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more, afresh
            try:
                connection = self._connection(fresh=attempt == 2)
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                status, answer = response.status, response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if attempt == 2:
                    raise FullPath from None
            except (OSError, http.client.HTTPException):
                raise FullPath from None
        try:
            if status != 200:
                raise error(action, status, answer)
            return parse(action, answer)
        except (ET.ParseError, ValueError, KeyError, IndexError):
            raise FullPath from None

    def describe_stacks(self, **kwargs: str) -> dict[str, Any]:
        return self.call("DescribeStacks", _only(kwargs, "StackName", "NextToken"))

    def get_template(self, **kwargs: str) -> dict[str, Any]:
        found = self.call("GetTemplate", _only(kwargs, "StackName", "ChangeSetName", "TemplateStage"))
        if isinstance(found.get("TemplateBody"), str):  # botocore's handler json_decode_template_body does this
            with contextlib.suppress(ValueError):
                found["TemplateBody"] = json.loads(found["TemplateBody"], object_pairs_hook=OrderedDict)
        return found

    def get_stack_policy(self, **kwargs: str) -> dict[str, Any]:
        return self.call("GetStackPolicy", _only(kwargs, "StackName"))

    def get_paginator(self, name: str) -> Paginator:
        if name != "describe_stacks":
            raise FullPath
        return Paginator(self)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise FullPath  # any other call (a change set, a stack policy set, events) is the normal path's


class Paginator:
    """DescribeStacks over every page (NextToken), as botocore's paginator yields them."""

    def __init__(self, client: QueryClient):
        self._client = client

    def paginate(self, **kwargs: str) -> Any:
        token: str | None = None
        while True:
            page = self._client.describe_stacks(**kwargs, **({"NextToken": token} if token else {}))
            token = page.get("NextToken")
            yield page
            if not token:
                return


def _only(kwargs: dict[str, str], *known: str) -> dict[str, str]:
    if set(kwargs) - set(known) or not all(isinstance(v, str) for v in kwargs.values()):
        raise FullPath
    return kwargs
