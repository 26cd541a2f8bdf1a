"""deployer.query_api against independent oracles: botocore's own client builds and signs the same request
(its SigV4Auth, its query serializer) and parses the same answer bytes (its query parser and its
GetTemplate handler); the output shapes are botocore's model's; and on moto (127.0.0.1) the answers
equal a boto3 client's."""

from __future__ import annotations

import datetime as real_datetime
import types
from typing import Any

import boto3
import botocore.auth
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from deployer import query_api
from deployer.query_api import Credentials, FullPath, QueryClient

REGION = "eu-west-1"
WHEN = real_datetime.datetime(2026, 12, 1, 22, 40, 16)
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any):
        yield self._body


def _botocore_call(monkeypatch, operation: str, params: dict, answer: bytes, endpoint: str, token: str | None):
    """What botocore sends for ``operation`` (signed at WHEN) and what its client returns for ``answer``."""

    class _Fixed(real_datetime.datetime):
        @classmethod
        def utcnow(cls):
            return cls(WHEN.year, WHEN.month, WHEN.day, WHEN.hour, WHEN.minute, WHEN.second)

    monkeypatch.setattr(botocore.auth, "datetime", types.SimpleNamespace(datetime=_Fixed))
    client = boto3.client(
        "cloudformation",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        aws_session_token=token,
    )
    sent: dict[str, Any] = {}

    def before_send(request, **_):
        sent["request"] = request
        return AWSResponse(request.url, 200 if b"<Error>" not in answer else 400, {}, _Raw(answer))

    client.meta.events.register("before-send.cloudformation", before_send)
    try:
        result: Any = getattr(client, operation)(**params)
    except ClientError as exc:
        result = exc
    return sent["request"], result


@pytest.mark.parametrize("token", [None, "session-token/with+chars="])
@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:5055", "https://cloudformation.eu-west-1.amazonaws.com"])
def test_the_request_is_signed_and_encoded_as_botocore_does(monkeypatch, token, endpoint):
    params = {"StackName": "webapp-dev-service", "TemplateStage": "Original"}
    request, _ = _botocore_call(
        monkeypatch, "get_template", params, _answer("GetTemplate", "<TemplateBody>{}</TemplateBody>"), endpoint, token
    )
    body = query_api.form("GetTemplate", params)
    sent = {k: _text(v) for k, v in request.headers.items()}
    assert body == request.body.encode() and sent["Content-Type"] == CONTENT_TYPE
    host = endpoint.split("://", 1)[1]
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    headers = query_api.sign(credentials, REGION, host, body, WHEN.strftime("%Y%m%dT%H%M%SZ"), CONTENT_TYPE)
    assert headers["authorization"] == sent["Authorization"]
    assert headers["x-amz-date"] == sent["X-Amz-Date"]
    assert headers.get("x-amz-security-token") == sent.get("X-Amz-Security-Token")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _answer(action: str, inner: str) -> bytes:
    return (
        f'<{action}Response xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><{action}Result>{inner}'
        f"</{action}Result><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></{action}Response>"
    ).encode()


def _xml(shape, name: str, depth: int = 0) -> str:
    """Every member of a botocore shape, filled: strings, booleans, integers, timestamps, lists of two."""
    kind = shape.type_name
    if kind == "structure":
        inner = "".join(_xml(sub, member, depth + 1) for member, sub in shape.members.items())
    elif kind == "list":
        inner = "".join(_xml(shape.member, "member", depth + 1).replace("NAME", str(i)) for i in range(2))
    elif kind == "boolean":
        inner = "true" if depth % 2 else "false"
    elif kind == "integer":
        inner = str(7 + depth)
    elif kind == "timestamp":
        inner = "2024-05-01T12:00:00.123Z"
    else:
        inner = f"{name}-NAME &amp; &lt;x&gt;"
    return f"<{name}>{inner}</{name}>"


def _model():
    return boto3.session.Session().client("cloudformation", region_name=REGION).meta.service_model


@pytest.mark.parametrize("action", sorted(query_api.OUTPUTS))
def test_answers_parse_as_botocore_parses_them(monkeypatch, action):
    shape = _model().operation_model(action).output_shape
    inner = "".join(_xml(sub, member) for member, sub in shape.members.items())
    inner += "<SomethingNew>ignored by both</SomethingNew>"
    answer = _answer(action, inner)
    operation = {
        "DescribeStacks": "describe_stacks",
        "GetTemplate": "get_template",
        "GetStackPolicy": "get_stack_policy",
    }
    _, expected = _botocore_call(monkeypatch, operation[action], {"StackName": "s"}, answer, "http://127.0.0.1:1", None)
    expected.pop("ResponseMetadata")
    parsed = query_api.parse(action, answer)
    assert parsed.pop("ResponseMetadata") == {"RequestId": "req-1"}
    assert parsed == expected


def test_a_json_template_body_is_decoded_as_botocore_decodes_it(monkeypatch):
    for body, expected_type in (('{"Resources": {"B": {}, "A": {}}}', dict), ("Resources:\n  A: {}", str)):
        answer = _answer("GetTemplate", f"<TemplateBody>{body}</TemplateBody>")
        _, expected = _botocore_call(
            monkeypatch, "get_template", {"StackName": "s"}, answer, "http://127.0.0.1:5055", None
        )
        client = QueryClient("http://127.0.0.1:5055", REGION, Credentials("a", "b"))
        monkeypatch.setattr(client, "call", lambda action, params, answer=answer: query_api.parse(action, answer))
        found = client.get_template(StackName="s")
        assert found["TemplateBody"] == expected["TemplateBody"] and isinstance(found["TemplateBody"], expected_type)
        assert list(found["TemplateBody"]) == list(expected["TemplateBody"])  # order kept too


def test_the_shapes_are_botocores():
    def schema(shape):
        if shape.type_name == "structure":
            return {member: schema(sub) for member, sub in shape.members.items()}
        if shape.type_name == "list":
            return [schema(shape.member)]
        return shape.type_name

    model = _model()
    for action, expected in query_api.OUTPUTS.items():
        assert schema(model.operation_model(action).output_shape) == expected
    assert model.api_version == query_api.API_VERSION


def test_a_validation_error_is_botocores_client_error_and_any_other_error_goes_the_full_path(monkeypatch):
    missing = (
        b'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>'
        b"<Code>ValidationError</Code><Message>Stack with id nope does not exist</Message></Error>"
        b"<RequestId>r-2</RequestId></ErrorResponse>"
    )
    _, expected = _botocore_call(
        monkeypatch, "describe_stacks", {"StackName": "nope"}, missing, "http://127.0.0.1:1", None
    )
    found = query_api.error("DescribeStacks", 400, missing)
    assert str(found) == str(expected) and found.response["Error"] == expected.response["Error"]
    throttled = missing.replace(b"ValidationError", b"Throttling")
    for status, body in ((400, throttled), (500, missing), (403, b"{not xml}")):
        with pytest.raises(FullPath):
            query_api.error("DescribeStacks", status, body)


def test_calls_it_does_not_make_go_the_full_path():
    client = QueryClient("http://127.0.0.1:1", REGION, Credentials("a", "b"))
    for call in (
        lambda: client.create_change_set(StackName="s"),
        lambda: client.set_stack_policy(StackName="s", StackPolicyBody="{}"),
        lambda: client.get_paginator("list_stack_resources"),
        lambda: client.describe_stacks(StackName="s", Unknown="x"),
        lambda: client.describe_stacks(StackName="s"),  # nothing listens on port 1
    ):
        with pytest.raises(FullPath):
            call()
    with pytest.raises(FullPath):
        QueryClient("ftp://127.0.0.1:1", REGION, Credentials("a", "b"))


@pytest.mark.deploy
def test_on_moto_the_answers_equal_a_boto3_clients(moto):
    from tests.moto_support import client as moto_client

    cfn = moto_client(moto)
    template = '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {"T": {"Value": {"Ref": "Topic"}}}}'
    for name in ("a", "b"):
        cfn.create_stack(StackName=name, TemplateBody=template, Tags=[{"Key": "Environment", "Value": "dev"}])
    cfn.set_stack_policy(StackName="a", StackPolicyBody='{"Statement": []}')
    quick = QueryClient(moto, REGION, Credentials("testing", "testing", "testing"))

    def same(found, expected):
        found, expected = dict(found), dict(expected)
        found.pop("ResponseMetadata", None)
        expected.pop("ResponseMetadata", None)
        assert found == expected

    for name in ("a", "b"):
        same(quick.describe_stacks(StackName=name), cfn.describe_stacks(StackName=name))
        same(
            quick.get_template(StackName=name, TemplateStage="Original"),
            cfn.get_template(StackName=name, TemplateStage="Original"),
        )
        same(quick.get_stack_policy(StackName=name), cfn.get_stack_policy(StackName=name))
    pages = list(quick.get_paginator("describe_stacks").paginate())
    assert [s["StackName"] for p in pages for s in p["Stacks"]] == [
        s["StackName"] for p in cfn.get_paginator("describe_stacks").paginate() for s in p["Stacks"]
    ]
    with pytest.raises(ClientError) as found:
        quick.describe_stacks(StackName="nope")
    with pytest.raises(ClientError) as expected:
        cfn.describe_stacks(StackName="nope")
    assert str(found.value) == str(expected.value)
