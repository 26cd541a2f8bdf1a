"""Deterministic AWS names derived from the environment config.

The service stack creates resources with these names and the pipeline stack finds them by
the same functions, so neither has to read the other's outputs for them. Every name starts
with ``config.prefix`` ("<project>-<env>", at most 24 characters) and stays within its AWS
limit; ``LIMITS`` records each one and tests/test_service.py checks them at the longest prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import EnvironmentConfig

# AWS length limit of each kind of name below.
LIMITS = {
    "cluster": 255,
    "service": 255,
    "task_family": 255,
    "container": 255,
    "log_group": 512,
    "repository": 256,
    "codedeploy_application": 100,
    "deployment_group": 100,
    "hook_function": 64,
    "load_balancer": 32,
    "target_group": 32,
    "role": 64,
    "pipeline": 100,
    "build_project": 150,
    "connection": 32,
    "notification_rule": 64,
    "stack": 128,
}


def cluster(config: EnvironmentConfig) -> str:
    # Shared by every service of the environment.
    return config.env_prefix


def service(config: EnvironmentConfig) -> str:
    return f"{config.prefix}-service"


def task_family(config: EnvironmentConfig) -> str:
    return f"{config.prefix}-task"


def container(config: EnvironmentConfig) -> str:
    return config.service.container_name


def log_group(config: EnvironmentConfig) -> str:
    return f"/ecs/{config.prefix}"


def codedeploy_application(config: EnvironmentConfig) -> str:
    return config.prefix


def deployment_group(config: EnvironmentConfig) -> str:
    return f"{config.prefix}-service"


def repository(config: EnvironmentConfig) -> str:
    """ECR repository the pipeline pushes to; the task execution role may pull only from it."""
    return config.prefix


def hook_function(config: EnvironmentConfig) -> str:
    # AWSCodeDeployRoleForCloudFormation (the cloudformation engine's role) may invoke only
    # functions named CodeDeployHook_*, so the name keeps that prefix for every engine.
    return f"CodeDeployHook_{config.prefix}-validate"


def hook_log_group(config: EnvironmentConfig) -> str:
    return f"/aws/lambda/{hook_function(config)}"


def bluegreen_hook_role(config: EnvironmentConfig) -> str:
    """Engine ``cloudformation``: the hook's ServiceRole is a role *name*, written literally in Hooks."""
    return f"{config.prefix}-bluegreen-hook"


def load_balancer(config: EnvironmentConfig) -> str:
    # Shared by every service of the environment.
    return f"{config.env_prefix}-alb"


def target_group(config: EnvironmentConfig, colour: str) -> str:
    """``colour`` is "blue" or "green"."""
    return f"{config.prefix}-{colour}"


def all_names(config: EnvironmentConfig) -> dict[str, str]:
    """Every derived name by kind (target groups under the longer colour), for limit checks."""
    return {
        "cluster": cluster(config),
        "service": service(config),
        "task_family": task_family(config),
        "container": container(config),
        "log_group": log_group(config),
        "repository": repository(config),
        "codedeploy_application": codedeploy_application(config),
        "deployment_group": deployment_group(config),
        "hook_function": hook_function(config),
        "load_balancer": load_balancer(config),
        "target_group": target_group(config, "green"),
        "role": bluegreen_hook_role(config),
        "pipeline": pipeline(config),
        "build_project": build_project(config),
        "connection": connection(config),
        "notification_rule": notification_rule(config),
        "stack": stack(config, "pipeline"),
    }


# --- pipeline stack -------------------------------------------------------------------------


def stack(config: EnvironmentConfig, name: str) -> str:
    """CloudFormation stack name of one of the environment's stacks (as in the manifest); in a
    per-service view, of that service's ``name`` stack ("<project>-<env>-service-<service>")."""
    return f"{config.env_prefix}-{member_stack(config, name)}"


def member_stack(config: EnvironmentConfig, name: str) -> str:
    """Short (manifest) name of a stack: ``name``, or "<name>-<service>" in a per-service view."""
    return f"{name}-{config.member}" if config.member else name


def pipeline(config: EnvironmentConfig) -> str:
    return f"{config.prefix}-release"


def build_project(config: EnvironmentConfig) -> str:
    return f"{config.prefix}-image"


def release_project(config: EnvironmentConfig, step: str = "") -> str:
    """CodeBuild project of one release step (``step``), or the prefix they share (their log group)."""
    return f"{config.prefix}-release" + (f"-{step}" if step else "")


def connection(config: EnvironmentConfig) -> str:
    """GitHub connection the pipeline stack creates when asked to (names are at most 32 characters)."""
    return f"{config.prefix}-github"


def notification_rule(config: EnvironmentConfig) -> str:
    return f"{config.prefix}-release-failed"


def stack_role_pattern(config: EnvironmentConfig, logical_id: str) -> str:
    """IAM role name pattern of an unnamed role of the service stack: CloudFormation names it
    ``<stack name>-<logical ID>-<random suffix>``. Used where the role's ARN cannot arrive as an
    output (the cloudformation engine's template may have no Outputs)."""
    return f"{stack(config, 'service')}-{logical_id}-*"
