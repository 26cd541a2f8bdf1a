"""Project cfn-lint rules for the Hooks section read by the AWS::CodeDeployBlueGreen transform.

E9101: the hook's documented structure, keys, required keys, enums and ranges, accepting
       AWS's own template example (which omits ServiceRole and TestTrafficRoute).
E9102: every logical ID the hook names exists with the right resource type (and the green
       ones do not), and the ECS service uses the EXTERNAL deployment controller.
W9105: a hook without ServiceRole or without TestTrafficRoute (a warning: the reference
       marks both required, but AWS's own example omits them).

Facts and sources: bluegreen_facts.py (AWS CloudFormation User Guide, blue/green hook syntax).
"""

from __future__ import annotations

import difflib

from cfnlint.rules import CloudFormationLintRule, RuleMatch

from . import bluegreen_facts as bg


def _obj(keys: dict, required: tuple = ()) -> dict:
    return {"object": keys, "required": required}


def _enum(*values: str) -> dict:
    return {"string": values}


def _int(low: int, high: int | None = None) -> dict:
    return {"integer": (low, high)}


STRING = {"string": None}
# [blue, green]: the documented lists hold exactly these two logical IDs, in this order.
PAIR = {"pair": True}
ROUTE = _obj({"Type": _enum(bg.LISTENER), "LogicalID": STRING}, ("Type", "LogicalID"))
STEPS = _obj({"StepPercentage": _int(bg.MIN_STEP_PERCENTAGE, 100), "BakeTimeMins": _int(0)})
APPLICATION = _obj(
    {
        "Target": _obj({"Type": _enum(bg.SERVICE), "LogicalID": STRING}, ("Type", "LogicalID")),
        "ECSAttributes": _obj(
            {
                "TaskDefinitions": PAIR,
                "TaskSets": PAIR,
                # The hook syntax page marks TestTrafficRoute as required, but AWS's own template example
                # omits it; its absence is the warning W9105, not a structural error.
                "TrafficRouting": _obj(
                    {"ProdTrafficRoute": ROUTE, "TestTrafficRoute": ROUTE, "TargetGroups": PAIR},
                    ("ProdTrafficRoute", "TargetGroups"),
                ),
            },
            ("TaskDefinitions", "TaskSets", "TrafficRouting"),
        ),
    },
    ("Target", "ECSAttributes"),
)
PROPERTIES = _obj(
    {
        "TrafficRoutingConfig": _obj(
            {"Type": _enum(*bg.TRAFFIC_ROUTING_TYPES), "TimeBasedCanary": STEPS, "TimeBasedLinear": STEPS}, ("Type",)
        ),
        "AdditionalOptions": _obj({"TerminationWaitTimeInMinutes": _int(0, bg.MAX_TERMINATION_WAIT)}),
        "LifecycleEventHooks": _obj({event: STRING for event in bg.LIFECYCLE_EVENTS}),
        # Documented as required, although AWS's own template example omits it: W9105 warns, E9101 does not.
        "ServiceRole": STRING,
        "Applications": {"one": APPLICATION},  # only a single ECS service can be the deployment target
    },
    ("Applications",),
)
HOOK = _obj({"Type": _enum(bg.HOOK_TYPE), "Properties": PROPERTIES}, ("Type", "Properties"))


def _kind(value) -> str:
    """How a wrong value is named in a message."""
    if isinstance(value, dict) and len(value) == 1:
        function = str(next(iter(value)))
        if function == "Ref" or function.startswith("Fn::"):
            return f"the intrinsic function {function} (the transform reads Hooks literally)"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)


def check(node, spec: dict, path: tuple) -> list[tuple[tuple, str]]:
    """(path, message) for every way node departs from spec."""
    at = bg.where(path)
    if "object" in spec:
        if not isinstance(node, dict):
            return [(path, f"{at}: expected an object, got {_kind(node)}")]
        problems = []
        allowed = spec["object"]
        for key in spec["required"]:
            if key not in node:
                problems.append((path, f"{at}: missing required key '{key}'"))
        for key, value in node.items():
            if key in allowed:
                problems += check(value, allowed[key], path + (key,))
                continue
            guess = difflib.get_close_matches(str(key), list(allowed), n=1)
            hint = f"did you mean '{guess[0]}'? " if guess else ""
            problems.append((path + (key,), f"{at}/{key}: unknown key; {hint}(allowed: {', '.join(allowed)})"))
        return problems
    if "string" in spec:
        if not isinstance(node, str) or not node:
            return [(path, f"{at}: expected a non-empty literal string, got {_kind(node)}")]
        choices = spec["string"]
        if choices and node not in choices:
            return [(path, f"{at}: '{node}' is not one of {', '.join(choices)}")]
        return []
    if "integer" in spec:
        low, high = spec["integer"]
        if not isinstance(node, int) or isinstance(node, bool):
            return [(path, f"{at}: expected an integer, got {_kind(node)}")]
        if node < low or (high is not None and node > high):
            bounds = f"between {low} and {high}" if high is not None else f"{low} or greater"
            return [(path, f"{at}: {node} is out of range (must be {bounds})")]
        return []
    if "pair" in spec:
        if not isinstance(node, list) or len(node) != 2:
            count = f"{len(node)} item(s)" if isinstance(node, list) else _kind(node)
            return [(path, f"{at}: expected a list of exactly two logical IDs [blue, green], got {count}")]
        problems = []
        for index, item in enumerate(node):
            problems += check(item, STRING, path + (index,))
        if not problems and node[0] == node[1]:
            problems.append((path, f"{at}: blue and green are both '{node[0]}'; they must differ"))
        return problems
    if "one" in spec:
        if not isinstance(node, list) or len(node) != 1:
            count = f"{len(node)} item(s)" if isinstance(node, list) else _kind(node)
            return [(path, f"{at}: expected a list with exactly one application (one ECS service), got {count}")]
        return check(node[0], spec["one"], path + (0,))
    raise ValueError(f"unknown spec {spec}")


def traffic_routing_blocks(config, path: tuple) -> list[tuple[tuple, str]]:
    """Only the block that matches Type, and that block when Type needs one (hook syntax page)."""
    if not isinstance(config, dict) or config.get("Type") not in bg.TRAFFIC_ROUTING_TYPES:
        return []
    routing = config["Type"]
    problems = []
    if routing != "AllAtOnce" and routing not in config:
        problems.append(
            (
                path,
                f"{bg.where(path)}: Type is {routing} but the {routing} block "
                "(StepPercentage, BakeTimeMins) is missing",
            )
        )
    for block in ("TimeBasedCanary", "TimeBasedLinear"):
        if block in config and block != routing:
            problems.append(
                (
                    path + (block,),
                    f"{bg.where(path + (block,))}: a {block} block does not match "
                    f"Type {routing}; declare only the block matching the type",
                )
            )
    return problems


class BlueGreenHookStructure(CloudFormationLintRule):
    """The Hooks section holds one AWS::CodeDeploy::BlueGreen hook with its documented shape."""

    id = "E9101"
    shortdesc = "AWS::CodeDeploy::BlueGreen hook structure"
    description = (
        "Validate the Hooks section used by the AWS::CodeDeployBlueGreen transform: one hook of type "
        "AWS::CodeDeploy::BlueGreen, its documented keys (unknown keys are errors), required keys "
        "(those AWS's own example has; ServiceRole and TestTrafficRoute are W9105), traffic-routing "
        "type and matching block, ranges and list shapes"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-hook-syntax.html"
    tags = ["hooks", "blue-green", "project"]

    def match(self, cfn):
        template = cfn.template
        if not isinstance(template, dict) or "Hooks" not in template:
            return []
        hooks = template["Hooks"]
        if not isinstance(hooks, dict) or not hooks:
            return [RuleMatch(["Hooks"], f"Hooks: expected an object with one {bg.HOOK_TYPE} hook")]
        problems = []
        if len(hooks) > 1:
            problems.append(
                (
                    ("Hooks",),
                    f"Hooks: {len(hooks)} hooks ({', '.join(map(str, hooks))}); declare exactly "
                    f"one {bg.HOOK_TYPE} hook (the transform deploys a single ECS service)",
                )
            )
        for logical_id, hook in hooks.items():
            path = ("Hooks", logical_id)
            if not str(logical_id).isalnum() or not str(logical_id).isascii():
                problems.append((path, f"Hooks/{logical_id}: a hook's logical ID must be alphanumeric (A-Za-z0-9)"))
            problems += check(hook, HOOK, path)
            problems += traffic_routing_blocks(
                bg.field(hook, "Properties", "TrafficRoutingConfig"), path + ("Properties", "TrafficRoutingConfig")
            )
        return [RuleMatch(list(p), message) for p, message in problems]


# Which resource type each logical ID in the hook must name; None: must not be a resource at all
# ("CloudFormation only creates the blue resources"; green ones are generated during a green deployment).
REFERENCES = (
    (("Target", "LogicalID"), bg.SERVICE, "the ECS service"),
    (("ECSAttributes", "TaskDefinitions", 0), bg.TASK_DEFINITION, "the blue task definition"),
    (("ECSAttributes", "TaskDefinitions", 1), None, "the green task definition"),
    (("ECSAttributes", "TaskSets", 0), bg.TASK_SET, "the blue task set"),
    (("ECSAttributes", "TaskSets", 1), None, "the green task set"),
    (("ECSAttributes", "TrafficRouting", "ProdTrafficRoute", "LogicalID"), bg.LISTENER, "the production listener"),
    (("ECSAttributes", "TrafficRouting", "TestTrafficRoute", "LogicalID"), bg.LISTENER, "the test listener"),
    (("ECSAttributes", "TrafficRouting", "TargetGroups", 0), bg.TARGET_GROUP, "the blue target group"),
    (("ECSAttributes", "TrafficRouting", "TargetGroups", 1), bg.TARGET_GROUP, "the green target group"),
)


class BlueGreenHookReferences(CloudFormationLintRule):
    """Every logical ID in the hook names a resource of the right type."""

    id = "E9102"
    shortdesc = "AWS::CodeDeploy::BlueGreen hook logical IDs"
    description = (
        "Validate that the service, blue task definition and task set, listeners and target groups named "
        "by an AWS::CodeDeploy::BlueGreen hook exist with the right resource type, that the green task "
        "definition and task set are not declared as resources, and that the service uses the EXTERNAL "
        "deployment controller"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-template-example.html"
    tags = ["hooks", "blue-green", "project"]

    def match(self, cfn):
        template = cfn.template
        matches = []
        for hook_id, hook in bg.bluegreen_hooks(template):
            applications = bg.field(hook, "Properties", "Applications")
            if not isinstance(applications, list):
                continue
            for index, application in enumerate(applications):
                base = ("Hooks", hook_id, "Properties", "Applications", index)
                matches += self._application(template, application, base)
        return matches

    @staticmethod
    def _application(template: dict, application, base: tuple) -> list[RuleMatch]:
        matches = []
        for keys, expected, role in REFERENCES:
            logical_id = bg.field(application, *keys)
            if not isinstance(logical_id, str) or not logical_id:
                continue  # missing or malformed: E9101 reports it (a missing test route: W9105)
            path = base + keys
            found = bg.resource_type(template, logical_id)
            exists = logical_id in bg.resources(template)
            if expected is None and exists:
                matches.append(
                    RuleMatch(
                        list(path),
                        f"{bg.where(path)}: '{logical_id}' is {role}, which "
                        "CloudFormation creates during a green deployment; it must not be "
                        "declared in Resources",
                    )
                )
            elif expected is not None and not exists:
                matches.append(
                    RuleMatch(
                        list(path),
                        f"{bg.where(path)}: '{logical_id}' ({role}) does not exist in Resources; expected a {expected}",
                    )
                )
            elif expected is not None and found != expected:
                matches.append(
                    RuleMatch(
                        list(path), f"{bg.where(path)}: '{logical_id}' ({role}) is a {found}, expected a {expected}"
                    )
                )
        service = bg.field(application, "Target", "LogicalID")
        if isinstance(service, str) and bg.resource_type(template, service) == bg.SERVICE:
            controller = bg.field(bg.resources(template)[service], "Properties", "DeploymentController", "Type")
            if controller != "EXTERNAL":
                path = ("Resources", service, "Properties")
                matches.append(
                    RuleMatch(
                        list(path),
                        f"Resources/{service}: the ECS service targeted by the "
                        f"blue/green hook must use DeploymentController Type EXTERNAL, "
                        f"not {controller!r}",
                    )
                )
        return matches


class BlueGreenHookRecommendedKeys(CloudFormationLintRule):
    """ServiceRole and TestTrafficRoute: required by the reference, omitted by AWS's own example."""

    id = "W9105"
    shortdesc = "AWS::CodeDeploy::BlueGreen hook without ServiceRole or TestTrafficRoute"
    description = (
        "Warn when an AWS::CodeDeploy::BlueGreen hook has no ServiceRole or an application has no "
        "TestTrafficRoute: the hook syntax reference marks both as required (AWS's template example "
        "omits them, so E9101 accepts their absence), and without a test route the "
        "AfterAllowTestTraffic validation hook has no test listener to test the green version through"
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/blue-green-hook-syntax.html"
    tags = ["hooks", "blue-green", "project"]

    def match(self, cfn):
        template = cfn.template
        matches = []
        for hook_id, hook in bg.bluegreen_hooks(template):
            properties = hook.get("Properties")
            if not isinstance(properties, dict):
                continue  # E9101 reports it
            path = ("Hooks", hook_id, "Properties")
            if "ServiceRole" not in properties:
                matches.append(
                    RuleMatch(
                        list(path),
                        f"{bg.where(path)}: no ServiceRole; the hook reference "
                        "marks it required (name the IAM role CodeDeploy uses for the "
                        "deployment)",
                    )
                )
            applications = properties.get("Applications")
            for index, application in enumerate(applications if isinstance(applications, list) else []):
                routing_path = path + ("Applications", index, "ECSAttributes", "TrafficRouting")
                routing = bg.field(application, "ECSAttributes", "TrafficRouting")
                if isinstance(routing, dict) and "TestTrafficRoute" not in routing:
                    matches.append(
                        RuleMatch(
                            list(routing_path),
                            f"{bg.where(routing_path)}: no "
                            "TestTrafficRoute; the hook reference marks it required, and "
                            "without a test listener the AfterAllowTestTraffic validation "
                            "hook has nothing to test",
                        )
                    )
        return matches
