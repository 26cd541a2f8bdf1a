"""The ``pipeline:`` section of parameter files: every key's bad values are reported with file,
key, value and what is allowed; good values are accepted."""

from __future__ import annotations

import pytest

from blueprints.config import ParamsError, load_environment
from tests.helpers import copy_params, edit_params, generate

CONNECTION = "arn:aws:codestar-connections:eu-west-1:111122223333:connection/0a1b2c3d-0000-4000-8000-00000000abcd"

BAD_PIPELINE = {
    "unknown-key": ({"brnach": "main"}, "pipeline.brnach: unknown key (allowed keys: artifact_retention_days, branch,"),
    "owner": ({"github_owner": "-acme"}, "pipeline.github_owner: '-acme' is not a GitHub owner"),
    "owner-long": ({"github_owner": "a" * 40}, "is not a GitHub owner: 1-39 letters"),
    "repository": (
        {"github_repository": "acme/shop"},
        "pipeline.github_repository: 'acme/shop' is not a GitHub repository name",
    ),
    "repository-git": ({"github_repository": "shop.git"}, "without the owner and without .git"),
    "branch": ({"branch": "feature branch"}, "pipeline.branch: 'feature branch' is not a git branch name"),
    "branch-dots": ({"branch": "a..b"}, "pipeline.branch: 'a..b' is not a git branch name"),
    "connection": (
        {"connection": "arn:aws:codestar:eu-west-1:111122223333:project/x"},
        "pipeline.connection: 'arn:aws:codestar:eu-west-1:111122223333:project/x' is not a connection "
        "ARN (arn:aws:codestar-connections:",
    ),
    "connection-word": ({"connection": "yes"}, "pipeline.connection: 'yes' is not a connection ARN"),
    "dockerfile": ({"dockerfile": "../Dockerfile"}, "pipeline.dockerfile: '../Dockerfile' is not a Dockerfile path"),
    "dockerfile-absolute": ({"dockerfile": "/Dockerfile"}, "is not a Dockerfile path: a relative path"),
    "context": ({"build_context": "app dir"}, "pipeline.build_context: 'app dir' is not a build context directory"),
    "severity": (
        {"scan_allowances": {"SEVERE": 0}},
        "pipeline.scan_allowances: has 'SEVERE', which is not an ECR severity (allowed: CRITICAL, HIGH, "
        "MEDIUM, UNTRIAGED, LOW, INFORMATIONAL, UNDEFINED)",
    ),
    "allowance-negative": (
        {"scan_allowances": {"HIGH": -1}},
        "pipeline.scan_allowances: has HIGH: -1; an allowance is a whole number from 0",
    ),
    "allowance-text": (
        {"scan_allowances": {"HIGH": "none"}},
        "pipeline.scan_allowances.HIGH: 'none' must be a whole number",
    ),
    "allowances-empty": ({"scan_allowances": {}}, "pipeline.scan_allowances: must name at least one severity"),
    "timeout": (
        {"scan_timeout_seconds": 30},
        "pipeline.scan_timeout_seconds: 30 is not a scan timeout from 60 to 3600 seconds",
    ),
    "keep": ({"images_to_keep": 0}, "pipeline.images_to_keep: 0 is not a number of images from 1 to 1000"),
    "untagged": (
        {"untagged_image_days": 400},
        "pipeline.untagged_image_days: 400 is not a number of days from 1 to 365",
    ),
    "artifacts": ({"artifact_retention_days": 0}, "pipeline.artifact_retention_days: 0 is not a number of days"),
    "approval": ({"manual_approval": "sometimes"}, "pipeline.manual_approval: 'sometimes' must be true or false"),
    "email": (
        {"notification_email": "team-at-example"},
        "pipeline.notification_email: 'team-at-example' is not an e-mail address",
    ),
    "topic": (
        {"notification_topic_arn": "arn:aws:sqs:eu-west-1:111122223333:q"},
        "pipeline.notification_topic_arn: 'arn:aws:sqs:eu-west-1:111122223333:q' is not an SNS topic ARN",
    ),
    "both-targets": (
        {"notification_email": "a@example.com", "notification_topic_arn": "arn:aws:sns:eu-west-1:111122223333:t"},
        "pipeline: give notification_email or notification_topic_arn, not both",
    ),
    "compute": (
        {"compute_type": "BUILD_GENERAL1_HUGE"},
        "pipeline.compute_type: 'BUILD_GENERAL1_HUGE' is not allowed (allowed: 'BUILD_GENERAL1_SMALL',",
    ),
    "owner-missing": ({"github_owner": None}, "pipeline.github_owner: None must be a string"),
}


def _write(tmp_path, change, service_change=None):
    params = copy_params(tmp_path)

    def edit(data):
        data["pipeline"].update(change)
        data["pipeline"] = {k: v for k, v in data["pipeline"].items() if v is not None or k == "github_owner"}
        data["service"].update(service_change or {})

    edit_params(params / "dev.yaml", edit)
    return params / "dev.yaml"


@pytest.mark.parametrize("case", sorted(BAD_PIPELINE))
def test_bad_pipeline_value_is_reported(tmp_path, case):
    change, expected = BAD_PIPELINE[case]
    with pytest.raises(ParamsError) as error:
        load_environment(_write(tmp_path, change), "params/dev.yaml")
    assert any(line.startswith("params/dev.yaml: ") and expected in line for line in error.value.problems), str(
        error.value
    )


def test_required_keys_are_reported(tmp_path):
    params = copy_params(tmp_path)
    edit_params(params / "dev.yaml", lambda data: data.update(pipeline={"branch": "main"}))
    with pytest.raises(ParamsError) as error:
        load_environment(params / "dev.yaml", "params/dev.yaml")
    assert "params/dev.yaml: pipeline.github_owner: is required" in error.value.problems
    assert "params/dev.yaml: pipeline.github_repository: is required" in error.value.problems


def test_arm_builds_offer_only_small_and_large(tmp_path):
    path = _write(tmp_path, {"compute_type": "BUILD_GENERAL1_MEDIUM"}, {"cpu_architecture": "ARM64"})
    with pytest.raises(ParamsError) as error:
        load_environment(path, "params/dev.yaml")
    assert (
        "params/dev.yaml: (top level): pipeline.compute_type BUILD_GENERAL1_MEDIUM is not available for ARM64 "
        "builds (service.cpu_architecture ARM64; allowed: BUILD_GENERAL1_SMALL, BUILD_GENERAL1_LARGE)"
        in error.value.problems
    ), error.value.problems


@pytest.mark.parametrize(
    "change",
    [
        {"connection": CONNECTION},
        {"connection": CONNECTION.replace("codestar-connections", "codeconnections")},
        {"branch": "release/2024.1", "github_owner": "Acme-Corp", "github_repository": "shop.web_app"},
        {"scan_allowances": {"CRITICAL": 0, "HIGH": 3}, "scan_timeout_seconds": 3600},
        {"notification_topic_arn": "arn:aws:sns:eu-west-1:111122223333:release-alerts"},
        {"dockerfile": "docker/app.Dockerfile", "build_context": "services/web"},
    ],
)
def test_good_pipeline_values_are_accepted(tmp_path, change):
    config = load_environment(_write(tmp_path, change), "params/dev.yaml")
    for key, value in change.items():
        assert getattr(config.pipeline, key) == value


def test_defaults():
    from blueprints.config import PipelineConfig

    config = PipelineConfig(github_owner="acme", github_repository="shop")
    assert config.scan_allowances == {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0}
    assert config.scan_max == "CRITICAL=0,HIGH=0,MEDIUM=0"
    assert (config.connection, config.branch, config.compute_type) == ("create", "main", "BUILD_GENERAL1_SMALL")
    assert config.manual_approval is None and not config.notifies


def test_manual_approval_defaults_on_for_prod_only():
    from blueprints.stacks import pipeline
    from tests.test_pipeline import _config

    assert not pipeline.approval_on(_config())
    prod = _config().model_copy(update={"environment": "prod"})
    assert pipeline.approval_on(prod)


def test_generate_exits_2_on_a_bad_pipeline_key(tmp_path):
    path = _write(tmp_path, {"scan_allowances": {"HIGH": -1}})
    result = generate("--params-dir", str(path.parent), "--out-dir", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "dev.yaml: pipeline.scan_allowances: has HIGH: -1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
