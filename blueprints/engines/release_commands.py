"""The AWS CLI commands of the engines' release steps (CodeBuild projects of the Deploy stage), as
the shell text the buildspecs carry. The engines compose them; the release rehearsal runs them.

Every command reads its inputs from the build's output artifact (the current directory) and from
the project's environment variables named in the arguments (``$SERVICE_STACK``, ``$CLUSTER_NAME``...).
"""

from __future__ import annotations

# CreateChangeSet takes a TemplateBody of at most 51,200 bytes; larger templates go by S3 URL
# (AWS CloudFormation User Guide, "CloudFormation quotas").
TEMPLATE_BODY_LIMIT = 51_200


def change_set_args(stack_variable: str, name: str) -> str:
    return f'--stack-name "${stack_variable}" --change-set-name "{name}"'


def template_source(template: str, stack_variable: str, bucket_variable: str, key_suffix: str) -> str:
    """Sets the bash array TEMPLATE to --template-body, or uploads and sets --template-url."""
    return "\n".join(
        [
            f'if [ "$(wc -c < {template})" -le {TEMPLATE_BODY_LIMIT} ]; then',
            f"  TEMPLATE=(--template-body file://{template})",
            "else",
            f'  KEY="release/${stack_variable}/{key_suffix}.json"',
            f'  aws s3 cp {template} "s3://${bucket_variable}/$KEY" --only-show-errors',
            f'  TEMPLATE=(--template-url "https://${bucket_variable}.s3.$AWS_REGION.amazonaws.com/$KEY")',
            "fi",
        ]
    )


def create_change_set(change_set: str, parameters: str, tags: str, capabilities: list[str], description: str) -> str:
    return (
        f"aws cloudformation create-change-set {change_set} --change-set-type UPDATE "
        f'"${{TEMPLATE[@]}}" --parameters file://{parameters} --tags file://{tags} '
        f"--capabilities {' '.join(capabilities)} "
        f'--description "{description}" --query Id --output text'
    )


def wait_for_change_set(change_set: str) -> str:
    return f"aws cloudformation wait change-set-create-complete {change_set}"


def show_change_set(change_set: str) -> str:
    return (
        f"aws cloudformation describe-change-set {change_set} --query "
        "'Changes[].ResourceChange.[Action,LogicalResourceId,ResourceType,Replacement]' --output table"
    )


def execute_change_set(change_set: str) -> str:
    return f"aws cloudformation execute-change-set {change_set}"


def delete_other_change_sets(stack_variable: str, prefix: str, keep: str) -> str:
    """Deletes the stack's change sets named ``prefix``* except ``keep``."""
    return "\n".join(
        [
            f'for name in $(aws cloudformation list-change-sets --stack-name "${stack_variable}" --query '
            f"\"Summaries[?starts_with(ChangeSetName, '{prefix}') && "
            f"ChangeSetName != '{keep}'].ChangeSetName\" --output text); do",
            f'  aws cloudformation delete-change-set --stack-name "${stack_variable}" --change-set-name "$name"',
            "done",
        ]
    )


def wait_for_stack_update(stack_variable: str) -> str:
    """Polls until the stack leaves *_IN_PROGRESS; fails unless it reached UPDATE_COMPLETE. Bounded by
    the project's timeout, not by the CLI waiter's 60 minutes (a green deployment can take longer)."""
    status = (
        f'status="$(aws cloudformation describe-stacks --stack-name "${stack_variable}" '
        "--query 'Stacks[0].StackStatus' --output text)\""
    )
    return "\n".join(
        [
            status,
            'while [[ "$status" == *_IN_PROGRESS ]]; do',
            "  sleep 15",
            f"  {status}",
            f'  echo "${stack_variable}: $status"',
            "done",
            'test "$status" = UPDATE_COMPLETE || { echo "the release did not complete: $status"; exit 1; }',
        ]
    )


def register_task_definition(taskdef: str) -> str:
    return (
        f'TASK_DEFINITION_ARN="$(aws ecs register-task-definition --cli-input-json file://{taskdef} '
        '--query taskDefinition.taskDefinitionArn --output text)"'
    )


def update_service(cluster_variable: str, service_variable: str) -> str:
    return (
        f'aws ecs update-service --cluster "${cluster_variable}" --service "${service_variable}" '
        '--task-definition "$TASK_DEFINITION_ARN" --query service.taskDefinition --output text'
    )


# The states of an ECS service deployment (Amazon ECS Developer Guide, "View service history using
# Amazon ECS service deployments": https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-deployment.html):
# pending and ongoing ones are waited for; a completed one is SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL or
# ROLLBACK_FAILED. Only SUCCESSFUL passes; any other answer (an unknown one included) fails the step.
SERVICE_DEPLOYMENT_WAITING = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_IN_PROGRESS")
SERVICE_DEPLOYMENT_COMPLETED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
# How far back ListServiceDeployments looks for the deployment UpdateService just started (createdAt
# filter): the update ran seconds before; the margin absorbs the build host's clock skew.
SERVICE_DEPLOYMENT_LOOKBACK_MINUTES = 15
POLL_SECONDS = 15


def wait_for_ecs_deployment(cluster_variable: str, service_variable: str, deadline_minutes: int) -> str:
    """Waits for ECS's verdict on the service deployment of exactly $TASK_DEFINITION_ARN; fails unless
    it ends SUCCESSFUL, and gives up after ``deadline_minutes`` (set inside the project's timeout, so
    the step says why it stopped). Sets SERVICE_DEPLOYMENT_ARN.

    A blue/green, linear or canary deployment reports no Deployment.rolloutState (returned for the
    rolling update type only: ECS API reference, Deployment); its status is the service deployment's.
    UpdateService's response names no service deployment (botocore's ecs model: Service has no such
    member), so the step finds it: ListServiceDeployments (filtered by service, cluster and createdAt)
    gives each deployment's targetServiceRevisionArn, DescribeServiceRevisions gives each revision's
    taskDefinition ("This API returns the values that you use for the request parameters in
    DescribeServiceRevisions"; at most 20 ARNs), and DescribeServiceDeployments gives its status:
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html
    https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceDeployments.html
    A deployment of any other task definition (an earlier release, a stack update) is ignored."""
    service = f'--cluster "${cluster_variable}" --service "${service_variable}"'
    waiting = "|".join(SERVICE_DEPLOYMENT_WAITING)
    give_up = '[ "$SECONDS" -ge "$deadline" ]'
    return "\n".join(
        [
            f"deadline=$((SECONDS + {deadline_minutes} * 60))",
            f"since=\"$(date -u -d '{SERVICE_DEPLOYMENT_LOOKBACK_MINUTES} minutes ago' +%Y-%m-%dT%H:%M:%SZ)\"",
            "SERVICE_DEPLOYMENT_ARN=",
            'while [ -z "$SERVICE_DEPLOYMENT_ARN" ]; do',
            f'  listed="$(aws ecs list-service-deployments {service} --created-at "after=$since" --max-results 20 '
            "--query 'serviceDeployments[].[serviceDeploymentArn,targetServiceRevisionArn]' --output text)\"",
            '  if [ -n "$listed" ]; then',
            '    target="$(aws ecs describe-service-revisions --service-revision-arns $(echo "$listed" | cut -f2) '
            "--query \"serviceRevisions[?taskDefinition=='$TASK_DEFINITION_ARN'].serviceRevisionArn | [0]\" "
            '--output text)"',
            '    SERVICE_DEPLOYMENT_ARN="$(echo "$listed" | awk -F \'\\t\' -v target="$target" '
            "'$2 == target { print $1; exit }')\"",
            "  fi",
            '  if [ -z "$SERVICE_DEPLOYMENT_ARN" ]; then',
            f'    {give_up} && {{ echo "ECS started no service deployment of $TASK_DEFINITION_ARN on '
            f'${service_variable} within {deadline_minutes} minutes"; exit 1; }}',
            f"    sleep {POLL_SECONDS}",
            "  fi",
            "done",
            'echo "service deployment of $TASK_DEFINITION_ARN: $SERVICE_DEPLOYMENT_ARN"',
            "while true; do",
            '  read -r status reason <<< "$(aws ecs describe-service-deployments --service-deployment-arns '
            '"$SERVICE_DEPLOYMENT_ARN" --query \'serviceDeployments[0].[status,statusReason]\' --output text)"',
            '  echo "$SERVICE_DEPLOYMENT_ARN: $status"',
            f'  case "$status" in {waiting}) ;; *) break ;; esac',
            f'  {give_up} && {{ echo "gave up after {deadline_minutes} minutes: the service deployment of '
            '$TASK_DEFINITION_ARN is still $status"; exit 1; }',
            f"  sleep {POLL_SECONDS}",
            "done",
            'test "$status" = SUCCESSFUL || { echo "ECS did not deploy $TASK_DEFINITION_ARN: service deployment '
            '$SERVICE_DEPLOYMENT_ARN ended $status ($reason)"; exit 1; }',
        ]
    )
