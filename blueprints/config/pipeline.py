"""The ``pipeline:`` section of a parameter file: where the application's code comes from,
how its image is built and scanned, and how a release is approved and reported."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import StrictModel

# Severities the ECR scan gate (scripts/scan_gate.py, ORDER) understands, most severe first.
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "UNTRIAGED", "LOW", "INFORMATIONAL", "UNDEFINED")
# CodeBuild compute types for Linux containers (x86_64); ARM containers offer only SMALL and LARGE.
# https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-compute-types.html
COMPUTE_TYPES = (
    "BUILD_GENERAL1_SMALL",
    "BUILD_GENERAL1_MEDIUM",
    "BUILD_GENERAL1_LARGE",
    "BUILD_GENERAL1_XLARGE",
    "BUILD_GENERAL1_2XLARGE",
)
ARM_COMPUTE_TYPES = ("BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_LARGE")

CREATE_CONNECTION = "create"

# GitHub: owner 1-39 letters, digits and single inner hyphens; repository 1-100 of [A-Za-z0-9._-].
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_REPOSITORY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# A git branch name (git check-ref-format, simplified to what a params file needs).
_BRANCH = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)(?!.*/$)(?!.*\.$)(?!.*\.lock$)[^\s~^:?*\[\\]{1,255}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:(?:codestar-connections|codeconnections):[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:"
    r"connection/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
_TOPIC_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_RELATIVE_PATH = re.compile(r"^[A-Za-z0-9._/@+-]+$")


def _check_relative_path(value: str, what: str) -> str:
    parts = value.split("/")
    if (
        not _RELATIVE_PATH.match(value)
        or value.startswith("/")
        or ".." in parts
        or len(value) > 1024
        or "" in parts[:-1]
    ):
        raise ValueError(
            f"is not {what}: a relative path inside the repository (letters, digits, ._/@+-; no leading /, no ..)"
        )
    return value


class PipelineConfig(StrictModel):
    github_owner: str = Field(description="GitHub user or organisation that owns the application repository.")
    github_repository: str = Field(description="Name of the application repository (without the owner).")
    branch: str = Field("main", description="Branch whose every push starts a release.")
    connection: str = Field(
        CREATE_CONNECTION,
        description="ARN of an existing CodeStar/CodeConnections connection to GitHub, or "
        "'create' to let the stack create one (needs a one-time handshake).",
    )
    dockerfile: str = Field("Dockerfile", description="Path of the Dockerfile in the application repository.")
    build_context: str = Field(".", description="Directory sent to docker build, relative to the repository root.")
    scan_allowances: dict[str, int] = Field(
        default_factory=lambda: {"CRITICAL": 0, "HIGH": 0, "MEDIUM": 0},
        description="Severities that fail the build and how many findings of each are allowed.",
    )
    scan_timeout_seconds: int = Field(600, description="How long the gate waits for the scan, 60-3600 seconds.")
    images_to_keep: int = Field(
        20, description="Released images (those that passed the scan gate) the repository keeps, 1-1000."
    )
    untagged_image_days: int = Field(3, description="Days after which untagged images expire, 1-365.")
    unreleased_image_days: int = Field(
        14, description="Days after which images that never passed the scan gate expire, 1-365."
    )
    artifact_retention_days: int = Field(30, description="Days after which pipeline artifacts expire, 1-3650.")
    manual_approval: bool | None = Field(
        None, description="Manual approval before the deployment; defaults to on for prod, off elsewhere."
    )
    notification_email: str | None = Field(
        None, description="E-mail address told when a pipeline execution fails (the stack creates a topic)."
    )
    notification_topic_arn: str | None = Field(
        None, description="Existing SNS topic told when a pipeline execution fails (instead of an e-mail)."
    )
    compute_type: Literal[COMPUTE_TYPES] = Field(  # type: ignore[valid-type]
        "BUILD_GENERAL1_SMALL", description="CodeBuild compute type of the image build."
    )

    @field_validator("github_owner")
    @classmethod
    def _owner(cls, value: str) -> str:
        if not _OWNER.match(value):
            raise ValueError("is not a GitHub owner: 1-39 letters, digits and single hyphens, not at either end")
        return value

    @field_validator("github_repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value) or value in (".", "..") or value.endswith(".git"):
            raise ValueError(
                "is not a GitHub repository name: 1-100 letters, digits, '.', '_' and '-' "
                "(without the owner and without .git)"
            )
        return value

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str) -> str:
        if not _BRANCH.match(value):
            raise ValueError("is not a git branch name (no spaces, ~^:?*[\\, '..', '//' or a trailing / or .)")
        return value

    @field_validator("connection")
    @classmethod
    def _connection(cls, value: str) -> str:
        if value != CREATE_CONNECTION and not _CONNECTION_ARN.match(value):
            raise ValueError(
                "is not a connection ARN (arn:aws:codestar-connections:<region>:<account>:connection/<uuid> or "
                "arn:aws:codeconnections:...) nor 'create'"
            )
        return value

    @field_validator("dockerfile")
    @classmethod
    def _dockerfile(cls, value: str) -> str:
        return _check_relative_path(value, "a Dockerfile path")

    @field_validator("build_context")
    @classmethod
    def _context(cls, value: str) -> str:
        return _check_relative_path(value, "a build context directory")

    @field_validator("scan_allowances")
    @classmethod
    def _allowances(cls, value: dict[str, int]) -> dict[str, int]:
        if not value:
            raise ValueError("must name at least one severity (the gate would check nothing)")
        for severity, count in value.items():
            if severity not in SEVERITIES:
                raise ValueError(f"has {severity!r}, which is not an ECR severity (allowed: {', '.join(SEVERITIES)})")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"has {severity}: {count!r}; an allowance is a whole number from 0")
        return {s: value[s] for s in SEVERITIES if s in value}

    @field_validator("scan_timeout_seconds")
    @classmethod
    def _timeout(cls, value: int) -> int:
        if not 60 <= value <= 3600:
            raise ValueError("is not a scan timeout from 60 to 3600 seconds")
        return value

    @field_validator("images_to_keep")
    @classmethod
    def _keep(cls, value: int) -> int:
        if not 1 <= value <= 1000:
            raise ValueError("is not a number of images from 1 to 1000")
        return value

    @field_validator("untagged_image_days", "unreleased_image_days")
    @classmethod
    def _untagged(cls, value: int) -> int:
        if not 1 <= value <= 365:
            raise ValueError("is not a number of days from 1 to 365")
        return value

    @field_validator("artifact_retention_days")
    @classmethod
    def _artifact_days(cls, value: int) -> int:
        if not 1 <= value <= 3650:
            raise ValueError("is not a number of days from 1 to 3650")
        return value

    @field_validator("notification_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (not _EMAIL.match(value) or len(value) > 254):
            raise ValueError("is not an e-mail address such as team@example.com")
        return value

    @field_validator("notification_topic_arn")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        if value is not None and not _TOPIC_ARN.match(value):
            raise ValueError("is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic name>)")
        return value

    @model_validator(mode="after")
    def _one_notification_target(self) -> PipelineConfig:
        if self.notification_email and self.notification_topic_arn:
            raise ValueError("give notification_email or notification_topic_arn, not both")
        return self

    @property
    def creates_connection(self) -> bool:
        return self.connection == CREATE_CONNECTION

    @property
    def notifies(self) -> bool:
        return bool(self.notification_email or self.notification_topic_arn)

    @property
    def full_repository_id(self) -> str:
        return f"{self.github_owner}/{self.github_repository}"

    @property
    def scan_max(self) -> str:
        """The allowances as the gate's --max argument, most severe first."""
        return ",".join(f"{severity}={count}" for severity, count in self.scan_allowances.items())


def check_builds_for(pipeline: PipelineConfig | None, cpu_architecture: str, architecture_key: str) -> None:
    """The image is built on the CPU architecture the service runs; ARM builds have fewer sizes."""
    if pipeline and cpu_architecture == "ARM64" and pipeline.compute_type not in ARM_COMPUTE_TYPES:
        raise ValueError(
            f"pipeline.compute_type {pipeline.compute_type} is not available for ARM64 builds "
            f"({architecture_key} ARM64; allowed: {', '.join(ARM_COMPUTE_TYPES)})"
        )
