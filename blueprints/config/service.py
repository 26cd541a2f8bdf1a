"""The ``service:`` section of a parameter file: the container, its load balancer and its
blue/green deployment."""

from __future__ import annotations

import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ..engines import registry as engine_registry
from .base import StrictModel, check_certificate_arn, check_cidr_list, check_port
from .network import check_retention

# Fargate task sizes: CPU units -> the memory values (MiB) AWS accepts with them.
# https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Predefined CodeDeploy configurations for ECS, by the short name used in params.
PREDEFINED_DEPLOYMENTS = {
    "AllAtOnce": "CodeDeployDefault.ECSAllAtOnce",
    "Canary10Percent5Minutes": "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "Canary10Percent15Minutes": "CodeDeployDefault.ECSCanary10Percent15Minutes",
    "Linear10PercentEvery1Minutes": "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "Linear10PercentEvery3Minutes": "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
}

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARTITION_REGION_ACCOUNT = r"arn:aws(?:-[a-z]+)*:{service}:[a-z]{{2}}(?:-[a-z]+)+-\d:\d{{12}}:"
# ECS accepts a whole secret, or a JSON key / version of it (arn:...:secret:name:json-key:stage:id).
_SECRETS_MANAGER_ARN = re.compile(
    _PARTITION_REGION_ACCOUNT.format(service="secretsmanager") + r"secret:[A-Za-z0-9/_+=.@-]+(?::[^:]*){0,3}$"
)
_SSM_PARAMETER_ARN = re.compile(_PARTITION_REGION_ACCOUNT.format(service="ssm") + r"parameter/[A-Za-z0-9/_.-]+$")
_HTTP_CODES = re.compile(r"^[2-4]\d\d(?:-[2-4]\d\d)?(?:,[2-4]\d\d(?:-[2-4]\d\d)?)*$")
_PATH = re.compile(r"^/[A-Za-z0-9/._~%!$&'()*+,;=:@?-]*$")


def check_fargate_size(cpu: int, memory: int) -> None:
    if cpu not in FARGATE_SIZES:
        raise ValueError(f"cpu {cpu} is not a Fargate CPU value (allowed: {', '.join(map(str, FARGATE_SIZES))})")
    if memory not in FARGATE_SIZES[cpu]:
        allowed = FARGATE_SIZES[cpu]
        listed = (
            ", ".join(map(str, allowed))
            if len(allowed) <= 4
            else (f"{allowed[0]} to {allowed[-1]} in steps of {allowed[1] - allowed[0]}")
        )
        raise ValueError(f"memory {memory} does not go with cpu {cpu} on Fargate (allowed memory: {listed})")


class CustomDeployment(StrictModel):
    """A custom traffic shift: a canary (two steps) or linear (equal steps). The ranges are
    CodeDeploy's; an engine may allow less (``check_service``). Whole numbers only (strict: true,
    10.0 or "10" are refused), since the CodeDeploy configurations take integers."""

    # Shared by every engine; engines name these in their own messages.
    PERCENTAGES: ClassVar[tuple[int, int]] = (1, 99)
    INTERVALS: ClassVar[tuple[int, int]] = (1, 2880)

    type: Literal["canary", "linear"] = Field(description="canary: one step then the rest; linear: equal steps.")
    percentage: int = Field(strict=True, description="Traffic moved per step, 1-99 percent.")
    interval_minutes: int = Field(strict=True, description="Minutes between steps, 1-2880.")

    @field_validator("percentage")
    @classmethod
    def _percentage(cls, value: int) -> int:
        low, high = cls.PERCENTAGES
        if not low <= value <= high:
            raise ValueError(f"is not a traffic percentage from {low} to {high}")
        return value

    @field_validator("interval_minutes")
    @classmethod
    def _interval(cls, value: int) -> int:
        low, high = cls.INTERVALS
        if not low <= value <= high:
            raise ValueError(f"is not an interval from {low} to {high} minutes")
        return value


class ServiceConfig(StrictModel):
    container_name: str = Field("app", description="Name of the container in the task definition.")
    container_port: int = Field(80, description="Port the container serves HTTP on.")
    cpu: int = Field(256, description="Task CPU units (Fargate sizes only).")
    memory: int = Field(512, description="Task memory in MiB (must go with cpu).")
    cpu_architecture: Literal["X86_64", "ARM64"] = Field("X86_64", description="CPU architecture of the image.")
    desired_count: int = Field(2, description="Tasks at creation, between min_count and max_count.")
    min_count: int = Field(1, description="Fewest tasks auto scaling keeps.")
    max_count: int = Field(4, description="Most tasks auto scaling starts.")
    cpu_target_percent: int = Field(60, description="Average CPU utilisation auto scaling aims for, 10-90.")
    environment: dict[str, str] = Field(default_factory=dict, description="Plain environment variables.")
    secrets: dict[str, str] = Field(
        default_factory=dict, description="Environment variables read from Secrets Manager or SSM (ARNs only)."
    )
    log_retention_days: int = Field(30, description="Retention of the container log group.")
    container_health_check: str | None = Field(
        None, description="Optional shell command run inside the container (CMD-SHELL); exit 0 means healthy."
    )
    health_check_path: str = Field("/", description="Path the load balancer requests to check a task.")
    health_check_interval_seconds: int = Field(15, description="Seconds between load balancer checks, 5-300.")
    health_check_timeout_seconds: int = Field(5, description="Seconds before a check fails, 2-120, below the interval.")
    healthy_threshold: int = Field(2, description="Consecutive passes before a task is healthy, 2-10.")
    unhealthy_threshold: int = Field(3, description="Consecutive failures before a task is unhealthy, 2-10.")
    health_check_matcher: str = Field("200", description="HTTP codes that count as healthy, e.g. 200 or 200-399.")
    health_check_grace_period_seconds: int = Field(60, description="Seconds ECS ignores failing checks of a new task.")
    deregistration_delay_seconds: int = Field(30, description="Seconds the load balancer drains a task, 0-3600.")
    production_port: int = Field(80, description="Port of the production listener.")
    test_port: int = Field(8080, description="Port of the test listener that the validation hook calls.")
    certificate_arn: str | None = Field(
        None, description="ACM certificate: listeners use HTTPS, and port 80 redirects to the production port."
    )
    allowed_cidrs: list[str] = Field(["0.0.0.0/0"], description="CIDRs that may reach the production listener.")
    test_allowed_cidrs: list[str] = Field(
        default_factory=list, description="CIDRs that may reach the test listener (the hook always may)."
    )
    deployment_engine: str = Field(
        engine_registry.DEFAULT,
        description="What runs blue/green deployments: a CodeDeploy deployment group, "
        "CloudFormation (AWS::CodeDeployBlueGreen transform) or ECS's own "
        "blue/green strategy (the names in blueprints/engines/registry.py).",
    )
    deployment_config: Literal[
        "AllAtOnce",
        "Canary10Percent5Minutes",
        "Canary10Percent15Minutes",
        "Linear10PercentEvery1Minutes",
        "Linear10PercentEvery3Minutes",
        "custom",
    ] = Field("AllAtOnce", description="How traffic moves to the new version; custom reads custom_deployment.")
    custom_deployment: CustomDeployment | None = Field(None, description="The shift when deployment_config is custom.")
    termination_wait_minutes: int = Field(
        60, description="Minutes the old tasks stay after success, 0-2880 (the ecs engine's bake time: 0-1440)."
    )
    deletion_protection: bool | None = Field(
        None, description="Load balancer deletion protection; defaults to the environment's protection."
    )
    rollback_monitoring_minutes: int = Field(
        10,
        description="Minutes CloudFormation watches the stack's alarms after an update (rollback triggers), 0-180.",
    )
    validation_paths: list[str] = Field(["/"], description="Paths the hook requests on the test listener.")
    validation_expected_status: int = Field(200, description="HTTP status every validation path must return.")
    validation_body_contains: str | None = Field(None, description="Text every validation response must contain.")

    @field_validator("deployment_engine")
    @classmethod
    def _deployment_engine(cls, value: str) -> str:
        if value not in engine_registry.names():
            *others, last = [repr(name) for name in engine_registry.names()]
            raise ValueError(f"is not allowed (allowed: {', '.join(others)} or {last})")
        return value

    @field_validator("container_name")
    @classmethod
    def _container_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("is not a container name: 1-255 letters, digits, hyphens and underscores")
        return value

    @field_validator("container_port", "production_port", "test_port")
    @classmethod
    def _port(cls, value: int) -> int:
        return check_port(value)

    @field_validator("desired_count", "min_count", "max_count")
    @classmethod
    def _count(cls, value: int) -> int:
        if not 1 <= value <= 1000:
            raise ValueError("is not a task count from 1 to 1000")
        return value

    @field_validator("cpu_target_percent")
    @classmethod
    def _cpu_target(cls, value: int) -> int:
        if not 10 <= value <= 90:
            raise ValueError("is not a CPU target from 10 to 90 percent")
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.match(name):
                raise ValueError(f"has {name!r}, which is not an environment variable name (letters, digits, _)")
        return value

    @field_validator("secrets")
    @classmethod
    def _secrets(cls, value: dict[str, str]) -> dict[str, str]:
        for name, arn in value.items():
            if not _ENV_NAME.match(name):
                raise ValueError(f"has {name!r}, which is not an environment variable name (letters, digits, _)")
            if not isinstance(arn, str) or not (_SECRETS_MANAGER_ARN.match(arn) or _SSM_PARAMETER_ARN.match(arn)):
                raise ValueError(
                    f"has {name}: {arn!r}, which is not a Secrets Manager secret ARN "
                    "(arn:aws:secretsmanager:<region>:<account>:secret:<name>) or an SSM parameter ARN "
                    "(arn:aws:ssm:<region>:<account>:parameter/<name>); never put secret values in params"
                )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        return check_retention(value)

    @field_validator("health_check_path")
    @classmethod
    def _health_path(cls, value: str) -> str:
        if not _PATH.match(value) or len(value) > 1024:
            raise ValueError("is not a URL path starting with / (at most 1024 characters)")
        return value

    @field_validator("validation_paths")
    @classmethod
    def _validation_paths(cls, value: list[str]) -> list[str]:
        if not 1 <= len(value) <= 10:
            raise ValueError("must list 1 to 10 paths")
        for path in value:
            if not isinstance(path, str) or not _PATH.match(path):
                raise ValueError(f"has {path!r}, which is not a URL path starting with /")
        return value

    @field_validator("health_check_interval_seconds")
    @classmethod
    def _interval(cls, value: int) -> int:
        if not 5 <= value <= 300:
            raise ValueError("is not a health-check interval from 5 to 300 seconds")
        return value

    @field_validator("health_check_timeout_seconds")
    @classmethod
    def _timeout(cls, value: int) -> int:
        if not 2 <= value <= 120:
            raise ValueError("is not a health-check timeout from 2 to 120 seconds")
        return value

    @field_validator("healthy_threshold", "unhealthy_threshold")
    @classmethod
    def _threshold(cls, value: int) -> int:
        if not 2 <= value <= 10:
            raise ValueError("is not a threshold from 2 to 10 checks")
        return value

    @field_validator("health_check_matcher")
    @classmethod
    def _matcher(cls, value: str) -> str:
        if not _HTTP_CODES.match(value):
            raise ValueError("is not an HTTP code list such as 200, 200,302 or 200-399 (codes 200-499)")
        return value

    @field_validator("health_check_grace_period_seconds")
    @classmethod
    def _grace(cls, value: int) -> int:
        if not 0 <= value <= 2147483647:
            raise ValueError("is not a number of seconds from 0")
        return value

    @field_validator("deregistration_delay_seconds")
    @classmethod
    def _deregistration(cls, value: int) -> int:
        if not 0 <= value <= 3600:
            raise ValueError("is not a deregistration delay from 0 to 3600 seconds")
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        return check_certificate_arn(value)

    @field_validator("allowed_cidrs", "test_allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        return check_cidr_list(value)

    @field_validator("termination_wait_minutes")
    @classmethod
    def _termination_wait(cls, value: int) -> int:
        if not 0 <= value <= 2880:
            raise ValueError("is not a termination wait from 0 to 2880 minutes")
        return value

    @field_validator("rollback_monitoring_minutes")
    @classmethod
    def _rollback_monitoring(cls, value: int) -> int:
        # RollbackConfiguration.MonitoringTimeInMinutes: 0-180 (CloudFormation API reference).
        if not 0 <= value <= 180:
            raise ValueError("is not a monitoring time from 0 to 180 minutes")
        return value

    @field_validator("validation_expected_status")
    @classmethod
    def _expected_status(cls, value: int) -> int:
        if not 100 <= value <= 599:
            raise ValueError("is not an HTTP status code (100-599)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServiceConfig:
        check_fargate_size(self.cpu, self.memory)
        if not self.min_count <= self.desired_count <= self.max_count:
            raise ValueError(
                f"task counts must satisfy min_count <= desired_count <= max_count "
                f"(got {self.min_count} <= {self.desired_count} <= {self.max_count})"
            )
        if self.health_check_timeout_seconds >= self.health_check_interval_seconds:
            raise ValueError("health_check_timeout_seconds must be shorter than health_check_interval_seconds")
        ports = [self.production_port, self.test_port] + ([80] if self.certificate_arn else [])
        if len(set(ports)) != len(ports):
            raise ValueError(
                "production_port and test_port must differ"
                + (
                    " and neither may be 80, which redirects to HTTPS when certificate_arn is set"
                    if self.certificate_arn
                    else ""
                )
            )
        both = set(self.environment) & set(self.secrets)
        if both:
            raise ValueError(f"{', '.join(sorted(both))} is set in both environment and secrets")
        if (self.deployment_config == "custom") != (self.custom_deployment is not None):
            raise ValueError("custom_deployment must be given exactly when deployment_config is custom")
        # What each engine can express of deployment_config and termination_wait_minutes.
        engine_registry.get(self.deployment_engine).check_service(self)
        return self

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None

    @property
    def scheme(self) -> str:
        return "https" if self.https else "http"
