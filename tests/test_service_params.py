"""The ``service:`` section of parameter files: every key's bad values are reported with file,
key, value and what is allowed."""

from __future__ import annotations

import pytest

from blueprints.config import ParamsError, load_environment
from tests.helpers import copy_params, edit_params, generate

ARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf"
CERT = "arn:aws:acm:eu-west-1:111122223333:certificate/00000000-0000-0000-0000-000000000000"

BAD_SERVICE = {
    "unknown-key": (
        {"contaner_port": 80},
        "service.contaner_port: unknown key (allowed keys: allowed_cidrs, "
        "certificate_arn, container_health_check, container_name,",
    ),
    "container-name": ({"container_name": "web app"}, "service.container_name: 'web app' is not a container name"),
    "container-port": ({"container_port": 70000}, "service.container_port: 70000 is not a port from 1 to 65535"),
    "production-port": ({"production_port": 0}, "service.production_port: 0 is not a port from 1 to 65535"),
    "test-port": ({"test_port": -1}, "service.test_port: -1 is not a port from 1 to 65535"),
    "cpu": (
        {"cpu": 300},
        "service: cpu 300 is not a Fargate CPU value (allowed: 256, 512, 1024, 2048, 4096, 8192, 16384)",
    ),
    "memory-small": (
        {"cpu": 256, "memory": 4096},
        "service: memory 4096 does not go with cpu 256 on Fargate (allowed memory: 512, 1024, 2048)",
    ),
    "memory-range": (
        {"cpu": 1024, "memory": 1024},
        "service: memory 1024 does not go with cpu 1024 on Fargate (allowed memory: 2048 to 8192 in steps of 1024)",
    ),
    "architecture": (
        {"cpu_architecture": "arm"},
        "service.cpu_architecture: 'arm' is not allowed (allowed: 'X86_64' or 'ARM64')",
    ),
    "count-range": ({"max_count": 0}, "service.max_count: 0 is not a task count from 1 to 1000"),
    "count-order": (
        {"min_count": 3, "desired_count": 2, "max_count": 4},
        "service: task counts must satisfy min_count <= desired_count <= max_count (got 3 <= 2 <= 4)",
    ),
    "desired-above-max": ({"min_count": 1, "desired_count": 5, "max_count": 4}, "(got 1 <= 5 <= 4)"),
    "min-count": ({"min_count": 0}, "service.min_count: 0 is not a task count from 1 to 1000"),
    "desired-count": ({"desired_count": 1001}, "service.desired_count: 1001 is not a task count from 1 to 1000"),
    "cpu-target": ({"cpu_target_percent": 95}, "service.cpu_target_percent: 95 is not a CPU target from 10 to 90"),
    "environment-name": (
        {"environment": {"1BAD": "x"}},
        "service.environment: has '1BAD', which is not an environment variable name",
    ),
    "secret-plaintext": (
        {"secrets": {"DB_PASSWORD": "hunter2"}},
        "has DB_PASSWORD: 'hunter2', which is not a Secrets Manager secret ARN",
    ),
    "secret-other-service": ({"secrets": {"KEY": "arn:aws:s3:::bucket/key"}}, "which is not a Secrets Manager"),
    "secret-name": ({"secrets": {"bad-name": ARN}}, "has 'bad-name', which is not an environment variable name"),
    "secret-and-env": (
        {"environment": {"DB": "x"}, "secrets": {"DB": ARN}},
        "service: DB is set in both environment and secrets",
    ),
    "retention": ({"log_retention_days": 10}, "service.log_retention_days: 10 is not a CloudWatch Logs retention"),
    "health-path": (
        {"health_check_path": "health"},
        "service.health_check_path: 'health' is not a URL path starting with /",
    ),
    "health-interval": (
        {"health_check_interval_seconds": 400},
        "service.health_check_interval_seconds: 400 is not a health-check interval from 5 to 300",
    ),
    "health-timeout": (
        {"health_check_timeout_seconds": 1},
        "service.health_check_timeout_seconds: 1 is not a health-check timeout from 2 to 120",
    ),
    "timeout-vs-interval": (
        {"health_check_timeout_seconds": 20, "health_check_interval_seconds": 10},
        "service: health_check_timeout_seconds must be shorter than health_check_interval_seconds",
    ),
    "healthy-threshold": ({"healthy_threshold": 1}, "service.healthy_threshold: 1 is not a threshold from 2 to 10"),
    "unhealthy-threshold": (
        {"unhealthy_threshold": 11},
        "service.unhealthy_threshold: 11 is not a threshold from 2 to 10",
    ),
    "matcher": ({"health_check_matcher": "ok"}, "service.health_check_matcher: 'ok' is not an HTTP code list"),
    "grace": (
        {"health_check_grace_period_seconds": -5},
        "service.health_check_grace_period_seconds: -5 is not a number of seconds from 0",
    ),
    "deregistration": (
        {"deregistration_delay_seconds": 4000},
        "service.deregistration_delay_seconds: 4000 is not a deregistration delay from 0 to 3600",
    ),
    "certificate": (
        {"certificate_arn": "arn:aws:iam::111122223333:server-certificate/x"},
        "service.certificate_arn: 'arn:aws:iam::111122223333:server-certificate/x' is not an ACM certificate ARN",
    ),
    "ports-equal": ({"production_port": 8080, "test_port": 8080}, "service: production_port and test_port must differ"),
    "https-on-80": (
        {"certificate_arn": CERT, "production_port": 80, "test_port": 8443},
        "neither may be 80, which redirects to HTTPS when certificate_arn is set",
    ),
    "allowed-cidr": (
        {"allowed_cidrs": ["10.0.0.1/8"]},
        "service.allowed_cidrs: has '10.0.0.1/8', which is not an IPv4 CIDR",
    ),
    "test-cidr": (
        {"test_allowed_cidrs": ["office"]},
        "service.test_allowed_cidrs: has 'office', which is not an IPv4 CIDR",
    ),
    "cidr-twice": ({"allowed_cidrs": ["1.2.3.0/24", "1.2.3.0/24"]}, "lists the same CIDR twice"),
    "engine": (
        {"deployment_engine": "lambda"},
        "service.deployment_engine: 'lambda' is not allowed (allowed: 'codedeploy', 'cloudformation' or 'ecs')",
    ),
    "deployment-config": (
        {"deployment_config": "Canary50"},
        "service.deployment_config: 'Canary50' is not allowed (allowed: 'AllAtOnce', 'Canary10Percent5Minutes',",
    ),
    "custom-missing": (
        {"deployment_config": "custom"},
        "service: custom_deployment must be given exactly when deployment_config is custom",
    ),
    "custom-unused": (
        {"custom_deployment": {"type": "canary", "percentage": 20, "interval_minutes": 5}},
        "custom_deployment must be given exactly when deployment_config is custom",
    ),
    "custom-type": (
        {
            "deployment_config": "custom",
            "custom_deployment": {"type": "steps", "percentage": 20, "interval_minutes": 5},
        },
        "service.custom_deployment.type: 'steps' is not allowed (allowed: 'canary' or 'linear')",
    ),
    "custom-percentage": (
        {
            "deployment_config": "custom",
            "custom_deployment": {"type": "linear", "percentage": 100, "interval_minutes": 5},
        },
        "service.custom_deployment.percentage: 100 is not a traffic percentage from 1 to 99",
    ),
    "custom-interval": (
        {
            "deployment_config": "custom",
            "custom_deployment": {"type": "linear", "percentage": 10, "interval_minutes": 0},
        },
        "service.custom_deployment.interval_minutes: 0 is not an interval from 1 to 2880 minutes",
    ),
    "termination-wait": (
        {"termination_wait_minutes": 3000},
        "service.termination_wait_minutes: 3000 is not a termination wait from 0 to 2880 minutes",
    ),
    "deletion-protection": ({"deletion_protection": "maybe"}, "service.deletion_protection: 'maybe' must be true or"),
    "validation-paths-empty": ({"validation_paths": []}, "service.validation_paths: must list 1 to 10 paths"),
    "validation-path": ({"validation_paths": ["/", "health"]}, "has 'health', which is not a URL path starting with /"),
    "validation-status": (
        {"validation_expected_status": 700},
        "service.validation_expected_status: 700 is not an HTTP status code (100-599)",
    ),
    "body-contains": ({"validation_body_contains": 5}, "service.validation_body_contains: 5 must be a string"),
    "health-command": ({"container_health_check": ["CMD"]}, "service.container_health_check: ['CMD'] must be a"),
}


def _write(tmp_path, change):
    params = copy_params(tmp_path)
    edit_params(params / "dev.yaml", lambda data: data["service"].update(change))
    return params / "dev.yaml"


@pytest.mark.parametrize("case", sorted(BAD_SERVICE))
def test_bad_service_value_is_reported(tmp_path, case):
    change, expected = BAD_SERVICE[case]
    path = _write(tmp_path, change)
    with pytest.raises(ParamsError) as error:
        load_environment(path, "params/dev.yaml")
    assert any(line.startswith("params/dev.yaml: ") and expected in line for line in error.value.problems), str(
        error.value
    )


@pytest.mark.parametrize(
    "change",
    [
        {"cpu": 16384, "memory": 122880, "cpu_architecture": "ARM64"},
        {
            "deployment_config": "custom",
            "custom_deployment": {"type": "linear", "percentage": 25, "interval_minutes": 2},
        },
        {"secrets": {"A": ARN + ":password::", "B": "arn:aws:ssm:eu-west-1:111122223333:parameter/app/b"}},
        {"certificate_arn": CERT, "production_port": 443, "test_port": 8443, "test_allowed_cidrs": ["203.0.113.0/24"]},
    ],
)
def test_good_service_values_are_accepted(tmp_path, change):
    config = load_environment(_write(tmp_path, change), "params/dev.yaml")
    for key, value in change.items():
        got = getattr(config.service, key)
        assert (got.model_dump() if hasattr(got, "model_dump") else got) == value


def test_generate_exits_2_on_a_bad_service_key(tmp_path):
    path = _write(tmp_path, {"cpu": 256, "memory": 8192})
    result = generate("--params-dir", str(path.parent), "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "dev.yaml: service: memory 8192 does not go with cpu 256 on Fargate" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
