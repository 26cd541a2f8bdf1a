"""Change-set deployment of out/<env>/ (see fargate-deploy for the command line).

Modules, from the command line down:

- cli: arguments, the choice of deployment target, exit codes.
- context: what every command shares (manifest, clients, options, waiter, provider, reporter).
- commands: plan and apply (plan every stack, ask the policy, hand over to the scheduler).
- inspect_cmds: status, outputs, diff and destroy; drift: the drift command (drift a release makes
  is expected); staleness: plan/apply's stale guard (fargate-generate --check, as a subprocess).
- scheduler: dependency-ordered, concurrent apply across stacks (waits for upstreams, replans);
  environments: apply of several environments at once (one confirmation, shared stack slots).
- executor: applying one stack (execute its change set, wait, report, termination protection,
  stack policy).
- changesets: planning one stack (parameters, change set, judging it); rollback: its rollback
  triggers (the stack's alarms as ARNs).
- stack_policy: the manifest's stack policy and the one-execution --allow-replacement override;
  retention: what destroy leaves behind, its adoption by the next create, gap 25.
- plans: the plan model (Plan, PlanState, ChangeKind).
- policy: every refusal, as pure functions over plans, change sets and templates; update_rules (what
  an update replaces or an API rejects, from the deployed and planned templates) and routing (live
  listener routing) are its day-2 rules, day2 fetches their facts (GetTemplate, ELB reads).
  environment_checks: the apply against the rest of its environment (listener-rule priorities on
  shared listeners and the order they impose, stacks outside the manifest, dependencies --stack leaves
  out), over what day2.environment reads.
- widening: the access changes of an update (IAM grants, security-group ingress; plan's table) and
  apply's widening gate (exit 2 without --allow-widening).
- template_values: template values as a stack sees them (parameters resolved, out/'s line joins
  joined), shared by changes and widening.
- render: what the user reads, as lines; reporter: writes them (thread-safe); changes: the value-level
  change model (each changed property, parameter and tag as before -> after) that plan and diff render.
- provider: the deployment target's interface and CloudFormation's implementation.
- emulator: the local emulator's implementation (moto 5.2.5 gaps, day-2 gaps 19–22; emulator_leftovers: gap
  28, what moto's DeleteStack leaves behind; emulator_rules: gap 29, a rule's new priority;
  emulator_templates: templates as the emulator takes them, gap 30); local_server: its process.
- up_to_date: apply's quick look at an environment that is already up to date, over query_api (a
  read-only, SigV4-signed CloudFormation client that needs no botocore client).
- manifest: reading out/<env>/ (through blueprints.manifest); aws: clients and S3 upload;
  waiting: polling, events, failures.
- rehearsal: the rehearse command (the release of out/<env>/ on an in-process emulator), with
  rehearsal_model (steps, journal, deployed stacks, pipeline actions), rehearsal_build (buildspecs),
  rehearsal_docker (the docker stand-in), rehearsal_actions (Source, CodeBuild, approval),
  rehearsal_deploy (CodeDeployToECS, ECS, CloudFormation), rehearsal_traffic (a deployment's traffic
  move on the service stack's own listener rules), rehearsal_check (before and after the release) and
  rehearsal_emulator (the in-process moto and the release path's gaps 13–18; gap 13, ECS service
  deployments, in rehearsal_service_deployments). One release per
  pipeline stack; an environment with several services has several.
"""

OK, FAILED, USAGE, CHANGES, INTERRUPTED = 0, 1, 2, 3, 130


class UserError(Exception):
    """Bad usage or bad input: reported in one line, exit code 2, nothing deployed."""
