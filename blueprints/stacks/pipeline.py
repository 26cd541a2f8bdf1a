"""Pipeline stack: every push to the application's branch builds an image, stops at the ECR scan
gate when the image has findings over their allowances, and otherwise releases it blue/green.

Source (GitHub through a CodeStar/CodeConnections connection) -> Build (CodeBuild: build, push,
scan gate on the exact digest, the engine's build steps) -> optional manual approval -> Deploy (the
engine's actions, blueprints/engines/). The buildspec and deploy artifacts are rendered by
pipeline_artifacts.py; the actions are made of pipeline_actions.py.
"""

from __future__ import annotations

import json

from awacs import codebuild as awscodebuild
from awacs import codeconnections, codestar_connections
from awacs import s3 as awss3
from awacs import sns as awssns
from awacs.aws import Allow, Bool, Condition, Deny, PolicyDocument, Principal, Statement, StringEquals
from troposphere import (
    GetAtt,
    Ref,
    Sub,
    Tags,
    codebuild,
    codepipeline,
    codestarconnections,
    codestarnotifications,
    ecr,
    iam,
    s3,
    sns,
)

from .. import engines, naming, roles
from ..config import EnvironmentConfig
from ..engines.base import Engine, ServiceStack
from ..template import CfnTemplate, checkov_skip
from . import pipeline_artifacts, pipeline_codebuild
from .pipeline_actions import ARN, BUILD_NAMESPACE, BUILD_OUTPUT, action, approval_action
from .pipeline_codebuild import artifact_statements, settings

STACK = "pipeline"
SOURCE_OUTPUT = "SourceOutput"
SOURCE_NAMESPACE = "SourceVariables"


def approval_on(config: EnvironmentConfig) -> bool:
    chosen = settings(config).manual_approval
    return config.protected if chosen is None else chosen


def build(config: EnvironmentConfig, service: ServiceStack) -> CfnTemplate:
    """The pipeline that releases the service stack ``service`` (the same template that is written
    to out/<env>/service.json: its task definition becomes the release's task definition)."""
    p, deploy = settings(config), engines.get(config.service.deployment_engine)
    t = CfnTemplate(
        f"Release pipeline of {config.prefix}: GitHub {p.full_repository_id}@{p.branch} -> Docker build -> ECR "
        f"scan gate ({p.scan_max}) -> {'manual approval -> ' if approval_on(config) else ''}"
        f"{deploy.pipeline_description()}."
    )
    deploy.pipeline_parameters(t)
    connection = _connection(t, config)
    _repository(t, config)
    _artifact_bucket(t, config)
    build_project = pipeline_codebuild.build_project(t, config, deploy, service)
    release_projects = pipeline_codebuild.release_projects(t, config, deploy, service)
    _pipeline(t, config, deploy, connection, service, build_project, release_projects)
    _notifications(t, config)
    _outputs(t, config)
    return t


def _connection(t: CfnTemplate, config: EnvironmentConfig) -> str | Ref:
    if not settings(config).creates_connection:
        return settings(config).connection
    # Created PENDING: someone completes the GitHub handshake once in the console (README).
    t.add_resource(
        codestarconnections.Connection(
            "GitHubConnection", ConnectionName=naming.connection(config), ProviderType="GitHub"
        )
    )
    t.output(
        "ConnectionArn",
        Ref("GitHubConnection"),
        "GitHub connection: PENDING until its handshake is completed once in the console.",
    )
    return Ref("GitHubConnection")


def _repository(t: CfnTemplate, config: EnvironmentConfig) -> None:
    p = settings(config)
    # Amazon ECR User Guide, "Lifecycle policy properties in Amazon ECR": rules apply from the lowest
    # rulePriority up; "untagged" must omit tag lists, "tagged" needs tagPrefixList or tagPatternList.
    # "Lifecycle policy evaluation rules": an image that matches the tagging requirements of a
    # higher-priority rule cannot be expired by a lower-priority rule. So the images the build marked
    # as released (RELEASE_TAG_PREFIX, only after the scan gate passed) are counted among themselves
    # and are never expired by the age rule that clears images which failed the gate
    # (BUILD_TAG_PREFIX only): a run of failing builds cannot push the image production runs out of
    # the repository. Not "any" for the age rule: images pushed by earlier versions of this pipeline
    # (tagged with the bare commit) could be the running ones; no rule selects them.
    # https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html
    # https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html#lp_evaluation_rules
    rules = {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire untagged images after {p.untagged_image_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": p.untagged_image_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"Keep the last {p.images_to_keep} released images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [pipeline_artifacts.RELEASE_TAG_PREFIX],
                    "countType": "imageCountMoreThan",
                    "countNumber": p.images_to_keep,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 3,
                "description": f"Expire images that never passed the scan gate after {p.unreleased_image_days} days",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": [pipeline_artifacts.BUILD_TAG_PREFIX],
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": p.unreleased_image_days,
                },
                "action": {"type": "expire"},
            },
        ]
    }
    t.add_resource(
        ecr.Repository(
            "Repository",
            RepositoryName=naming.repository(config),
            ImageTagMutability="IMMUTABLE",
            ImageScanningConfiguration=ecr.ImageScanningConfiguration(ScanOnPush=True),
            EncryptionConfiguration=ecr.EncryptionConfiguration(EncryptionType="KMS"),
            LifecyclePolicy=ecr.LifecyclePolicy(LifecyclePolicyText=json.dumps(rules, indent=2, sort_keys=True)),
            # Images of running tasks must outlive the pipeline stack.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Tags=Tags(Name=naming.repository(config)),
        )
    )


def _artifact_bucket(t: CfnTemplate, config: EnvironmentConfig) -> None:
    days = settings(config).artifact_retention_days
    t.add_resource(
        s3.Bucket(
            "ArtifactBucket",
            BucketEncryption=s3.BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    s3.ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=s3.ServerSideEncryptionByDefault(SSEAlgorithm="aws:kms"),
                        BucketKeyEnabled=True,
                    )
                ]
            ),
            VersioningConfiguration=s3.VersioningConfiguration(Status="Enabled"),
            PublicAccessBlockConfiguration=s3.PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=s3.OwnershipControls(
                Rules=[s3.OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]
            ),
            LifecycleConfiguration=s3.LifecycleConfiguration(
                Rules=[
                    s3.LifecycleRule(
                        Id="expire-artifacts",
                        Status="Enabled",
                        ExpirationInDays=days,
                        NoncurrentVersionExpiration=s3.NoncurrentVersionExpiration(NoncurrentDays=1),
                        AbortIncompleteMultipartUpload=s3.AbortIncompleteMultipartUpload(DaysAfterInitiation=1),
                    )
                ]
            ),
            Tags=Tags(Name=f"{config.prefix}-pipeline-artifacts"),
            Metadata=checkov_skip(
                (
                    "CKV_AWS_18",
                    "Holds only pipeline artifacts that expire; CloudTrail records who reads and writes them.",
                )
            ),
        )
    )
    t.add_resource(
        s3.BucketPolicy(
            "ArtifactBucketPolicy",
            Bucket=Ref("ArtifactBucket"),
            PolicyDocument=PolicyDocument(
                Version="2012-10-17",
                Statement=[
                    Statement(
                        Sid="DenyInsecureTransport",
                        Effect=Deny,
                        Principal=Principal("*"),
                        Action=[awss3.Action("*")],
                        Resource=[GetAtt("ArtifactBucket", "Arn"), Sub("${ArtifactBucket.Arn}/*")],
                        Condition=Condition(Bool({"aws:SecureTransport": "false"})),
                    )
                ],
            ),
        )
    )


def _pipeline_role(
    t: CfnTemplate,
    config: EnvironmentConfig,
    deploy: Engine,
    connection: str | Ref,
    service: ServiceStack,
    projects: list[codebuild.Project],
) -> None:
    connection_actions = {True: [codestar_connections.UseConnection], False: [codeconnections.UseConnection]}
    uses_codestar = settings(config).creates_connection or ":codestar-connections:" in settings(config).connection
    statements = [
        Statement(Effect=Allow, Action=connection_actions[uses_codestar], Resource=[connection]),
        Statement(
            Effect=Allow,
            Action=[awscodebuild.StartBuild, awscodebuild.BatchGetBuilds, awscodebuild.StopBuild],
            Resource=[GetAtt(project, "Arn") for project in projects],
        ),
        *artifact_statements(),
        *deploy.pipeline_statements(t, config, service),
    ]
    t.add_resource(
        iam.Role(
            "PipelineRole",
            Description=f"Release pipeline of {config.prefix}: its connection, build, bucket and "
            f"{config.service.deployment_engine} deployment only.",
            AssumeRolePolicyDocument=roles.trust("codepipeline.amazonaws.com"),
            Policies=[roles.inline_policy("release", statements)],
            Metadata=checkov_skip(
                (
                    "CKV_AWS_111",
                    '"*" only for ECS task-definition actions that have no resource '
                    "scope; iam:PassRole is limited to the task roles and ECS.",
                )
            ),
        )
    )


def _pipeline(
    t: CfnTemplate,
    config: EnvironmentConfig,
    deploy: Engine,
    connection: str | Ref,
    service: ServiceStack,
    build_project: codebuild.Project,
    release_projects: dict[str, codebuild.Project],
) -> None:
    p = settings(config)
    _pipeline_role(t, config, deploy, connection, service, [build_project, *release_projects.values()])
    source = action(
        "GitHub",
        "Source",
        "CodeStarSourceConnection",
        {
            "ConnectionArn": connection,
            "FullRepositoryId": p.full_repository_id,
            "BranchName": p.branch,
            "OutputArtifactFormat": "CODE_ZIP",
            "DetectChanges": "true",
        },
        outputs=(SOURCE_OUTPUT,),
        Namespace=SOURCE_NAMESPACE,
    )
    image = action(
        "ImageAndScanGate",
        "Build",
        "CodeBuild",
        {
            "ProjectName": Ref(build_project),
            "EnvironmentVariables": json.dumps(
                [{"name": "COMMIT_ID", "type": "PLAINTEXT", "value": f"#{{{SOURCE_NAMESPACE}.CommitId}}"}]
            ),
        },
        inputs=(SOURCE_OUTPUT,),
        outputs=(BUILD_OUTPUT,),
        Namespace=BUILD_NAMESPACE,
    )
    approval = approval_on(config)
    stages = [codepipeline.Stages(Name="Source", Actions=[source]), codepipeline.Stages(Name="Build", Actions=[image])]
    if approval and not deploy.approval_in_deploy_stage:
        stages.append(codepipeline.Stages(Name="Approve", Actions=[approval_action()]))
    stages.append(
        codepipeline.Stages(
            Name="Deploy", Actions=deploy.deploy_actions(t, config, approval, service, release_projects)
        )
    )
    t.add_resource(
        codepipeline.Pipeline(
            "Pipeline",
            Name=naming.pipeline(config),
            PipelineType="V2",
            ExecutionMode="QUEUED",
            RoleArn=GetAtt("PipelineRole", "Arn"),
            RestartExecutionOnUpdate=False,
            ArtifactStore=codepipeline.ArtifactStore(Type="S3", Location=Ref("ArtifactBucket")),
            Triggers=[
                codepipeline.PipelineTriggerDeclaration(
                    ProviderType="CodeStarSourceConnection",
                    GitConfiguration=codepipeline.GitConfiguration(
                        SourceActionName="GitHub",
                        Push=[
                            codepipeline.GitPushFilter(
                                Branches=codepipeline.GitBranchFilterCriteria(Includes=[p.branch])
                            )
                        ],
                    ),
                )
            ],
            Stages=stages,
            Tags=Tags(Name=naming.pipeline(config)),
            Metadata=checkov_skip(
                (
                    "CKV_AWS_219",
                    "Artifacts are encrypted with the AWS-managed aws/s3 KMS key; a "
                    "customer key adds cost and a key policy without a reader to "
                    "separate.",
                )
            ),
        )
    )


def _notifications(t: CfnTemplate, config: EnvironmentConfig) -> None:
    p = settings(config)
    if not p.notifies:
        return
    topic = p.notification_topic_arn
    if p.notification_email:
        t.add_resource(
            sns.Topic(
                "FailureTopic",
                DisplayName=f"{config.prefix} release failed",
                Subscription=[sns.Subscription(Protocol="email", Endpoint=p.notification_email)],
                Metadata=checkov_skip(
                    (
                        "CKV_AWS_26",
                        "CodeStar Notifications cannot publish to a topic encrypted "
                        "with the AWS-managed key; messages carry only pipeline "
                        "status.",
                    )
                ),
            )
        )
        t.add_resource(
            sns.TopicPolicy(
                "FailureTopicPolicy",
                Topics=[Ref("FailureTopic")],
                PolicyDocument=PolicyDocument(
                    Version="2012-10-17",
                    Statement=[
                        Statement(
                            Sid="CodeStarNotifications",
                            Effect=Allow,
                            Principal=Principal("Service", "codestar-notifications.amazonaws.com"),
                            Action=[awssns.Publish],
                            Resource=[Ref("FailureTopic")],
                            Condition=Condition(StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})),
                        )
                    ],
                ),
            )
        )
        topic = Ref("FailureTopic")
    t.add_resource(
        codestarnotifications.NotificationRule(
            "FailureNotificationRule",
            Name=naming.notification_rule(config),
            DetailType="BASIC",
            EventTypeIds=["codepipeline-pipeline-pipeline-execution-failed"],
            Resource=Sub(ARN % ("codepipeline", "${Pipeline}")),
            Targets=[codestarnotifications.Target(TargetType="SNS", TargetAddress=topic)],
        )
    )


def _outputs(t: CfnTemplate, config: EnvironmentConfig) -> None:
    t.output("PipelineName", Ref("Pipeline"), "Release pipeline.")
    t.output(
        "PipelineConsoleUrl",
        Sub(
            "https://${AWS::Region}.console.aws.amazon.com/codesuite/codepipeline/"
            "pipelines/${Pipeline}/view?region=${AWS::Region}"
        ),
        "The pipeline in the AWS console.",
    )
    t.output("RepositoryUri", GetAtt("Repository", "RepositoryUri"), "ECR repository of the service's images.")
    t.output("ArtifactBucketName", Ref("ArtifactBucket"), "S3 bucket of the pipeline's artifacts.")
