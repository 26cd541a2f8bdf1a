"""The documented shape of an AWS::CodeDeploy::BlueGreen hook, and how a hook departs from it.

A shape is a tree of ``Shape`` values (an object with its keys, a literal string, an integer in a
range, a [blue, green] pair of logical IDs, a list of exactly one item); ``HOOK`` is the hook's
shape as the hook syntax page documents it (facts and sources: bluegreen_facts.py). Used by E9101.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import bluegreen_facts as bg
from .template_helpers import Problem, TemplatePath, where


def kind_of(value: Any) -> str:
    """How a wrong value is named in a message."""
    if isinstance(value, dict) and len(value) == 1:
        function = str(next(iter(value)))
        if function == "Ref" or function.startswith("Fn::"):
            return f"the intrinsic function {function} (the transform reads Hooks literally)"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def _count(node: Any) -> str:
    return f"{len(node)} item(s)" if isinstance(node, list) else kind_of(node)


class Shape(ABC):
    @abstractmethod
    def problems(self, node: Any, path: TemplatePath) -> list[Problem]:
        """(path, message) for every way node departs from this shape."""


@dataclass(frozen=True)
class Text(Shape):
    """A non-empty literal string, optionally one of ``choices``."""

    choices: tuple[str, ...] = ()

    def problems(self, node: Any, path: TemplatePath) -> list[Problem]:
        if not isinstance(node, str) or not node:
            return [(path, f"{where(path)}: expected a non-empty literal string, got {kind_of(node)}")]
        if self.choices and node not in self.choices:
            return [(path, f"{where(path)}: '{node}' is not one of {', '.join(self.choices)}")]
        return []


@dataclass(frozen=True)
class Integer(Shape):
    low: int
    high: int | None = None

    def problems(self, node: Any, path: TemplatePath) -> list[Problem]:
        # bool is an int in Python, but true is not a number of minutes.
        if not isinstance(node, int) or isinstance(node, bool):
            return [(path, f"{where(path)}: expected an integer, got {kind_of(node)}")]
        if node < self.low or (self.high is not None and node > self.high):
            bounds = f"between {self.low} and {self.high}" if self.high is not None else f"{self.low} or greater"
            return [(path, f"{where(path)}: {node} is out of range (must be {bounds})")]
        return []


@dataclass(frozen=True)
class Object(Shape):
    """An object with only the ``keys`` given (a near miss gets a "did you mean"), ``required`` among them."""

    keys: Mapping[str, Shape]
    required: tuple[str, ...] = ()

    def problems(self, node: Any, path: TemplatePath) -> list[Problem]:
        if not isinstance(node, dict):
            return [(path, f"{where(path)}: expected an object, got {kind_of(node)}")]
        found = [(path, f"{where(path)}: missing required key '{key}'") for key in self.required if key not in node]
        for key, value in node.items():
            if key in self.keys:
                found += self.keys[key].problems(value, (*path, key))
            else:
                found.append(self._unknown(key, path))
        return found

    def _unknown(self, key: Any, path: TemplatePath) -> Problem:
        guess = difflib.get_close_matches(str(key), list(self.keys), n=1)
        hint = f"did you mean '{guess[0]}'? " if guess else ""
        return (*path, key), f"{where(path)}/{key}: unknown key; {hint}(allowed: {', '.join(self.keys)})"


@dataclass(frozen=True)
class BlueGreenPair(Shape):
    """[blue, green]: the documented lists hold exactly these two logical IDs, in this order."""

    def problems(self, node: Any, path: TemplatePath) -> list[Problem]:
        if not isinstance(node, list) or len(node) != 2:
            return [
                (path, f"{where(path)}: expected a list of exactly two logical IDs [blue, green], got {_count(node)}")
            ]
        found = [problem for index, item in enumerate(node) for problem in Text().problems(item, (*path, index))]
        if not found and node[0] == node[1]:
            found.append((path, f"{where(path)}: blue and green are both '{node[0]}'; they must differ"))
        return found


@dataclass(frozen=True)
class OneApplication(Shape):
    """Only a single ECS service can be the deployment target."""

    application: Shape

    def problems(self, node: Any, path: TemplatePath) -> list[Problem]:
        if not isinstance(node, list) or len(node) != 1:
            expected = "a list with exactly one application (one ECS service)"
            return [(path, f"{where(path)}: expected {expected}, got {_count(node)}")]
        return self.application.problems(node[0], (*path, 0))


ROUTE = Object({"Type": Text((bg.LISTENER,)), "LogicalID": Text()}, ("Type", "LogicalID"))
STEPS = Object({"StepPercentage": Integer(bg.MIN_STEP_PERCENTAGE, 100), "BakeTimeMins": Integer(0)})
TRAFFIC_ROUTING = Object(
    # The hook syntax page marks TestTrafficRoute as required, but AWS's own template example
    # omits it; its absence is the warning W9105, not a structural error.
    {"ProdTrafficRoute": ROUTE, "TestTrafficRoute": ROUTE, "TargetGroups": BlueGreenPair()},
    ("ProdTrafficRoute", "TargetGroups"),
)
APPLICATION = Object(
    {
        "Target": Object({"Type": Text((bg.SERVICE,)), "LogicalID": Text()}, ("Type", "LogicalID")),
        "ECSAttributes": Object(
            {"TaskDefinitions": BlueGreenPair(), "TaskSets": BlueGreenPair(), "TrafficRouting": TRAFFIC_ROUTING},
            ("TaskDefinitions", "TaskSets", "TrafficRouting"),
        ),
    },
    ("Target", "ECSAttributes"),
)
PROPERTIES = Object(
    {
        "TrafficRoutingConfig": Object(
            {"Type": Text(bg.TRAFFIC_ROUTING_TYPES), "TimeBasedCanary": STEPS, "TimeBasedLinear": STEPS}, ("Type",)
        ),
        "AdditionalOptions": Object({"TerminationWaitTimeInMinutes": Integer(0, bg.MAX_TERMINATION_WAIT)}),
        "LifecycleEventHooks": Object({event: Text() for event in bg.LIFECYCLE_EVENTS}),
        # Documented as required, although AWS's own template example omits it: W9105 warns, E9101 does not.
        "ServiceRole": Text(),
        "Applications": OneApplication(APPLICATION),
    },
    ("Applications",),
)
HOOK = Object({"Type": Text((bg.HOOK_TYPE,)), "Properties": PROPERTIES}, ("Type", "Properties"))
