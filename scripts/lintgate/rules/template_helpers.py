"""Reading a template for the project's cfn-lint rules, which must not fail on malformed input.

Every helper tolerates a value of the wrong kind (cfn-lint's own rules report those), and the
rules describe a problem as a ``Problem``: the path into the template and the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from cfnlint.rules import RuleMatch

from . import bluegreen_facts as bg

TemplatePath = tuple[Any, ...]
Problem = tuple[TemplatePath, str]


def where(path: TemplatePath) -> str:
    """A path as the messages show it: Hooks/MyHook/Properties."""
    return "/".join(str(p) for p in path)


def rule_matches(problems: Iterable[Problem]) -> list[RuleMatch]:
    return [RuleMatch(list(path), message) for path, message in problems]


def field(node: Any, *keys: str | int) -> Any:
    """node[k1][k2]... or None when any step is missing or of the wrong kind."""
    for key in keys:
        if isinstance(key, int):
            if not isinstance(node, list) or len(node) <= key:
                return None
            node = node[key]
        elif isinstance(node, dict):
            node = node.get(key)
        else:
            return None
    return node


def walk(node: Any, path: TemplatePath = ()) -> Iterator[tuple[TemplatePath, Any]]:
    """Every (path, value) in a template, depth first, in document order."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def resources(template: dict) -> dict:
    found = template.get("Resources")
    return found if isinstance(found, dict) else {}


def resource_type(template: dict, logical_id: str) -> str | None:
    kind = field(resources(template), logical_id, "Type")
    return kind if isinstance(kind, str) else None


def declares_transform(template: dict) -> bool:
    declared = template.get("Transform", [])
    return bg.TRANSFORM in (declared if isinstance(declared, list) else [declared])


def in_scope(template: Any) -> bool:
    """The rules look only at templates that use the transform or carry a Hooks section."""
    return isinstance(template, dict) and ("Hooks" in template or declares_transform(template))


def bluegreen_hooks(template: Any) -> Iterator[tuple[str, dict]]:
    """(logical ID, hook) of every blue/green hook; nothing for a template without a Hooks object."""
    hooks = template.get("Hooks") if isinstance(template, dict) else None
    if isinstance(hooks, dict):
        for logical_id, hook in hooks.items():
            if isinstance(hook, dict) and hook.get("Type") == bg.HOOK_TYPE:
                yield str(logical_id), hook
