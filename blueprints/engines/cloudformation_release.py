"""What the caller of a cloudformation-engine release (the pipeline's release role) needs: the
AWS::CodeDeployBlueGreen transform's green deployment runs with its caller's credentials (AWS
CloudFormation User Guide, "Perform ECS blue/green deployments through CodeDeploy using
CloudFormation": permissions). Apart from the engine module so that it stays about building."""

from __future__ import annotations

from typing import TYPE_CHECKING

from awacs import codedeploy as awscodedeploy
from awacs import ecs as awsecs
from awacs import elasticloadbalancing as awselb
from awacs import iam as awsiam
from awacs.aws import Statement
from troposphere import Sub

from .. import naming, roles
from ..stacks import pipeline_actions as actions
from .base import ARN, ServiceHandles

if TYPE_CHECKING:
    from ..config import EnvironmentConfig


def green_deployment_statements(config: EnvironmentConfig, shared: ServiceHandles) -> list[Statement]:
    """What CloudFormation does with the release role's credentials (the stack has no role: see
    ``deploy_actions``) when a release changes the image: replace the task definition and run the
    green deployment -- task sets, both listeners, the task roles -- nothing else (other changes
    go through the deployer, whose caller has the rights for them). The transform's green
    deployment acts as its caller (AWS CloudFormation User Guide, "Perform ECS blue/green
    deployments through CodeDeploy using CloudFormation": permissions)."""
    service_arn, task_sets = actions.service_arns()
    role_arn = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/%s"
    # The service template has no Outputs, so its task roles are matched by the names CloudFormation
    # gives unnamed roles (<stack name>-<logical ID>-<suffix>) and its listeners by the load
    # balancer's deterministic name.
    task_roles = [
        Sub(role_arn % naming.stack_role_pattern(config, logical_id))
        for logical_id in (shared.task_role.title, shared.task_execution_role.title)
    ]
    load_balancer = naming.load_balancer(config)
    return [
        # CreateCloudFormationDeployment and GetDeploymentTarget have no resource types in the IAM
        # authorization data: AWS grants them only on "*".
        roles.allow([awscodedeploy.CreateCloudFormationDeployment, awscodedeploy.GetDeploymentTarget], ["*"]),
        # The rest of codedeploy:Get*, which the same page requires. The transform names the
        # CodeDeploy application and deployment group itself, so they are not known in advance:
        # scoped to this account and region.
        roles.allow(
            [
                awscodedeploy.GetApplication,
                awscodedeploy.GetApplicationRevision,
                awscodedeploy.GetDeployment,
                awscodedeploy.GetDeploymentConfig,
                awscodedeploy.GetDeploymentGroup,
                awscodedeploy.GetDeploymentInstance,
                awscodedeploy.GetOnPremisesInstance,
            ],
            [Sub(ARN % ("codedeploy", "*"))],
        ),
        *actions.task_definition_statements(),
        # DeregisterTaskDefinition (the replaced revision) has no resource-level permissions.
        roles.allow([awsecs.DeregisterTaskDefinition], ["*"]),
        roles.allow(
            [
                awsecs.DescribeServices,
                awsecs.CreateTaskSet,
                awsecs.DeleteTaskSet,
                awsecs.UpdateTaskSet,
                awsecs.DescribeTaskSets,
                awsecs.UpdateServicePrimaryTaskSet,
                # The green task set is created with the service's tags.
                awsecs.TagResource,
            ],
            [service_arn, task_sets],
        ),
        # Test traffic, then production traffic, move by rewriting the two listeners (and rules).
        # Describe* of Elastic Load Balancing has no resource-level permissions.
        roles.allow([awselb.DescribeListeners, awselb.DescribeRules, awselb.DescribeTargetGroups], ["*"]),
        roles.allow(
            [awselb.ModifyListener, awselb.ModifyRule],
            [
                Sub(ARN % ("elasticloadbalancing", f"listener/app/{load_balancer}/*")),
                Sub(ARN % ("elasticloadbalancing", f"listener-rule/app/{load_balancer}/*")),
            ],
        ),
        # Registering the green task definition reads and passes its roles.
        roles.allow([awsiam.GetRole], task_roles),
        actions.pass_task_roles(task_roles),
        # The green deployment runs as the hook's ServiceRole (a role name in Hooks).
        roles.pass_role([Sub(role_arn % naming.bluegreen_hook_role(config))], "codedeploy.amazonaws.com"),
    ]
