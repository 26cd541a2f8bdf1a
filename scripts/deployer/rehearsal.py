"""``fargate-deploy rehearse``: the environment's release, run on a local emulator the way AWS would.

    fargate-deploy rehearse --env ENV [--stack NAME]... [--out-dir DIR] [--scan-findings clean|high]

It reads only out/<env>/ (templates and manifest). A release is one pipeline stack (a template with
an AWS::CodePipeline::Pipeline) and the service stack it releases: the one stack with an
AWS::ECS::Service among the stacks its manifest entry depends on. An environment has one release per
service; every one is rehearsed, in manifest order, unless ``--stack`` names some (a pipeline stack or
the service stack it releases). On moto 5.2.5 in this process (deployer.rehearsal_emulator,
127.0.0.1 only) the rehearsal:

1. deploys out/<env> (every stack) as ``fargate-deploy apply --local-endpoint URL --yes`` does (the
   deployer's own commands, through deployer.emulator.EmulatorProvider);
2. then, for each release in turn, on the same emulator: emulates the release before this one
   (deployer.rehearsal_check) and the Source action; runs every later action of the pipeline
   template in stage and RunOrder order: CodeBuild projects' buildspecs for real
   (deployer.rehearsal_build: bash, the real AWS CLI, a docker stand-in that pushes to the
   emulator's ECR, the scan gate), deploy actions by the interpreter of their provider's contract
   (deployer.rehearsal_deploy), manual approvals approved; after an action that gave the service a
   new task definition, emulates its deployment controller's traffic move on exactly the listener
   rules the service stack names (deployer.rehearsal_traffic); checks that the service runs the
   image it pushed, in out/'s task definition.

Exit codes: 0 every release reached its service; 1 a step failed (named, with the AWS document it
follows, and the release when there are several; later releases are not run), including an
environment that does not deploy on the emulator; 2 bad usage or input. Each step prints one line,
marked as executed on the emulator, checked against a contract, or emulated; a summary of the three
closes each release.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from . import FAILED, INTERRUPTED, OK, USAGE, UserError
from . import manifest as out_tree
from .manifest import Manifest, StackEntry
from .rehearsal_actions import Release, codebuild, manual_approval, project_buildspec, source
from .rehearsal_build import Workspace
from .rehearsal_check import final_check, previous_release, running_task_definition
from .rehearsal_deploy import bluegreen_transform, cloudformation, codedeploy_to_ecs, ecs_standard
from .rehearsal_model import Action, Journal, RehearsalInputError, StepFailedError, pipeline_actions, read_stack
from .rehearsal_traffic import move_traffic
from .reporter import Reporter

SCAN_FINDINGS = ("clean", "high")
PIPELINE = "AWS::CodePipeline::Pipeline"
SERVICE = "AWS::ECS::Service"
INTERPRETERS: dict[tuple[str, str], Callable[[Release, Action], None]] = {
    ("Build", "CodeBuild"): codebuild,
    ("Test", "CodeBuild"): codebuild,
    ("Approval", "Manual"): manual_approval,
    ("Deploy", "CodeDeployToECS"): codedeploy_to_ecs,
    ("Deploy", "ECS"): ecs_standard,
    ("Deploy", "CloudFormation"): cloudformation,
}


@dataclass
class Target:
    """One release: a pipeline stack, the service stack it releases, and the pipeline's actions."""

    pipeline: StackEntry
    service: StackEntry
    actions: list[Action]

    @property
    def label(self) -> str:
        return f"{self.service.name} by {self.pipeline.name}"


# Called before and after each release, on the running emulator: ("before" | "after", target, endpoint).
Observer = Callable[[str, Target, str], None]


def _with_resource(stacks: list[StackEntry], kind: str) -> list[StackEntry]:
    return [e for e in stacks if any(r.get("Type") == kind for r in e.template.get("Resources", {}).values())]


def _service_of(pipeline: StackEntry, services: list[StackEntry], folder: Path) -> StackEntry:
    """The service stack a pipeline releases: the one with an AWS::ECS::Service among those it
    depends on (the manifest's depends_on names the stack a pipeline names by value)."""
    released = [s for s in services if s.name in pipeline.depends_on]
    if len(released) == 1:
        return released[0]
    if not services:
        raise RehearsalInputError(f"{folder}/stacks.json: expected one service stack (AWS::ECS::Service), found 0")
    named = ", ".join(s.name for s in released) or "none"
    raise RehearsalInputError(
        f"{folder}/stacks.json: pipeline stack {pipeline.name} depends on {len(released)} service stacks "
        f"(AWS::ECS::Service: {named}); a release needs exactly one"
    )


def _selected(targets: list[Target], chosen: list[str] | None, folder: Path) -> list[Target]:
    if not chosen:
        return targets
    names = {t.pipeline.name: t for t in targets} | {t.service.name: t for t in targets}
    unknown = [name for name in chosen if name not in names]
    if unknown:
        releases = ", ".join(f"{t.pipeline.name} (releases {t.service.name})" for t in targets)
        raise RehearsalInputError(
            f"{folder}/stacks.json: --stack {unknown[0]} names no release to rehearse (a pipeline stack or the "
            f"service stack it releases: {releases})"
        )
    wanted = {id(names[name]) for name in chosen}
    return [t for t in targets if id(t) in wanted]


def prepare(out_dir: Path, env: str, stacks: list[str] | None = None) -> tuple[Manifest, list[Target]]:
    """Everything checked before the emulator starts: the manifest and templates, the releases
    (each pipeline stack with the service stack it releases; those ``stacks`` names, else every
    one), and each pipeline's Build stage CodeBuild action with an inline buildspec.
    Raises UserError or RehearsalInputError (exit 2)."""
    loaded = out_tree.load(out_dir, env)
    folder = out_dir / env
    pipelines = _with_resource(loaded.stacks, PIPELINE)
    services = _with_resource(loaded.stacks, SERVICE)
    if not pipelines:
        raise RehearsalInputError(f"{folder}/stacks.json: no pipeline stack (a template with {PIPELINE})")
    targets = []
    for pipeline in pipelines:
        service = _service_of(pipeline, services, folder)
        targets.append(Target(pipeline, service, pipeline_actions(pipeline.template)))
    targets = _selected(targets, stacks, folder)
    for target in targets:
        pipeline, actions = target.pipeline, target.actions
        if not [a for a in actions if a.stage == "Build" and a.provider == "CodeBuild"]:
            raise RehearsalInputError(
                f"{pipeline.template_path}: the pipeline has no Build stage with a CodeBuild action"
            )
        for action in actions:
            if action.category != "Source" and (action.category, action.provider) not in INTERPRETERS:
                raise RehearsalInputError(
                    f"{action.label}: the rehearsal has no interpreter for {action.category}/{action.provider}"
                )
            if action.provider == "CodeBuild":
                # Parsed now so that a broken buildspec is bad input (exit 2), not a failed release.
                project_buildspec(pipeline, action)
    return loaded, targets


def _deploy(loaded: Manifest, endpoint: str, say: Callable[..., None]) -> str | None:
    """out/<env> onto the emulator, exactly as `fargate-deploy apply --local-endpoint URL --yes`;
    the journal line of it, or None when it failed (the deploy output's tail was shown)."""
    from .changesets import Options
    from .commands import apply
    from .context import Context
    from .emulator import EmulatorProvider
    from .waiting import Waiter

    provider = EmulatorProvider(endpoint)
    captured = io.StringIO()
    ctx = Context(
        loaded,
        provider.clients(None),
        Options(bucket=None, keep=False, allow_replacement=False),
        Waiter(timeout=600),
        yes=True,
        provider=provider,
        reporter=Reporter(out=captured, err=captured),
    )
    code = apply(ctx)
    stacks = ", ".join(e.stack_name for e in loaded.stacks)
    if code != OK:
        lines = [line for line in captured.getvalue().splitlines() if line.strip()]
        say("deploy: FAILED — fargate-deploy apply --local-endpoint URL --yes:")
        say(*("    | " + line for line in lines[-15:]))
        return None
    line = f"deploy: fargate-deploy apply --local-endpoint {endpoint} --yes → {stacks}"
    say(line)
    return line


def _source_tree(ws: Workspace, pipeline: StackEntry, actions: list[Action]) -> None:
    """The stand-in application source: a Dockerfile wherever a buildspec's DOCKERFILE names one."""
    paths = {"Dockerfile"}
    for action in actions:
        if action.provider == "CodeBuild":
            variables = (project_buildspec(pipeline, action).get("env") or {}).get("variables") or {}
            context = str(variables.get("BUILD_CONTEXT", "."))
            paths.add(str(variables.get("DOCKERFILE", "Dockerfile")))
            (ws.root / "source" / context).mkdir(parents=True, exist_ok=True)
    for path in paths:
        target = ws.root / "source" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("# stand-in of the application's Dockerfile (release rehearsal)\nFROM scratch\n")


def _summary(journal: Journal, say: Callable[..., None]) -> None:
    for title, lines in (
        ("executed on the emulator", journal.executed),
        ("checked against a contract", journal.checked),
        ("emulated", journal.emulated),
    ):
        say(f"{title}:", *(f"  - {line}" for line in lines or ["(nothing)"]))


def rehearse(
    out_dir: Path,
    env: str,
    scan_findings: str = "clean",
    reporter: Reporter | None = None,
    stacks: list[str] | None = None,
    observe: Observer | None = None,
    service_deployment_outcome: str = "SUCCESSFUL",
) -> int:
    """The library entry point of ``make rehearse`` (and of the tests): the exit code. ``stacks``:
    the releases to rehearse (pipeline or service stack names; default every one); ``observe``: called
    before and after each release with the emulator's endpoint (the tests read the emulator there);
    ``service_deployment_outcome``: how the emulated ECS service deployments end (gap 13; the tests
    rehearse a rollback with ROLLBACK_SUCCESSFUL)."""
    reporter = reporter or Reporter()
    if scan_findings not in SCAN_FINDINGS:
        reporter.warn(f"fargate-deploy rehearse: error: --scan-findings must be one of {', '.join(SCAN_FINDINGS)}")
        return USAGE
    try:
        loaded, targets = prepare(out_dir, env, stacks)
    except (UserError, RehearsalInputError) as exc:
        reporter.warn(f"fargate-deploy rehearse: error: {exc}")
        return USAGE
    from .rehearsal_emulator import MOTO_VERSION, rehearsal_server

    try:
        with (
            tempfile.TemporaryDirectory(prefix="rehearsal-") as tmp,
            rehearsal_server(service_deployment_outcome) as endpoint,
        ):
            # Releases are named when there are several, or when --stack chose some.
            several = len(targets) > 1 or bool(stacks)
            reporter.say(
                f"rehearse {env}: {out_dir / env} on moto {MOTO_VERSION} in this process at {endpoint}; "
                "nothing reaches AWS" + (f"; releases: {', '.join(t.label for t in targets)}" if several else "")
            )
            code = _rehearse_all(reporter, loaded, targets, Path(tmp), endpoint, scan_findings, observe, several)
    except KeyboardInterrupt:
        reporter.warn("\nStopped: the rehearsal's emulator is stopped with it; nothing ran outside this machine.")
        return INTERRUPTED
    reporter.say("LOCAL EMULATOR stopped; everything deployed to it is gone.")
    return code


def _rehearse_all(
    reporter: Reporter,
    loaded: Manifest,
    targets: list[Target],
    tmp: Path,
    endpoint: str,
    scan_findings: str,
    observe: Observer | None,
    several: bool,
) -> int:
    env = loaded.env
    deployed = _deploy(loaded, endpoint, reporter.say)
    if deployed is None:
        reporter.warn(
            f"fargate-deploy rehearse: {env} cannot be rehearsed: out/{env} does not deploy on the emulator "
            "(the deploy output above names the stack and the reason; see README, Deploying)"
        )
        return FAILED
    for index, target in enumerate(targets):
        if several:
            reporter.say(
                f"-- release {index + 1} of {len(targets)}: {target.service.stack_name} by "
                f"{target.pipeline.stack_name} --"
            )
        ws = Workspace(tmp / target.pipeline.name, endpoint, target.pipeline.region, scan_findings)
        if observe:
            observe("before", target, endpoint)
        code = _Run(reporter, loaded, target, ws, deployed, several).run()
        if code != OK:
            left = [t.label for t in targets[index + 1 :]]
            if left:
                reporter.warn(f"fargate-deploy rehearse: not rehearsed after this failure: {', '.join(left)}")
            return code
        if observe:
            observe("after", target, endpoint)
    if len(targets) > 1:
        reporter.say(f"rehearse {env}: every release reached its service ({', '.join(t.label for t in targets)})")
    return OK


class _Run:
    """One release on a started emulator with the environment deployed; ``run`` maps every outcome to
    an exit code."""

    def __init__(
        self, reporter: Reporter, loaded: Manifest, target: Target, ws: Workspace, deployed: str, several: bool
    ):
        self.reporter, self.loaded, self.target, self.ws = reporter, loaded, target, ws
        self.actions = target.actions
        self.several = several
        self.step = "deploy"
        self.journal = Journal(executed=[deployed])

    @property
    def _where(self) -> str:
        return f" (release of {self.target.label})" if self.several else ""

    def run(self) -> int:
        try:
            return self._release()
        except StepFailedError as exc:
            _summary(self.journal, self.reporter.say)
            self.reporter.warn(
                f"fargate-deploy rehearse: FAILED at {exc.step}{self._where}: {exc.reason}",
                f"  AWS document: {exc.doc}",
            )
            return FAILED
        except RehearsalInputError as exc:
            self.reporter.warn(f"fargate-deploy rehearse: error: {exc}")
            return USAGE
        except (ClientError, BotoCoreError) as exc:
            self.reporter.warn(
                f"fargate-deploy rehearse: FAILED at {self.step}{self._where}: the emulator answered: {exc}"
            )
            return FAILED

    def _release(self) -> int:
        say, ws, env = self.reporter.say, self.ws, self.loaded.env
        from .emulator import EmulatorProvider

        provider = EmulatorProvider(ws.endpoint)
        aws = provider.clients(None)
        ws.setup()
        pipeline_entry, service_entry = self.target.pipeline, self.target.service
        _source_tree(ws, pipeline_entry, self.actions)
        release = Release(
            ws=ws,
            aws=aws,
            pipeline=read_stack(aws, provider, pipeline_entry),
            service=read_stack(aws, provider, service_entry),
            journal=self.journal,
            say=say,
            commit=uuid.uuid4().hex + uuid.uuid4().hex[:8],
            execution_id=str(uuid.uuid4()),
        )
        self.step = "previous release"
        bootstrap = previous_release(release)
        for action in self.actions:
            self.step = action.label
            if action.category == "Source":
                source(release, action)
                continue
            before = dict(release.service.resources)
            running = running_task_definition(release)
            INTERPRETERS[(action.category, action.provider)](release, action)
            # A deploy action may have updated the service stack (its image, its task definition).
            release.service = read_stack(aws, provider, service_entry)
            bluegreen_transform(release, action.label, before)
            if running_task_definition(release) != running:  # a deployment: its controller moves traffic
                move_traffic(release, action.label)
        if ws.sleeps():
            release.emulated(
                f"time: {len(ws.sleeps())} `sleep` call(s) in the release's commands shortened to 0.05 s "
                "(the emulator completes every operation at once)"
            )
        self.step = "final check"
        final_check(release, bootstrap)
        _summary(release.journal, say)
        if self.several:
            say(f"rehearse {env}: the release of {service_entry.name} ({pipeline_entry.name}) reached the service")
        else:
            say(f"rehearse {env}: the release reached the service")
        return OK
