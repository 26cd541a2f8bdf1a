"""The ecs engine's CANARY and LINEAR strategies: params to DeploymentConfiguration, AWS's limits at
their boundaries (checked through the params loader, with file and key), the release step's
timeout, cfn-lint on generated templates, and the schema bundled with cfn-lint as an oracle.

Limits (AWS::ECS::Service CanaryConfiguration / LinearConfiguration, ECS API reference):
CanaryPercent 0.1-100, StepPercent 3-100 (multiples of 0.1), CanaryBakeTimeInMinutes and
StepBakeTimeInMinutes 0-1440, BakeTimeInMinutes 0-1440; CloudFormation rejects a configuration whose
BakeTimeInMinutes + CanaryBakeTimeInMinutes (or + StepBakeTimeInMinutes x steps) exceeds 33 hours.
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-canaryconfiguration.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ecs-service-linearconfiguration.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CanaryConfiguration.html
https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_LinearConfiguration.html
Params take whole percentages 1-99 and intervals 1-2880 (CodeDeploy's, shared by every engine), so
the effective ranges with the ecs engine are canary 1-99, linear 3-99 and intervals 1-1440.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from blueprints.config import EnvironmentConfig, ParamsError, load_environment
from blueprints.engines import ecs as ecs_engine
from blueprints.stacks import pipeline, service
from tests.helpers import copy_params, edit_params, generate, lint

SERVICE = "AWS::ECS::Service"


def _write(tmp_path: Path, **settings) -> Path:
    """params/dev.yaml on the ecs engine with these service settings."""
    params = copy_params(tmp_path)
    edit_params(params / "dev.yaml", lambda data: data["service"].update({"deployment_engine": "ecs", **settings}))
    return params / "dev.yaml"


def _custom(kind: str, percentage, interval_minutes, wait: int = 10) -> dict:
    return {
        "deployment_config": "custom",
        "custom_deployment": {"type": kind, "percentage": percentage, "interval_minutes": interval_minutes},
        "termination_wait_minutes": wait,
    }


def _config(**service_overrides) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {
            "project": "shop",
            "environment": "test",
            "region": "eu-west-1",
            "network": {"vpc_cidr": "10.0.0.0/16", "subnet_prefix_length": 20},
            "service": {"deployment_engine": "ecs", **service_overrides},
            "pipeline": {"github_owner": "acme", "github_repository": "shop"},
        }
    )


def _deployment(**service_overrides) -> dict:
    body = service.build(_config(**service_overrides)).to_dict()
    return body["Resources"]["Service"]["Properties"]["DeploymentConfiguration"]


# --- limits at their boundaries, through the params loader -----------------------------------

REJECTED = {
    # Params' whole-percentage range (1-99) is inside CanaryPercent's 0.1-100.
    "canary-percent-below": (_custom("canary", 0, 5), "service.custom_deployment.percentage: 0 is not a traffic"),
    "canary-percent-above": (_custom("canary", 100, 5), "service.custom_deployment.percentage: 100 is not a traffic"),
    # StepPercent starts at 3.
    "linear-percent-below": (
        _custom("linear", 2, 5),
        "service: custom_deployment.percentage 2 is the ecs engine's StepPercent, which is 3-100 with its LINEAR "
        "strategy (allowed: 3-99)",
    ),
    "linear-percent-above": (_custom("linear", 100, 5), "service.custom_deployment.percentage: 100 is not a traffic"),
    "interval-below": (
        _custom("canary", 10, 0),
        "service.custom_deployment.interval_minutes: 0 is not an interval from 1 to 2880 minutes",
    ),
    "canary-bake-above": (
        _custom("canary", 10, 1441, wait=0),
        "service: custom_deployment.interval_minutes 1441 is the ecs engine's CanaryBakeTimeInMinutes, which is at "
        "most 1440 minutes (allowed: 1-1440)",
    ),
    "linear-bake-above": (
        _custom("linear", 50, 1441, wait=0),
        "service: custom_deployment.interval_minutes 1441 is the ecs engine's StepBakeTimeInMinutes, which is at "
        "most 1440 minutes (allowed: 1-1440)",
    ),
    "bake-time-below": (
        {"deployment_config": "Canary10Percent5Minutes", "termination_wait_minutes": -1},
        "service.termination_wait_minutes: -1 is not a termination wait from 0 to 2880 minutes",
    ),
    "bake-time-above": (
        {"deployment_config": "Canary10Percent5Minutes", "termination_wait_minutes": 1441},
        "service: termination_wait_minutes 1441 is the ecs engine's bake time, which is at most 1440 minutes "
        "(allowed: 0-1440)",
    ),
    # CloudFormation's 33 hours (1980 minutes): one minute past it for each way of counting.
    "canary-total": (
        _custom("canary", 10, 1440, wait=541),
        "service: deployment_config custom with termination_wait_minutes 541 takes 1440 + 541 = 1981 minutes by "
        "CloudFormation's count, which rejects an ecs engine CANARY deployment of more than 1980 minutes (33 hours) "
        "(allowed: termination_wait_minutes 0-540 with this shift, or a shorter shift)",
    ),
    "linear-total-dividing": (  # 10 % divides 100: 100 / 10 - 1 = 9 baked steps
        _custom("linear", 10, 220, wait=1),
        "takes 1980 + 1 = 1981 minutes by CloudFormation's count",
    ),
    "linear-total-not-dividing": (  # 3 % does not: floor(100 / 3) = 33 baked steps
        _custom("linear", 3, 60, wait=1),
        "takes 1980 + 1 = 1981 minutes by CloudFormation's count",
    ),
    "linear-steps-alone-too-long": (
        _custom("linear", 3, 61, wait=0),
        "(allowed: termination_wait_minutes 0-0 with this shift, or a shorter shift)",
    ),
    # A boolean or a fraction is not a whole percentage (YAML true would otherwise count as 1).
    "percent-boolean": (_custom("canary", True, 5), "service.custom_deployment.percentage: True must be a whole"),
    "percent-fraction": (_custom("canary", 10.5, 5), "service.custom_deployment.percentage: 10.5 must be a whole"),
    "interval-boolean": (_custom("linear", 10, True), "service.custom_deployment.interval_minutes: True must be a"),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_values_past_aws_limits_are_rejected_with_file_and_key(tmp_path, case):
    settings, expected = REJECTED[case]
    with pytest.raises(ParamsError) as error:
        load_environment(_write(tmp_path, **settings), "params/dev.yaml")
    assert any(line.startswith("params/dev.yaml: service") and expected in line for line in error.value.problems), str(
        error.value
    )


ACCEPTED = {
    "canary-percent-min": _custom("canary", 1, 5),
    "canary-percent-max": _custom("canary", 99, 5),
    "linear-percent-min": _custom("linear", 3, 1),
    "linear-percent-max": _custom("linear", 99, 5),
    "interval-min": _custom("linear", 10, 1),
    "canary-bake-max": _custom("canary", 10, 1440, wait=0),
    "linear-bake-max": _custom("linear", 50, 1440, wait=0),
    "bake-time-min": {"deployment_config": "Canary10Percent5Minutes", "termination_wait_minutes": 0},
    "bake-time-max": {"deployment_config": "Linear10PercentEvery3Minutes", "termination_wait_minutes": 1440},
    "canary-total-max": _custom("canary", 10, 1440, wait=540),
    "linear-total-dividing-max": _custom("linear", 10, 220, wait=0),
    "linear-total-not-dividing-max": _custom("linear", 3, 60, wait=0),
    "linear-one-step-max": _custom("linear", 99, 1440, wait=540),  # floor(100 / 99) = 1 baked step
    **{name: {"deployment_config": name} for name in ecs_engine.PREDEFINED_SHIFTS},
    "all-at-once": {"deployment_config": "AllAtOnce", "termination_wait_minutes": 1440},
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_values_at_aws_limits_are_accepted(tmp_path, case):
    config = load_environment(_write(tmp_path, **ACCEPTED[case]), "params/dev.yaml")
    assert config.service.deployment_engine == "ecs"


def test_generate_exits_2_on_a_step_below_ecs_minimum(tmp_path):
    path = _write(tmp_path, **_custom("linear", 2, 5))
    result = generate("--params-dir", str(path.parent), "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "dev.yaml: service: custom_deployment.percentage 2 is the ecs engine's StepPercent" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("percent", "steps"),
    # The resource reference's examples: 50 -> 1 (two shifts, one bake), 11 -> 9 (not 9.1).
    [(50, 1), (11, 9), (10, 9), (3, 33), (33.3, 3), (25, 3), (99, 1), (100, 0)],
)
def test_linear_steps_are_counted_as_cloudformation_counts_them(percent, steps):
    assert ecs_engine.Shift("LINEAR", percent, 7).baked_steps == steps
    assert ecs_engine.Shift("LINEAR", percent, 7).minutes == 7 * steps
    assert ecs_engine.Shift("CANARY", percent, 7).minutes == 7


# --- the template --------------------------------------------------------------------------------

HOOKS = [
    {
        "HookTargetArn": {"Fn::GetAtt": ["ValidationHookFunction", "Arn"]},
        "RoleArn": {"Fn::GetAtt": ["EcsHookInvokeRole", "Arn"]},
        "LifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"],
    }
]
ALARMS = {
    "AlarmNames": [
        {"Ref": a}
        for a in ("BlueTarget5xxAlarm", "BlueUnhealthyHostsAlarm", "GreenTarget5xxAlarm", "GreenUnhealthyHostsAlarm")
    ],
    "Enable": True,
    "Rollback": True,
}


@pytest.mark.parametrize(
    ("settings", "strategy", "block"),
    [
        (
            {"deployment_config": "Canary10Percent5Minutes"},
            "CANARY",
            {"CanaryConfiguration": {"CanaryPercent": 10, "CanaryBakeTimeInMinutes": 5}},
        ),
        (
            {"deployment_config": "Canary10Percent15Minutes"},
            "CANARY",
            {"CanaryConfiguration": {"CanaryPercent": 10, "CanaryBakeTimeInMinutes": 15}},
        ),
        (
            {"deployment_config": "Linear10PercentEvery1Minutes"},
            "LINEAR",
            {"LinearConfiguration": {"StepPercent": 10, "StepBakeTimeInMinutes": 1}},
        ),
        (
            {"deployment_config": "Linear10PercentEvery3Minutes"},
            "LINEAR",
            {"LinearConfiguration": {"StepPercent": 10, "StepBakeTimeInMinutes": 3}},
        ),
        (
            _custom("canary", 5, 30, wait=20),
            "CANARY",
            {"CanaryConfiguration": {"CanaryPercent": 5, "CanaryBakeTimeInMinutes": 30}},
        ),
        (
            _custom("linear", 25, 4, wait=20),
            "LINEAR",
            {"LinearConfiguration": {"StepPercent": 25, "StepBakeTimeInMinutes": 4}},
        ),
        ({"deployment_config": "AllAtOnce"}, "BLUE_GREEN", {}),
    ],
)
def test_deployment_configuration_carries_the_strategy_and_its_one_block(settings, strategy, block):
    wait = settings.get("termination_wait_minutes", 60)
    assert _deployment(**settings) == {
        "Strategy": strategy,
        **block,
        "BakeTimeInMinutes": wait,
        "LifecycleHooks": HOOKS,
        "Alarms": ALARMS,
    }


@pytest.mark.parametrize(
    ("settings", "minutes"),
    [
        ({"deployment_config": "AllAtOnce", "termination_wait_minutes": 10}, 60 + 10),
        ({"deployment_config": "Canary10Percent15Minutes", "termination_wait_minutes": 10}, 60 + 15 + 10),
        ({"deployment_config": "Linear10PercentEvery3Minutes", "termination_wait_minutes": 10}, 60 + 9 * 3 + 10),
        (_custom("linear", 3, 60, wait=0), 60 + 33 * 60),
    ],
)
def test_release_step_waits_for_shift_and_bake_time(settings, minutes):
    config = _config(**settings)
    body = pipeline.build(config, service.build_stack(config)).to_dict()
    assert body["Resources"]["DeployProject"]["Properties"]["TimeoutInMinutes"] == minutes


@pytest.mark.parametrize(
    "settings",
    [{"deployment_config": "Canary10Percent5Minutes"}, _custom("linear", 20, 2, wait=5)],
    ids=["canary", "linear"],
)
@pytest.mark.slow
def test_generated_canary_and_linear_templates_are_lint_clean(tmp_path, settings):
    path = _write(tmp_path, **settings)
    out = tmp_path / "out"
    result = generate("--params-dir", str(path.parent), "--out-dir", str(out))
    assert result.returncode == 0, result.stderr
    body = json.loads((out / "dev" / "service.json").read_text())
    assert body["Resources"]["Service"]["Properties"]["DeploymentConfiguration"]["Strategy"] in ("CANARY", "LINEAR")
    linted = lint("--no-cache", str(out / "dev" / "service.json"), str(out / "dev" / "pipeline.json"))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "0 finding(s)" in linted.stderr


# --- the schema bundled with cfn-lint as the oracle ----------------------------------------------


def _schema() -> dict:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    return PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-1", SERVICE).schema


def _definition(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    return schema["definitions"][ref.rsplit("/", 1)[-1]] if ref else node


def _check_against(schema: dict, definition: dict, value, where: str) -> None:
    """Every key of ``value`` is a property of ``definition``; list items are checked against its
    items; numbers keep its minimum, maximum and multipleOf; strings its enum."""
    if isinstance(value, list):
        assert definition.get("type") == "array", f"{where} is a list, the bundled schema says {definition}"
        for index, item in enumerate(value):
            _check_against(schema, _definition(schema, definition["items"]), item, f"{where}[{index}]")
    elif isinstance(value, dict) and ("Ref" in value or "Fn::GetAtt" in value):
        pass  # an intrinsic function: CloudFormation resolves it to the property's type
    elif isinstance(value, dict):
        assert "properties" in definition, f"{where} is an object, the bundled schema says {definition}"
        for key, item in value.items():
            assert key in definition["properties"], f"{where}.{key} is not in the bundled schema"
            _check_against(schema, _definition(schema, definition["properties"][key]), item, f"{where}.{key}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and "type" in definition:
        assert definition["type"] in ("integer", "number"), where
        assert definition.get("minimum", value) <= value <= definition.get("maximum", value), where
        if "multipleOf" in definition:
            assert abs(value / definition["multipleOf"] - round(value / definition["multipleOf"])) < 1e-9, where
    elif isinstance(value, str) and "enum" in definition:
        assert value in definition["enum"], where


@pytest.mark.parametrize(
    "settings",
    [
        {"deployment_config": "Canary10Percent5Minutes"},
        {"deployment_config": "Linear10PercentEvery3Minutes"},
        _custom("canary", 1, 1440, wait=540),
        _custom("linear", 3, 60, wait=0),
        _custom("linear", 99, 1, wait=1440),
    ],
)
def test_bundled_schema_knows_every_emitted_property_and_value(settings):
    schema = _schema()
    deployment = _deployment(**settings)
    top = _definition(schema, schema["properties"]["DeploymentConfiguration"])
    _check_against(schema, top, deployment, "DeploymentConfiguration")
    assert deployment["Strategy"] in top["properties"]["Strategy"]["enum"]


def test_engine_limits_match_the_bundled_schema():
    definitions = _schema()["definitions"]

    def bounds(definition: str, prop: str) -> tuple[float, float]:
        node = definitions[definition]["properties"][prop]
        return node["minimum"], node["maximum"]

    assert bounds("CanaryConfiguration", "CanaryPercent") == ecs_engine.ECS_CANARY_PERCENT
    assert bounds("LinearConfiguration", "StepPercent") == ecs_engine.ECS_STEP_PERCENT
    assert bounds("CanaryConfiguration", "CanaryBakeTimeInMinutes") == ecs_engine.ECS_STEP_BAKE_MINUTES
    assert bounds("LinearConfiguration", "StepBakeTimeInMinutes") == ecs_engine.ECS_STEP_BAKE_MINUTES
    assert bounds("DeploymentConfiguration", "BakeTimeInMinutes") == (0, ecs_engine.ECS_MAX_BAKE_TIME_MINUTES)
    # The 33-hour rule is stated in both descriptions (not machine-checkable otherwise).
    for definition in ("CanaryConfiguration", "LinearConfiguration"):
        assert "exceeds 33 hours" in definitions[definition]["description"]
    assert ecs_engine.CFN_MAX_SHIFT_MINUTES == 33 * 60


def test_changing_the_strategy_of_a_deployed_service_is_an_in_place_update():
    """Day 2: a stack update from BLUE_GREEN to CANARY (or back) changes DeploymentConfiguration,
    which is not create-only: CloudFormation calls UpdateService and keeps the service (a
    replacement would fail anyway, the service having a custom name)."""
    schema = _schema()
    create_only = schema.get("createOnlyProperties", []) + schema.get("conditionalCreateOnlyProperties", [])
    assert not any(p.startswith("/properties/DeploymentConfiguration") for p in create_only), create_only
    assert "/properties/ServiceName" in create_only
    before = _deployment(deployment_config="AllAtOnce")
    after = _deployment(deployment_config="Canary10Percent5Minutes")
    assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == {
        "Strategy",
        "CanaryConfiguration",
    }
