"""Text that out/ writes as ``Fn::Join`` of literal lines (blueprints.template renders long
buildspecs, inline sources and policies one line per element so that reviews diff them by line),
joined back as CloudFormation joins it. Readers of out/ that need the text itself use this."""

from __future__ import annotations

from typing import Any


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
