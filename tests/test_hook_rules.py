"""The project's cfn-lint rules for the AWS::CodeDeployBlueGreen transform (lintgate.rules).

As cfn-lint tests its own rules: every case lints a template in-process with a rules collection
holding only the project's blue/green rules, under the project's .cfnlintrc settings, so a case
costs milliseconds instead of a full cfn-lint run. Two tests add cfn-lint's E1001 to check the
.cfnlintrc allowance for the Hooks section. One test runs the real gate (``fargate-lint``) to show
that it loads the rules and that, of all cfn-lint's rules, only the project's have anything to say.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint import ConfigMixIn, Rules
from cfnlint.decode.decode import decode_str
from cfnlint.rules.jsonschema.JsonSchema import JsonSchema
from cfnlint.runner import run_template_by_data

from lintgate import cli as lint_cli
from tests.helpers import OUT, run_lint

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hooks"
HOOK = "Hooks/CodeDeployBlueGreenHook/Properties"
APP = f"{HOOK}/Applications/0"
LIMIT = "a template using the AWS::CodeDeployBlueGreen transform"
BLUEGREEN_RULES = ("E9101", "E9102", "E9103", "E9104", "W9105")
W9105_NO_TEST_ROUTE = (
    f"{APP}/ECSAttributes/TrafficRouting: no TestTrafficRoute; the hook reference marks it "
    "required, and without a test listener the AfterAllowTestTraffic validation hook has "
    "nothing to test"
)
W9105_NO_SERVICE_ROLE = (
    f"{HOOK}: no ServiceRole; the hook reference marks it required (name the IAM role CodeDeploy "
    "uses for the deployment)"
)


def _load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def _project_rules(*more: Any) -> Rules:
    """The blue/green rules as cfn-lint's append_rules loads them from lintgate.rules, and ``more``."""
    loaded = Rules.create_from_module("lintgate.rules")
    rules = Rules({rule_id: loaded[rule_id] for rule_id in BLUEGREEN_RULES})
    rules.extend(list(more))
    return rules


def _findings(body: dict, rules: Rules | None = None, settings: dict | None = None) -> list[tuple[str, str]]:
    """(rule id, message) of every finding, with the .cfnlintrc settings unless others are given.

    The template goes through cfn-lint's JSON decoder as a file would (findings get their lines), and
    the settings are passed explicitly (config_file=os.devnull), so neither the working directory's
    nor the user's .cfnlintrc counts."""
    template, errors = decode_str(json.dumps(body, indent=2))
    assert not errors, errors
    config = ConfigMixIn(config_file=os.devnull, regions=["us-east-1"], **(settings or lint_cli.cfn_lint_settings()))
    matches = run_template_by_data(template, config, rules or _project_rules())
    return [(m.rule.id, m.message) for m in matches]


def _hook(body: dict) -> dict:
    return body["Hooks"]["CodeDeployBlueGreenHook"]["Properties"]


def _routing(body: dict) -> dict:
    return _hook(body)["Applications"][0]["ECSAttributes"]["TrafficRouting"]


def test_valid_template_in_aws_documented_shape_has_no_findings():
    # AWS's example plus the two keys the property reference marks as required (see next test).
    assert _findings(_load("valid.json")) == []


def test_aws_example_verbatim_has_no_errors_only_the_two_w9105_warnings():
    """AWS's own example omits ServiceRole and TestTrafficRoute, both 'Required: Yes' in the hook reference.

    The example is a shape AWS documents, so it passes the structural rules; the two omissions are warnings
    (and still fail the project's gate, which allows no finding of any level)."""
    found = _findings(_load("aws-example.json"))
    assert [f for f in found if f[0].startswith("E")] == [], found
    assert sorted(found) == [("W9105", W9105_NO_TEST_ROUTE), ("W9105", W9105_NO_SERVICE_ROLE)]


def _rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


def _two_applications(body):
    _hook(body)["Applications"].append(copy.deepcopy(_hook(body)["Applications"][0]))


def _second_service(body):
    body["Resources"]["SecondService"] = copy.deepcopy(body["Resources"]["ECSDemoService"])


def _no_echo(body):
    body["Parameters"]["DbPassword"] = {"Type": "String", "NoEcho": True, "Description": "secret"}


def _nested_stack(body):
    body["Resources"]["Nested"] = {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": "https://s3.amazonaws.com/bucket/nested.json"},
    }


def _dynamic_reference(body):
    body["Resources"]["BlueTaskDefinition"]["Properties"]["ContainerDefinitions"][0]["Image"] = (
        "{{resolve:ssm:/demo/image}}"
    )


def _import_value(body):
    body["Resources"]["ExampleALB"]["Properties"]["SecurityGroups"] = [{"Fn::ImportValue": "shared-alb-sg"}]


def _set(*keys, value):
    def change(body):
        node = _hook(body)
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


# name: (change to valid.json, expected project findings as (rule, message fragment))
BROKEN = {
    "misspelled hook key": (
        lambda b: _rename(_hook(b), "TrafficRoutingConfig", "TrafficRoutingConfg"),
        [("E9101", f"{HOOK}/TrafficRoutingConfg: unknown key; did you mean 'TrafficRoutingConfig'?")],
    ),
    "misspelled lifecycle event": (
        lambda b: _rename(_hook(b)["LifecycleEventHooks"], "AfterAllowTestTraffic", "AfterTestTraffic"),
        [("E9101", f"{HOOK}/LifecycleEventHooks/AfterTestTraffic: unknown key; did you mean 'AfterAllowTestTraffic'?")],
    ),
    "wrong traffic-routing type": (
        _set("TrafficRoutingConfig", "Type", value="TimeBased"),
        [
            (
                "E9101",
                f"{HOOK}/TrafficRoutingConfig/Type: 'TimeBased' is not one of "
                "AllAtOnce, TimeBasedCanary, TimeBasedLinear",
            )
        ],
    ),
    "step block does not match the type": (
        _set("TrafficRoutingConfig", "Type", value="TimeBasedLinear"),
        [
            ("E9101", f"{HOOK}/TrafficRoutingConfig: Type is TimeBasedLinear but the TimeBasedLinear block"),
            (
                "E9101",
                f"{HOOK}/TrafficRoutingConfig/TimeBasedCanary: a TimeBasedCanary block does not match "
                "Type TimeBasedLinear",
            ),
        ],
    ),
    "all at once with a step block": (
        _set("TrafficRoutingConfig", "Type", value="AllAtOnce"),
        [("E9101", "a TimeBasedCanary block does not match Type AllAtOnce")],
    ),
    "step percentage below 14": (
        _set("TrafficRoutingConfig", "TimeBasedCanary", "StepPercentage", value=10),
        [
            (
                "E9101",
                f"{HOOK}/TrafficRoutingConfig/TimeBasedCanary/StepPercentage: 10 is out of range "
                "(must be between 14 and 100)",
            )
        ],
    ),
    "termination wait out of range": (
        _set("AdditionalOptions", "TerminationWaitTimeInMinutes", value=5000),
        [("E9101", "TerminationWaitTimeInMinutes: 5000 is out of range (must be between 0 and 2880)")],
    ),
    "service role from an intrinsic function": (
        _set("ServiceRole", value={"Ref": "Role"}),
        [("E9101", f"{HOOK}/ServiceRole: expected a non-empty literal string, got the intrinsic function Ref")],
    ),
    "two applications": (
        _two_applications,
        [
            (
                "E9101",
                f"{HOOK}/Applications: expected a list with exactly one application (one ECS service), got 2 item(s)",
            )
        ],
    ),
    "missing test listener": (
        lambda b: _routing(b).pop("TestTrafficRoute"),
        [
            (
                "W9105",
                f"{APP}/ECSAttributes/TrafficRouting: no TestTrafficRoute; the hook reference marks it "
                "required, and without a test listener the AfterAllowTestTraffic validation hook has "
                "nothing to test",
            )
        ],
    ),
    "missing service role": (
        lambda b: _hook(b).pop("ServiceRole"),
        [("W9105", f"{HOOK}: no ServiceRole; the hook reference marks it required")],
    ),
    "missing production listener": (
        lambda b: _routing(b).pop("ProdTrafficRoute"),
        [("E9101", f"{APP}/ECSAttributes/TrafficRouting: missing required key 'ProdTrafficRoute'")],
    ),
    "test listener absent from resources": (
        lambda b: b["Resources"].pop("ALBListenerTestTraffic"),
        [
            (
                "E9102",
                f"{APP}/ECSAttributes/TrafficRouting/TestTrafficRoute/LogicalID: 'ALBListenerTestTraffic' "
                "(the test listener) does not exist in Resources; "
                "expected a AWS::ElasticLoadBalancingV2::Listener",
            )
        ],
    ),
    "service logical ID does not exist": (
        _set("Applications", 0, "Target", "LogicalID", value="ECSDemoSvc"),
        [("E9102", f"{APP}/Target/LogicalID: 'ECSDemoSvc' (the ECS service) does not exist in Resources")],
    ),
    "logical ID of the wrong type": (
        lambda b: _routing(b)["TargetGroups"].__setitem__(1, "ALBListenerProdTraffic"),
        [
            (
                "E9102",
                f"{APP}/ECSAttributes/TrafficRouting/TargetGroups/1: 'ALBListenerProdTraffic' (the green target "
                "group) is a AWS::ElasticLoadBalancingV2::Listener, expected a "
                "AWS::ElasticLoadBalancingV2::TargetGroup",
            )
        ],
    ),
    "blue and green target groups are the same": (
        lambda b: _routing(b)["TargetGroups"].__setitem__(1, "ALBTargetGroupBlue"),
        [("E9101", "TargetGroups: blue and green are both 'ALBTargetGroupBlue'; they must differ")],
    ),
    "green task set declared as a resource": (
        lambda b: b["Resources"].__setitem__("GreenTaskSet", copy.deepcopy(b["Resources"]["BlueTaskSet"])),
        [
            (
                "E9102",
                f"{APP}/ECSAttributes/TaskSets/1: 'GreenTaskSet' is the green task set, which CloudFormation "
                "creates during a green deployment; it must not be declared in Resources",
            )
        ],
    ),
    "service without the EXTERNAL deployment controller": (
        lambda b: b["Resources"]["ECSDemoService"]["Properties"]["DeploymentController"].__setitem__("Type", "ECS"),
        [
            (
                "E9102",
                "Resources/ECSDemoService: the ECS service targeted by the blue/green hook must use "
                "DeploymentController Type EXTERNAL, not 'ECS'",
            )
        ],
    ),
    "transform not declared": (
        lambda b: b.pop("Transform"),
        [
            (
                "E9103",
                "Hooks: the Hooks section is only read by the AWS::CodeDeployBlueGreen transform, "
                "which the template does not declare",
            )
        ],
    ),
    "transform without a hook": (
        lambda b: b.pop("Hooks"),
        [("E9103", "Transform: AWS::CodeDeployBlueGreen is declared but the template has no Hooks section")],
    ),
    "outputs present": (
        lambda b: b.__setitem__("Outputs", {"ServiceName": {"Value": {"Fn::GetAtt": ["ECSDemoService", "Name"]}}}),
        [("E9104", f"Outputs: {LIMIT} cannot declare output values")],
    ),
    "import value": (
        _import_value,
        [
            (
                "E9104",
                f"Resources/ExampleALB/Properties/SecurityGroups/0/Fn::ImportValue: {LIMIT} cannot import "
                "values from other stacks",
            )
        ],
    ),
    "second ECS service": (
        _second_service,
        [
            (
                "E9104",
                f"Resources/SecondService: {LIMIT} may have only one AWS::ECS::Service; found 2 "
                "(ECSDemoService, SecondService)",
            )
        ],
    ),
    "NoEcho parameter": (_no_echo, [("E9104", f"Parameters/DbPassword/NoEcho: {LIMIT} cannot have NoEcho parameters")]),
    "nested stack": (
        _nested_stack,
        [("E9104", f"Resources/Nested: {LIMIT} cannot include nested stacks (AWS::CloudFormation::Stack)")],
    ),
    "dynamic reference": (
        _dynamic_reference,
        [
            (
                "E9104",
                f"Resources/BlueTaskDefinition/Properties/ContainerDefinitions/0/Image: {LIMIT} cannot use "
                "dynamic references ('{{resolve:ssm:/demo/image}}')",
            )
        ],
    ),
}


@pytest.mark.parametrize("case", list(BROKEN), ids=list(BROKEN))
def test_broken_variant_fails_with_a_message_naming_the_problem(case):
    change, expected = BROKEN[case]
    body = _load("valid.json")
    change(body)
    found = _findings(body)
    assert len(found) == len(expected), found
    for rule, fragment in expected:
        assert any(r == rule and fragment in message for r, message in found), (rule, fragment, found)


def test_templates_without_hooks_or_the_transform_are_untouched():
    # Everything the limits forbid, in a template that does not use the transform: not the rules' business.
    body = _load("valid.json")
    del body["Hooks"], body["Transform"]
    body["Outputs"] = {"Imported": {"Value": {"Fn::ImportValue": "shared-value"}}}
    _second_service(body)
    _no_echo(body)
    _nested_stack(body)
    _dynamic_reference(body)
    assert _findings(body) == []
    for template in sorted(OUT.glob("*/*.json")):
        if lint_cli.is_template(template):
            assert _findings(json.loads(template.read_text())) == [], template


def test_hooks_needs_the_e1001_allowance_in_cfnlintrc():
    settings = lint_cli.cfn_lint_settings()
    del settings["configure_rules"]["E1001"]
    found = _findings(_load("valid.json"), _project_rules(JsonSchema()), settings)
    assert [rule for rule, _ in found] == ["E1001"] and "Hooks" in found[0][1], found


def test_the_allowance_is_only_hooks_a_misspelled_section_still_fails():
    body = _load("valid.json")
    body["Output"] = {"ServiceName": {"Value": "x"}}
    found = _findings(body, _project_rules(JsonSchema()))
    assert any(rule == "E1001" and "Output" in message for rule, message in found), found


@pytest.mark.slow
def test_the_gate_runs_the_project_rules_beside_all_of_cfn_lints_own(tmp_path):
    """End to end, as `make lint` runs it: the console script with .cfnlintrc and every cfn-lint rule."""
    body = _load("valid.json")
    _rename(_hook(body), "TrafficRoutingConfig", "TrafficRoutingConfg")
    del _hook(body)["ServiceRole"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(body, indent=2))
    good, example = FIXTURES / "valid.json", FIXTURES / "aws-example.json"

    result = run_lint("--no-cache", str(bad), str(good), str(example))

    assert result.returncode == 1
    # checkov findings are expected (AWS's example is not hardened). Every line of either tool is
    # FILE:LINE: TOOL RULE MESSAGE, with the file as given.
    findings = [
        re.fullmatch(r"(.+?):(\d+): (cfn-lint|checkov) (\S+) (.+)", line) for line in result.stdout.splitlines()
    ]
    assert findings and all(findings), result.stdout
    assert {m[1] for m in findings if m} <= {str(bad), str(good), str(example)}, result.stdout
    assert {m[1] for m in findings if m and m[3] == "cfn-lint"} == {str(bad), str(example)}, result.stdout
    assert any(m[3] == "checkov" and m[4].startswith("CKV_") for m in findings if m), result.stdout
    cfn_lint = [f"{m[1]}: {m[4]} {m[5]}" for m in findings if m and m[3] == "cfn-lint"]
    assert any(line.startswith(f"{bad}:") for line in cfn_lint), result.stdout + result.stderr
    bad_lines = [line.split(": ", 1)[1] for line in cfn_lint if line.startswith(f"{bad}:")]
    assert any(line.startswith(f"E9101 {HOOK}/TrafficRoutingConfg: unknown key") for line in bad_lines), bad_lines
    # The gate allows no finding of any level: the W9105 warning is reported too.
    assert any(line.startswith(f"W9105 {HOOK}: no ServiceRole") for line in bad_lines), bad_lines
    example_lines = sorted(line.split(": ", 1)[1] for line in cfn_lint if line.startswith(f"{example}:"))
    assert example_lines == [f"W9105 {W9105_NO_TEST_ROUTE}", f"W9105 {W9105_NO_SERVICE_ROLE}"], example_lines
