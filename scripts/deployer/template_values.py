"""Template values as the stack will see them, for the readers that compare two templates (the
change view, the widening gate): parameter references resolved, and text that out/ writes line by
line (blueprints.template renders long buildspecs, inline sources and policies as an ``Fn::Join`` of
literal lines, so that reviews diff them by line) joined back as CloudFormation joins it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_SUB_NAME = re.compile(r"\$\{([^}!.]+)\}")


def literal_text(value: Any) -> Any:
    """An ``Fn::Join`` whose separator and elements are literal strings (or such joins), joined;
    any other value as it is."""
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        argument = value["Fn::Join"]
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
            items = [literal_text(item) for item in argument[1]]
            if isinstance(argument[0], str) and all(isinstance(item, str) for item in items):
                return argument[0].join(items)
    return value


def resolve(value: Any, parameters: Mapping[str, str]) -> Any:
    """``value`` with each ``Ref`` to a parameter replaced by its value, ``${Param}`` in an
    ``Fn::Sub`` string too (a Sub left with other names stays a Sub), and literal joins joined;
    references to resources are kept as they are."""
    if isinstance(value, list):
        return [resolve(v, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and isinstance(value.get("Ref"), str) and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    if len(value) == 1 and isinstance(value.get("Fn::Sub"), str):
        text = _SUB_NAME.sub(lambda m: parameters.get(m.group(1), m.group(0)), value["Fn::Sub"])
        return text if "${" not in text else {"Fn::Sub": text}
    return literal_text({k: resolve(v, parameters) for k, v in value.items()})
