"""Change-set deployment of out/<env>/ (see fargate-deploy for the command line).

Modules, from the command line down:

- cli: arguments, the choice of deployment target, exit codes.
- context: what every command shares (manifest, clients, options, waiter, provider, reporter).
- commands: plan and apply (plan every stack, ask the policy, hand over to the scheduler).
- inspect_cmds: status, outputs, diff and destroy.
- scheduler: dependency-ordered, concurrent apply across stacks (waits for upstreams, replans).
- executor: applying one stack (execute its change set, wait, report, termination protection).
- changesets: planning one stack (parameters, change set, judging it).
- plans: the plan model (Plan, PlanState, ChangeKind).
- policy: every refusal, as pure functions over plans, change sets and templates.
- render: what the user reads, as lines; reporter: writes them (thread-safe).
- provider: the deployment target's interface and CloudFormation's implementation.
- emulator: the local emulator's implementation (moto 5.2.5 gaps); local_server: its process.
- manifest: reading out/<env>/ (through blueprints.manifest); aws: clients and S3 upload;
  waiting: polling, events, failures.
- rehearsal: the rehearse command (the release of out/<env>/ on an in-process emulator), with
  rehearsal_model (steps, journal, deployed stacks, pipeline actions), rehearsal_build (buildspecs),
  rehearsal_docker (the docker stand-in), rehearsal_actions (Source, CodeBuild, approval),
  rehearsal_deploy (CodeDeployToECS, ECS, CloudFormation), rehearsal_check (before and after the
  release) and rehearsal_emulator (the in-process moto and the release path's gaps 13–18).
"""

OK, FAILED, USAGE, CHANGES, INTERRUPTED = 0, 1, 2, 3, 130


class UserError(Exception):
    """Bad usage or bad input: reported in one line, exit code 2, nothing deployed."""
