"""Pipeline stack, CodeBuild side: the image build (build, push, scan gate, deploy artifacts) and
the engine's release projects (the CodeBuild actions of the Deploy stage), each with its role and
log group."""

from __future__ import annotations

import math
import re

from awacs import ecr as awsecr
from awacs import logs as awslogs
from awacs import s3 as awss3
from awacs.aws import Allow, Statement
from troposphere import GetAtt, Ref, Sub, Tags, codebuild, iam, logs

from .. import naming, roles
from ..config import EnvironmentConfig
from ..config.pipeline import PipelineConfig
from ..engines.base import Engine, ReleaseStep, ServiceStack
from ..template import CfnTemplate, checkov_skip
from . import pipeline_artifacts

# Standard CodeBuild images with Docker (Amazon Linux 2023 based), per CPU architecture.
# https://docs.aws.amazon.com/codebuild/latest/userguide/ec2-compute-images.html
BUILD_IMAGES = {
    "X86_64": ("LINUX_CONTAINER", "aws/codebuild/amazonlinux-x86_64-standard:5.0"),
    "ARM64": ("ARM_CONTAINER", "aws/codebuild/amazonlinux-aarch64-standard:3.0"),
}
BUILD_MINUTES = 30  # docker build and push; the scan wait comes on top
# Release steps run only the AWS CLI: the smallest x86 machine whatever the service's architecture.
RELEASE_COMPUTE = ("LINUX_CONTAINER", "aws/codebuild/amazonlinux-x86_64-standard:5.0", "BUILD_GENERAL1_SMALL")


def settings(config: EnvironmentConfig) -> PipelineConfig:
    """The ``pipeline:`` section; only environments that have one get a pipeline stack."""
    if config.pipeline is None:
        raise ValueError(f"{config.prefix}: no pipeline section in params")
    return config.pipeline


def artifact_statements() -> list[Statement]:
    return [
        Statement(
            Effect=Allow,
            Action=[awss3.GetObject, awss3.GetObjectVersion, awss3.PutObject],
            Resource=[Sub("${ArtifactBucket.Arn}/*")],
        ),
        Statement(
            Effect=Allow,
            Action=[awss3.GetBucketVersioning, awss3.GetBucketLocation],
            Resource=[GetAtt("ArtifactBucket", "Arn")],
        ),
    ]


def build_project(
    t: CfnTemplate, config: EnvironmentConfig, deploy: Engine, service: ServiceStack
) -> codebuild.Project:
    p = settings(config)
    t.add_resource(
        logs.LogGroup(
            "BuildLogGroup",
            LogGroupName=f"/aws/codebuild/{naming.build_project(config)}",
            RetentionInDays=config.service.log_retention_days,
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Metadata=checkov_skip(
                ("CKV_AWS_158", "Build logs hold no secrets; AWS-owned keys encrypt them at rest."),
                ("CKV_AWS_338", "Retention follows service.log_retention_days."),
            ),
        )
    )
    repository_arn = GetAtt("Repository", "Arn")
    statements = [
        Statement(
            Effect=Allow,
            Action=[awslogs.CreateLogStream, awslogs.PutLogEvents],
            Resource=[GetAtt("BuildLogGroup", "Arn")],
        ),
        # GetAuthorizationToken has no resource-level permissions: AWS allows only "*".
        Statement(Effect=Allow, Action=[awsecr.GetAuthorizationToken], Resource=["*"]),
        # Push to this repository only, and read the scan of what was pushed.
        Statement(
            Effect=Allow,
            Action=[
                awsecr.BatchCheckLayerAvailability,
                awsecr.InitiateLayerUpload,
                awsecr.UploadLayerPart,
                awsecr.CompleteLayerUpload,
                awsecr.PutImage,
                awsecr.BatchGetImage,
                awsecr.GetDownloadUrlForLayer,
                awsecr.DescribeImages,
                awsecr.DescribeImageScanFindings,
            ],
            Resource=[repository_arn],
        ),
        *artifact_statements(),
        *deploy.build_statements(config),
    ]
    t.add_resource(
        iam.Role(
            "BuildRole",
            Description=f"Image build of {config.prefix}: push to its repository, read the scan, logs.",
            AssumeRolePolicyDocument=roles.trust("codebuild.amazonaws.com"),
            Policies=[roles.inline_policy("build-push-scan", statements)],
            Metadata=checkov_skip(
                ("CKV_AWS_111", 'Only ecr:GetAuthorizationToken uses "*": it has no resource scope.'),
                ("CKV_AWS_356", 'Only ecr:GetAuthorizationToken uses "*": it has no resource scope.'),
            ),
        )
    )
    environment_type, image = BUILD_IMAGES[config.service.cpu_architecture]
    return t.add_resource(
        codebuild.Project(
            "BuildProject",
            Name=naming.build_project(config),
            Description=f"Builds {p.full_repository_id}, pushes it to ECR and gates on the image scan.",
            ServiceRole=GetAtt("BuildRole", "Arn"),
            Source=codebuild.Source(
                Type="CODEPIPELINE", BuildSpec=pipeline_artifacts.buildspec(config, service, deploy)
            ),
            Artifacts=codebuild.Artifacts(Type="CODEPIPELINE"),
            Environment=codebuild.Environment(
                Type=environment_type,
                Image=image,
                ComputeType=p.compute_type,
                PrivilegedMode=True,  # docker build needs the Docker daemon
                ImagePullCredentialsType="CODEBUILD",
                EnvironmentVariables=[
                    codebuild.EnvironmentVariable(
                        Name="REPOSITORY_URI", Type="PLAINTEXT", Value=GetAtt("Repository", "RepositoryUri")
                    ),
                    codebuild.EnvironmentVariable(Name="REPOSITORY_NAME", Type="PLAINTEXT", Value=Ref("Repository")),
                    *deploy.build_variables(),
                ],
            ),
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(Status="ENABLED", GroupName=Ref("BuildLogGroup"))
            ),
            TimeoutInMinutes=BUILD_MINUTES + math.ceil(p.scan_timeout_seconds / 60),
            EncryptionKey="alias/aws/s3",  # the AWS-managed key CodeBuild uses by default, made explicit
            Tags=Tags(Name=naming.build_project(config)),
            Metadata=checkov_skip(
                (
                    "CKV_AWS_316",
                    "Privileged mode is what lets CodeBuild run docker build; the "
                    "project builds only this repository's Dockerfile.",
                )
            ),
        )
    )


def release_projects(
    t: CfnTemplate, config: EnvironmentConfig, deploy: Engine, service: ServiceStack
) -> dict[str, codebuild.Project]:
    """One project per release step of the engine, all under one release role and log group;
    by action name. None when the engine's Deploy stage uses only CodePipeline's own actions."""
    steps = deploy.release_steps(config, service)
    if not steps:
        return {}
    log_group = t.add_resource(
        logs.LogGroup(
            "ReleaseLogGroup",
            LogGroupName=f"/aws/codebuild/{naming.release_project(config)}",
            RetentionInDays=config.service.log_retention_days,
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Metadata=checkov_skip(
                ("CKV_AWS_158", "Release logs hold no secrets; AWS-owned keys encrypt them at rest."),
                ("CKV_AWS_338", "Retention follows service.log_retention_days."),
            ),
        )
    )
    statements = [
        Statement(
            Effect=Allow, Action=[awslogs.CreateLogStream, awslogs.PutLogEvents], Resource=[GetAtt(log_group, "Arn")]
        ),
        *artifact_statements(),
        *deploy.release_statements(t, config, service),
    ]
    role = t.add_resource(
        iam.Role(
            "ReleaseRole",
            Description=f"Release steps of {config.prefix}: the {config.service.deployment_engine} deployment only.",
            AssumeRolePolicyDocument=roles.trust("codebuild.amazonaws.com"),
            Policies=[roles.inline_policy("release", statements)],
            Metadata=checkov_skip(
                (
                    "CKV_AWS_111",
                    '"*" only for actions that have no resource-level permissions (IAM authorization data); '
                    "iam:PassRole is limited to the task roles and the service they are passed to.",
                )
            ),
        )
    )
    return {step.action: _release_project(t, config, step, role, log_group) for step in steps}


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _release_project(
    t: CfnTemplate, config: EnvironmentConfig, step: ReleaseStep, role: iam.Role, log_group: logs.LogGroup
) -> codebuild.Project:
    name = naming.release_project(config, _kebab(step.action))
    environment_type, image, compute = RELEASE_COMPUTE
    return t.add_resource(
        codebuild.Project(
            f"{step.action}Project",
            Name=name,
            Description=step.description,
            ServiceRole=GetAtt(role, "Arn"),
            Source=codebuild.Source(Type="CODEPIPELINE", BuildSpec=pipeline_artifacts.release_buildspec(name, step)),
            Artifacts=codebuild.Artifacts(Type="CODEPIPELINE"),
            Environment=codebuild.Environment(
                Type=environment_type,
                Image=image,
                ComputeType=compute,
                ImagePullCredentialsType="CODEBUILD",
                EnvironmentVariables=[
                    codebuild.EnvironmentVariable(Name=key, Type="PLAINTEXT", Value=value)
                    for key, value in step.variables
                ],
            ),
            LogsConfig=codebuild.LogsConfig(
                CloudWatchLogs=codebuild.CloudWatchLogs(Status="ENABLED", GroupName=Ref(log_group), StreamName=name)
            ),
            TimeoutInMinutes=step.timeout_minutes,
            EncryptionKey="alias/aws/s3",  # the AWS-managed key CodeBuild uses by default, made explicit
            Tags=Tags(Name=name),
        )
    )
