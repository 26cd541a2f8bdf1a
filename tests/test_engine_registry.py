"""The engine seam: one registry, one protocol. A new engine is one module plus a registration;
this file is that module for a fake engine (ECS rolling deployments, not blue/green) and proves
that the generator, the params validation and the pipeline take it without any other change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, ClassVar

import pytest
from awacs import ecs as awsecs
from awacs.aws import Allow, Statement
from troposphere import Ref, Sub, codebuild, codepipeline, ecs

from blueprints import engines, environment
from blueprints.config import EnvironmentConfig, ParamsError, load_environment
from blueprints.engines import base, registry
from blueprints.engines.base import ARN, BuildStep, Engine, ReleaseStep, ServiceHandles, ServiceStack
from blueprints.stacks import pipeline_actions as actions
from blueprints.template import resolve_joins
from tests.helpers import copy_params, edit_params

if TYPE_CHECKING:
    from blueprints.config.service import ServiceConfig
    from blueprints.template import CfnTemplate

FAKE = "rolling"


class RollingEngine:
    """ECS rolling updates: the smallest engine the protocol allows."""

    name: ClassVar[str] = FAKE
    hook_handler: ClassVar[str] = "ecs_handler"
    supports_outputs: ClassVar[bool] = True
    released_by_stack_update: ClassVar[bool] = False
    shares_listeners: ClassVar[bool] = True
    artifacts: ClassVar[tuple[str, ...]] = ("imageDetail.json", "imagedefinitions.json")
    service_outputs: ClassVar[dict[str, str]] = {"ClusterName": "ClusterName", "ServiceName": "ServiceName"}
    approval_in_deploy_stage: ClassVar[bool] = False

    def check_service(self, service: ServiceConfig) -> None:
        if service.deployment_config != "AllAtOnce":
            raise ValueError("the rolling engine replaces tasks, it does not shift traffic (allowed: AllAtOnce)")

    def hook_statements(self, config: EnvironmentConfig) -> list[Statement]:
        return []

    def add_deployment(self, t: CfnTemplate, config: EnvironmentConfig, shared: ServiceHandles) -> ecs.Service:
        return t.add_resource(
            base.service(
                config,
                shared,
                TaskDefinition=Ref(shared.task_definition),
                LaunchType="FARGATE",
                DeploymentController=ecs.DeploymentController(Type="ECS"),
                LoadBalancers=[base.blue_load_balancer(config, shared)],
                NetworkConfiguration=ecs.NetworkConfiguration(AwsvpcConfiguration=base.private_subnets(shared)),
            )
        )

    def pipeline_description(self) -> str:
        return "rolling deploy"

    def static_service_values(self, config: EnvironmentConfig) -> dict[str, str]:
        return {}

    def pipeline_parameters(self, t: CfnTemplate) -> None:
        t.param("ClusterName", "ECS cluster (service stack output).", actions.SERVICE_GROUP)
        t.param("ServiceName", "ECS service (service stack output).", actions.SERVICE_GROUP)

    def build_variables(self) -> list[codebuild.EnvironmentVariable]:
        return [codebuild.EnvironmentVariable(Name="CONTAINER_NAME", Type="PLAINTEXT", Value="web")]

    def build_statements(self, config: EnvironmentConfig) -> list[Statement]:
        return []

    def build_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[BuildStep]:
        command = """printf '[{"name":"%s","imageUri":"%s"}]' "$CONTAINER_NAME" "$IMAGE_URI" > imagedefinitions.json"""
        return [BuildStep("The ECS action rolls the service to this image.", (command,))]

    def release_steps(self, config: EnvironmentConfig, service: ServiceStack) -> list[ReleaseStep]:
        return []

    def release_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        return []

    def deploy_actions(
        self,
        t: CfnTemplate,
        config: EnvironmentConfig,
        approval: bool,
        service: ServiceStack,
        release_projects: dict[str, codebuild.Project],
    ) -> list[codepipeline.Actions]:
        configuration = {"ClusterName": Ref("ClusterName"), "ServiceName": Ref("ServiceName")}
        return [actions.action("Deploy", "Deploy", "ECS", configuration, inputs=(actions.BUILD_OUTPUT,))]

    def pipeline_statements(self, t: CfnTemplate, config: EnvironmentConfig, service: ServiceStack) -> list[Statement]:
        service = Sub(ARN % ("ecs", "service/${ClusterName}/${ServiceName}"))
        return [Statement(Effect=Allow, Action=[awsecs.UpdateService], Resource=[service])]


@pytest.fixture
def rolling() -> Iterator[Engine]:
    engine = registry.register(RollingEngine())
    yield engine
    registry.unregister(FAKE)


def _dev_with(tmp_path, **service: object) -> EnvironmentConfig:
    params = copy_params(tmp_path)
    edit_params(params / "dev.yaml", lambda data: data["service"].update(service))
    return load_environment(params / "dev.yaml", "params/dev.yaml")


def test_a_registered_engine_is_accepted_by_params_and_generates_every_stack(rolling, tmp_path):
    assert isinstance(rolling, Engine)
    assert FAKE in engines.names()
    config = _dev_with(tmp_path, deployment_engine=FAKE)

    files = environment.files(config)

    service = json.loads(files["service.json"])
    assert service["Resources"]["Service"]["Properties"]["DeploymentController"] == {"Type": "ECS"}
    assert "DeploymentGroup" not in service["Resources"]
    assert service["Resources"]["ValidationHookFunction"]["Properties"]["Handler"] == "index.ecs_handler"
    pipeline = json.loads(files["pipeline.json"])
    stages = pipeline["Resources"]["Pipeline"]["Properties"]["Stages"]
    deploy = next(stage for stage in stages if stage["Name"] == "Deploy")
    assert [action["ActionTypeId"]["Provider"] for action in deploy["Actions"]] == ["ECS"]
    buildspec = resolve_joins(pipeline["Resources"]["BuildProject"]["Properties"]["Source"]["BuildSpec"])
    assert "The ECS action rolls the service to this image." in buildspec
    assert "- imagedefinitions.json" in buildspec
    stacks = {entry["name"]: entry for entry in json.loads(files["stacks.json"])["stacks"]}
    assert stacks["pipeline"]["parameters_from_outputs"] == {
        "ClusterName": {"stack": "service", "output": "ClusterName"},
        "ServiceName": {"stack": "service", "output": "ServiceName"},
    }


def test_the_engines_own_checks_are_reported_with_file_and_key(rolling, tmp_path):
    with pytest.raises(ParamsError) as error:
        _dev_with(tmp_path, deployment_engine=FAKE, deployment_config="Canary10Percent5Minutes")
    assert error.value.problems == [
        "params/dev.yaml: service: the rolling engine replaces tasks, it does not shift traffic (allowed: AllAtOnce)"
    ]


def test_an_unregistered_name_is_refused_listing_the_registered_ones(tmp_path):
    with pytest.raises(ParamsError) as error:
        _dev_with(tmp_path, deployment_engine=FAKE)
    assert error.value.problems == [
        "params/dev.yaml: service.deployment_engine: 'rolling' is not allowed "
        "(allowed: 'codedeploy', 'cloudformation' or 'ecs')"
    ]


@pytest.mark.parametrize("name", registry.BUILT_IN)
def test_every_built_in_engine_implements_the_protocol(name):
    engine = engines.get(name)
    assert isinstance(engine, Engine) and engine.name == name
    assert engine.artifacts[0] == "imageDetail.json"
