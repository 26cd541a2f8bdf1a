"""troposphere objects -> plain JSON data in one pass (what ``troposphere.encode_to_dict`` returns).

troposphere 4.11.1 encodes a nested object, then walks the dict it got back once more at every level
above it (``encode_to_dict(obj.to_dict())``), so a template is traversed once per nesting depth: about
half of an environment's build time. This walks it once, with the same validation and the same
result. Any object whose ``to_dict`` is not troposphere's own base method is handed to that method,
as troposphere does; ``tests/test_render_speed.py`` compares the two on every template of out/.
"""

from __future__ import annotations

from typing import Any

from troposphere import AWSHelperFn, BaseAWSObject, Template

_OBJECT_TO_DICT = BaseAWSObject.to_dict
_HELPER_TO_DICT = AWSHelperFn.to_dict
_SCALARS = (str, int, float, bool, type(None))


def encode(obj: Any) -> Any:
    """The value ``troposphere.encode_to_dict(obj)`` returns."""
    kind = type(obj)
    if kind in _SCALARS:
        return obj
    if kind is dict:
        return {name: encode(value) for name, value in obj.items()}
    if kind is list or kind is tuple:
        return [encode(item) for item in obj]
    to_dict = getattr(kind, "to_dict", None)
    if to_dict is _OBJECT_TO_DICT:
        return _aws_object(obj)
    if to_dict is _HELPER_TO_DICT:
        return encode(obj.data)
    # Everything else exactly in troposphere's order of tests (encode_to_dict).
    if hasattr(obj, "to_dict"):
        return encode(obj.to_dict())
    if isinstance(obj, list | tuple):
        return [encode(item) for item in obj]
    if isinstance(obj, dict):
        return {name: encode(value) for name, value in obj.items()}
    if hasattr(obj, "JSONrepr"):
        return encode(obj.JSONrepr())
    return obj


def _aws_object(obj: BaseAWSObject) -> Any:
    """``BaseAWSObject.to_dict()`` (validation included), with the nested objects encoded once."""
    if obj.do_validation:
        obj._validate_props()
        obj.validate()
    if obj.properties:
        return encode(obj.resource)
    if hasattr(obj, "resource_type"):
        return encode({k: v for k, v in obj.resource.items() if k != "Properties"})
    return {}


def template(t: Template) -> dict[str, Any]:
    """``Template.to_dict()`` of troposphere 4.11.1: the same sections, in the same order."""
    sections: dict[str, Any] = {}
    for key, value in (
        ("Description", t.description),
        ("Metadata", t.metadata),
        ("Conditions", t.conditions),
        ("Mappings", t.mappings),
        ("Outputs", t.outputs),
        ("Parameters", t.parameters),
        ("AWSTemplateFormatVersion", t.version),
        ("Transform", t.transform),
        ("Rules", t.rules),
        ("Globals", t.globals),
    ):
        if value:
            sections[key] = value
    sections["Resources"] = t.resources
    result: dict[str, Any] = encode(sections)
    return result
