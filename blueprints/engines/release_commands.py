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


def wait_for_ecs_deployment(cluster_variable: str, service_variable: str) -> str:
    """Polls the deployment of $TASK_DEFINITION_ARN until it leaves IN_PROGRESS; fails unless
    COMPLETED (ECS rolled back, or the deployment is gone)."""
    return "\n".join(
        [
            "state=IN_PROGRESS",
            'while [ "$state" = IN_PROGRESS ]; do',
            "  sleep 15",
            f'  state="$(aws ecs describe-services --cluster "${cluster_variable}" --services "${service_variable}" '
            "--query \"services[0].deployments[?taskDefinition=='$TASK_DEFINITION_ARN'] | [0].rolloutState\" "
            '--output text)"',
            '  echo "deployment of $TASK_DEFINITION_ARN: $state"',
            "done",
            'test "$state" = COMPLETED || { echo "ECS did not complete the deployment (rolled back or failed)"; '
            "exit 1; }",
        ]
    )
