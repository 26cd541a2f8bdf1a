"""The few things every blueprint needs from troposphere, in one place.

``CfnTemplate`` adds the top-level ``Hooks`` section that troposphere lacks (CloudFormation
uses it for the AWS::CodeDeployBlueGreen transform). ``render`` is the only way a template
becomes text, so every file in out/ has the same byte-stable layout.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from troposphere import Output, Parameter, Template, ecs

from . import encode


class CfnTemplate(Template):
    """A troposphere Template that can also carry a top-level ``Hooks`` section."""

    def __init__(self, description: str):
        super().__init__(Description=description)
        self.set_version("2010-09-09")
        self.hooks: dict[str, dict[str, Any]] = {}
        self._groups: list[dict[str, Any]] = []

    def add_hook(self, logical_id: str, hook: dict[str, Any]) -> None:
        if logical_id in self.hooks:
            raise ValueError(f"duplicate hook {logical_id}")
        self.hooks[logical_id] = hook

    def param(self, logical_id: str, description: str, group: str, type: str = "String", **kwargs: Any) -> Parameter:
        """Add a Parameter; a Description is mandatory and every parameter sits in a console group."""
        if not description:
            raise ValueError(f"parameter {logical_id} needs a Description")
        parameter = self.add_parameter(Parameter(logical_id, Type=type, Description=description, **kwargs))
        for entry in self._groups:
            if entry["Label"]["default"] == group:
                entry["Parameters"].append(logical_id)
                break
        else:
            self._groups.append({"Label": {"default": group}, "Parameters": [logical_id]})
        return parameter

    def output(self, logical_id: str, value: Any, description: str) -> Output:
        return self.add_output(Output(logical_id, Value=value, Description=description))

    def to_dict(self) -> dict[str, Any]:
        if self._groups:
            self.metadata["AWS::CloudFormation::Interface"] = {"ParameterGroups": self._groups}
        body = encode.template(self)
        if self.hooks:
            body["Hooks"] = self.hooks
        return body


class TaskSetNetworkConfiguration(ecs.NetworkConfiguration):
    """AWS::ECS::TaskSet NetworkConfiguration as the CloudFormation schema spells it.

    troposphere 4.11.1 gives TaskSet the service's NetworkConfiguration class, which emits
    ``AwsvpcConfiguration``; the TaskSet schema names the key ``AwsVpcConfiguration`` (capital V)
    and CloudFormation (and cfn-lint, E3002) rejects the other spelling. A subclass (TaskSet
    accepts only that class) with the schema's key is the one place this is fixed.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-taskset-networkconfiguration.html
    """

    props: ClassVar[dict[str, tuple[type, bool]]] = {"AwsVpcConfiguration": (ecs.AwsVpcConfiguration, False)}


# IAM resource types and the property that gives them a custom name (needs CAPABILITY_NAMED_IAM).
_IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
}


def capabilities(body: dict[str, Any]) -> list[str]:
    """The capabilities CloudFormation will demand for this template, worked out from its contents."""
    needed = set()
    for resource in body.get("Resources", {}).values():
        kind = resource.get("Type", "")
        if kind.startswith("AWS::IAM::"):
            needed.add("CAPABILITY_IAM")
            if _IAM_NAME_PROPERTIES.get(kind) in resource.get("Properties", {}):
                needed.add("CAPABILITY_NAMED_IAM")
        if kind in ("AWS::CloudFormation::Stack", "AWS::Serverless::Application"):
            needed.add("CAPABILITY_AUTO_EXPAND")
    if body.get("Transform"):
        needed.add("CAPABILITY_AUTO_EXPAND")
    return sorted(needed)


def checkov_skip(*checks: tuple[str, str]) -> dict:
    """Resource Metadata that skips checkov checks, each ``(check id, reason a reviewer accepts)``."""
    return {"checkov": {"skip": [{"id": check_id, "comment": reason} for check_id, reason in checks]}}


# Long texts a template embeds (buildspecs, the hook's source, the ECR lifecycle policy): in out/ they
# are written one source line per JSON line, so a pull request shows the line that changed.
JOINED_PROPERTIES = frozenset({"BuildSpec", "ZipFile", "LifecyclePolicyText"})
LINE_LIMIT = 400  # characters per line of any file in out/ (tests/test_readable_out.py)
# Characters of one JSON-encoded element of such a join: the rest of LINE_LIMIT is for indentation.
_PIECE_LIMIT = 320


def render(body: dict[str, Any] | list[Any]) -> str:
    """Serialise a template (or any JSON document in out/): two-space indent, sorted keys, final newline.

    Under Resources, a JOINED_PROPERTIES text that has several lines (or one too long) is written as
    ``{"Fn::Join": ["\\n", [line, ...]]}`` (see ``split_lines``); everything else is as built.

    The text is exactly ``json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\\n"``
    (tests/test_render_speed.py): with ``indent`` json falls back to its pure-Python encoder, so
    ``_dumps`` writes the same layout itself, with json's C string encoder for every string."""
    if isinstance(body, dict) and isinstance(body.get("Resources"), dict):
        body = {**body, "Resources": _join_long_texts(body["Resources"])}
    try:
        return _dumps(body) + "\n"
    except (_UncoveredError, TypeError, RecursionError):
        # Whatever _dumps does not cover (non-string keys, unknown types, a cycle): json's own
        # result or error.
        return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# json.encoder.encode_basestring is _json's C function when CPython has it (it always does);
# json.dumps(text, ensure_ascii=False) is this function's result for a str.
_encode_str = json.encoder.encode_basestring
_INFINITY = float("inf")


class _UncoveredError(Exception):
    """Something _dumps leaves to json.dumps."""


def _scalar(value: Any) -> str:
    """One JSON value that is not a container, as json writes it (same order of checks)."""
    if isinstance(value, str):
        return _encode_str(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value == _INFINITY:
            return "Infinity"
        if value == -_INFINITY:
            return "-Infinity"
        return float.__repr__(value)
    raise _UncoveredError


def _dumps(document: Any) -> str:
    """``json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False)``, raising _UncoveredError
    for what it does not cover."""
    parts: list[str] = []
    emit = parts.append

    def write(value: Any, newline: str) -> None:
        # ``newline`` is a line break and the indentation of the line ``value`` starts on.
        if isinstance(value, dict):
            if not value:
                emit("{}")
                return
            inner = newline + "  "
            separator = "," + inner
            emit("{" + inner)
            first = True
            for key, item in sorted(value.items()):
                if not isinstance(key, str):
                    raise _UncoveredError
                if first:
                    first = False
                else:
                    emit(separator)
                emit(_encode_str(key))
                emit(": ")
                if type(item) is str:
                    emit(_encode_str(item))
                elif isinstance(item, (dict, list, tuple)):
                    write(item, inner)
                else:
                    emit(_scalar(item))
            emit(newline + "}")
        elif isinstance(value, (list, tuple)):
            if not value:
                emit("[]")
                return
            inner = newline + "  "
            separator = "," + inner
            emit("[" + inner)
            first = True
            for item in value:
                if first:
                    first = False
                else:
                    emit(separator)
                if type(item) is str:
                    emit(_encode_str(item))
                elif isinstance(item, (dict, list, tuple)):
                    write(item, inner)
                else:
                    emit(_scalar(item))
            emit(newline + "]")
        else:
            emit(_scalar(value))

    write(document, "\n")
    return "".join(parts)


def _join_long_texts(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: split_lines(value) if key in JOINED_PROPERTIES and isinstance(value, str) else _join_long_texts(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_join_long_texts(value) for value in node]
    return node


def _encoded(text: str) -> int:
    """Characters of ``text`` as a JSON string (``len(json.dumps(text, ensure_ascii=False))``)."""
    return len(_encode_str(text))


def split_lines(text: str) -> str | dict[str, Any]:
    """``text`` as an Fn::Join that CloudFormation resolves to exactly ``text``.

    Each element is one line (``text.split("\\n")``, so a final newline is a last empty element).
    A line whose JSON form is longer than _PIECE_LIMIT is itself ``{"Fn::Join": [" ", [piece, ...]]}``:
    the continuation, the line cut at spaces (the pieces join with one space). Short one-line text
    stays as it is."""
    if "\n" not in text:
        return _split_line(text)
    return {"Fn::Join": ["\n", [_split_line(line) for line in text.split("\n")]]}


def _split_line(line: str) -> str | dict[str, Any]:
    if _encoded(line) <= _PIECE_LIMIT:
        return line
    # Split at spaces (an empty separator would be cfn-lint's I1022, "prefer Fn::Sub", and
    # Fn::Sub would read ${...} in the text): whole words per piece, one space between pieces.
    pieces: list[str] = []
    for word in line.split(" "):
        if pieces and _encoded(f"{pieces[-1]} {word}") <= _PIECE_LIMIT:
            pieces[-1] = f"{pieces[-1]} {word}"
        else:
            pieces.append(word)
    too_long = [piece for piece in pieces if _encoded(piece) > _PIECE_LIMIT]
    if too_long:
        raise ValueError(f"cannot split a line for out/ at spaces: {too_long[0][:60]!r}...")
    return {"Fn::Join": [" ", pieces]}


def resolve_joins(node: Any) -> Any:
    """``node`` with every Fn::Join of literal strings replaced by the text it resolves to (as
    CloudFormation does): how a reader of out/ gets back a buildspec, the hook's source or a policy."""
    if isinstance(node, list):
        return [resolve_joins(value) for value in node]
    if not isinstance(node, dict):
        return node
    resolved = {key: resolve_joins(value) for key, value in node.items()}
    join = resolved.get("Fn::Join")
    if len(resolved) == 1 and isinstance(join, list) and len(join) == 2:
        separator, values = join
        if isinstance(separator, str) and isinstance(values, list) and all(isinstance(v, str) for v in values):
            return separator.join(values)
    return resolved
