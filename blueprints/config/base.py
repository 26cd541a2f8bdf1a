"""Shared pieces of parameter-file validation: strict models, YAML loading, error text.

Every user-facing error has the shape ``<file>: <key.path>: <value> <what is wrong and
what is allowed>`` so that a typo in params/ is found without reading a traceback.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class ParamsError(Exception):
    """One or more problems in a parameter file; ``str()`` is ready to print."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class KeyProblem(Exception):  # noqa: N818 - a report of one key, raised past pydantic, not an error class
    """Raised by a check across keys to name the exact key it is about: a ValueError from a model
    validator would be reported at the enclosing section. Not a ValueError on purpose, so pydantic
    lets it through to ``load_environment``, which formats it like every other problem."""

    def __init__(self, path: str, value: Any, message: str):
        super().__init__(f"{path}: {value!r} {message}")
        self.path, self.value, self.message = path, value, message

    def line(self, shown: str) -> str:
        """The problem as one line of a ``ParamsError``: ``<file>: <key.path>: <value> <message>``."""
        return f"{shown}: {self.path}: {self.value!r} {self.message}"


class KeyProblems(Exception):  # noqa: N818 - like KeyProblem: reports, raised past pydantic
    """Every problem a check across keys found (e.g. across the services of ``services:``), so that
    one run of the generator lists them all rather than the first."""

    def __init__(self, problems: list[KeyProblem]):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


class StrictModel(BaseModel):
    """Base of every config object: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# libyaml's parser when PyYAML was built with it (several times faster); same constructors and marks.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """SafeLoader that rejects duplicate mapping keys (PyYAML keeps the last one silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict:
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen[key] = True
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path, shown: str) -> dict:
    """Parse one parameter file into a dict, turning YAML problems into ParamsError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParamsError([f"{shown}: cannot be read: {exc.strerror}"]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ParamsError([f"{shown}: {where}{exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise ParamsError([f"{shown}: not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise ParamsError([f"{shown}: the file must hold a mapping of keys, not {type(data).__name__}"])
    return data


def _location(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """Walk the model along ``loc`` (minus the bad key) to list the keys allowed there."""
    current: Any = model
    for item in loc[:-1]:
        if isinstance(item, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue
        field = current.model_fields.get(item)
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


_PYDANTIC_TEXT = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be a mapping of keys",
    "list_type": "must be a list",
    "model_type": "must be a mapping of keys",
    "model_attributes_type": "must be a mapping of keys",
}


def format_validation_error(shown: str, model: type[BaseModel], error: ValidationError) -> ParamsError:
    problems = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
        kind = err["type"]
        where = _location(loc)
        if kind == "extra_forbidden":
            allowed = ", ".join(_allowed_keys(model, loc)) or "none"
            problems.append(f"{shown}: {where}: unknown key (allowed keys: {allowed})")
            continue
        if kind == "missing":
            problems.append(f"{shown}: {where}: is required")
            continue
        if kind in ("literal_error", "enum"):
            expected = err.get("ctx", {}).get("expected", "")
            text = f"is not allowed (allowed: {expected})"
        elif kind == "value_error":
            text = str(err["ctx"]["error"])
        elif kind in _PYDANTIC_TEXT:
            text = _PYDANTIC_TEXT[kind]
        else:
            text = err["msg"][0].lower() + err["msg"][1:]
        # Whole-section checks (model validators) name the section, not its full contents.
        value = "" if isinstance(err["input"], (dict, list)) and kind == "value_error" else f"{err['input']!r} "
        problems.append(f"{shown}: {where}: {value}{text}")
    return ParamsError(problems)


# --- value checks shared by several config sections -------------------------------------

_TAG_CHARS = re.compile(r"^[\w\s.:/=+\-@]*$", re.UNICODE)


def check_tags(tags: dict[str, str], reserved: int = 0) -> dict[str, str]:
    """AWS tag rules: key 1-128, value 0-256, letters/digits/space and _.:/=+-@, no aws: prefix."""
    if len(tags) > 50 - reserved:
        raise ValueError(f"has {len(tags)} tags; at most {50 - reserved} are allowed")
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 128 or not _TAG_CHARS.match(key):
            raise ValueError(f"has an invalid tag key {key!r}: 1-128 letters, digits, spaces or _.:/=+-@ are allowed")
        if key.lower().startswith("aws:"):
            raise ValueError(f"has tag key {key!r}: the aws: prefix is reserved by AWS")
        if not isinstance(value, str) or len(value) > 256 or not _TAG_CHARS.match(value):
            raise ValueError(
                f"has an invalid value {value!r} for tag {key!r}: a string of 0-256 letters, digits, "
                "spaces or _.:/=+-@ is allowed (quote numbers)"
            )
    return tags


def check_cidr(value: str, low: int = 0, high: int = 32, what: str = "an IPv4 CIDR") -> str:
    try:
        net = ipaddress.IPv4Network(value, strict=True)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError, TypeError):
        raise ValueError(f"is not {what} between /{low} and /{high}") from None
    if not low <= net.prefixlen <= high:
        raise ValueError(f"is not {what} between /{low} and /{high}")
    return str(net)


# An ACM certificate ARN in any partition, region and account.
CERTIFICATE_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:acm:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:certificate/[0-9a-f-]{36}$")


def check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError("is not a port from 1 to 65535")
    return value


def check_certificate_arn(value: str | None) -> str | None:
    if value is not None and not CERTIFICATE_ARN.match(value):
        raise ValueError("is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<36-character id>)")
    return value


def check_cidr_list(value: list[str]) -> list[str]:
    """Listener source CIDRs: at most 50 (a security group holds at most 60 rules), no repeats."""
    if len(value) > 50:
        raise ValueError("lists more than 50 CIDRs (a security group holds at most 60 rules)")
    for cidr in value:
        try:
            check_cidr(cidr)
        except ValueError:
            raise ValueError(f"has {cidr!r}, which is not an IPv4 CIDR such as 203.0.113.0/24") from None
    if len(set(value)) != len(value):
        raise ValueError("lists the same CIDR twice")
    return value
