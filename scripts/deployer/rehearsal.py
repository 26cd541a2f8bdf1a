"""``fargate-deploy rehearse``: the environment's release, run on a local emulator the way AWS would.

    fargate-deploy rehearse --env ENV [--out-dir DIR] [--scan-findings clean|high]

It reads only out/<env>/ (templates and manifest) and, on moto 5.2.5 in this process
(deployer.rehearsal_emulator, 127.0.0.1 only):

1. deploys out/<env> as ``fargate-deploy apply --local-endpoint URL --yes`` does (the deployer's
   own commands, through deployer.emulator.EmulatorProvider);
2. emulates the release before this one (deployer.rehearsal_check) and the Source action;
3. runs every later action of the pipeline template in stage and RunOrder order: CodeBuild
   projects' buildspecs for real (deployer.rehearsal_build: bash, the real AWS CLI, a docker
   stand-in that pushes to the emulator's ECR, the scan gate), deploy actions by the interpreter
   of their provider's contract (deployer.rehearsal_deploy), manual approvals approved;
4. checks that the service runs the image it pushed, in out/'s task definition.

Exit codes: 0 the release reached the service; 1 a step failed (named, with the AWS document it
follows), including an environment that does not deploy on the emulator; 2 bad usage or input.
Each step prints one line, marked as executed on the emulator, checked against a contract, or
emulated; a summary of the three closes the output.
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from . import FAILED, INTERRUPTED, OK, USAGE, UserError
from . import manifest as out_tree
from .manifest import Manifest, StackEntry
from .rehearsal_actions import Release, codebuild, manual_approval, project_buildspec, source
from .rehearsal_build import Workspace
from .rehearsal_check import final_check, previous_release
from .rehearsal_deploy import bluegreen_transform, cloudformation, codedeploy_to_ecs, ecs_standard
from .rehearsal_model import Action, Journal, RehearsalInputError, StepFailedError, pipeline_actions, read_stack
from .reporter import Reporter

SCAN_FINDINGS = ("clean", "high")
INTERPRETERS: dict[tuple[str, str], Callable[[Release, Action], None]] = {
    ("Build", "CodeBuild"): codebuild,
    ("Test", "CodeBuild"): codebuild,
    ("Approval", "Manual"): manual_approval,
    ("Deploy", "CodeDeployToECS"): codedeploy_to_ecs,
    ("Deploy", "ECS"): ecs_standard,
    ("Deploy", "CloudFormation"): cloudformation,
}


def _with_resource(loaded: Manifest, kind: str) -> list[StackEntry]:
    return [e for e in loaded.stacks if any(r.get("Type") == kind for r in e.template.get("Resources", {}).values())]


def prepare(out_dir: Path, env: str) -> tuple[Manifest, StackEntry, StackEntry, list[Action]]:
    """Everything checked before the emulator starts: the manifest and templates, one pipeline
    stack and one service stack, and the Build stage's CodeBuild action with an inline buildspec.
    Raises UserError or RehearsalInputError (exit 2)."""
    loaded = out_tree.load(out_dir, env)
    pipelines = _with_resource(loaded, "AWS::CodePipeline::Pipeline")
    services = _with_resource(loaded, "AWS::ECS::Service")
    folder = out_dir / env
    if len(pipelines) != 1:
        raise RehearsalInputError(
            f"{folder}/stacks.json: no pipeline stack (a template with AWS::CodePipeline::Pipeline)"
        )
    if len(services) != 1:
        raise RehearsalInputError(
            f"{folder}/stacks.json: expected one service stack (AWS::ECS::Service), found {len(services)}"
        )
    actions = pipeline_actions(pipelines[0].template)
    builds = [a for a in actions if a.stage == "Build" and a.provider == "CodeBuild"]
    if not builds:
        raise RehearsalInputError(
            f"{pipelines[0].template_path}: the pipeline has no Build stage with a CodeBuild action"
        )
    for action in actions:
        if action.category != "Source" and (action.category, action.provider) not in INTERPRETERS:
            raise RehearsalInputError(
                f"{action.label}: the rehearsal has no interpreter for {action.category}/{action.provider}"
            )
        if action.provider == "CodeBuild":
            # Parsed now so that a broken buildspec is bad input (exit 2), not a failed release.
            project_buildspec(pipelines[0], action)
    return loaded, pipelines[0], services[0], actions


def _deploy(loaded: Manifest, endpoint: str, say: Callable[..., None], journal: Journal) -> bool:
    """out/<env> onto the emulator, exactly as `fargate-deploy apply --local-endpoint URL --yes`."""
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
        return False
    line = f"deploy: fargate-deploy apply --local-endpoint {endpoint} --yes → {stacks}"
    journal.executed.append(line)
    say(line)
    return True


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


def rehearse(out_dir: Path, env: str, scan_findings: str = "clean", reporter: Reporter | None = None) -> int:
    """The library entry point of ``make rehearse`` (and of the tests): the exit code."""
    reporter = reporter or Reporter()
    if scan_findings not in SCAN_FINDINGS:
        reporter.warn(f"fargate-deploy rehearse: error: --scan-findings must be one of {', '.join(SCAN_FINDINGS)}")
        return USAGE
    try:
        loaded, pipeline, service, actions = prepare(out_dir, env)
    except (UserError, RehearsalInputError) as exc:
        reporter.warn(f"fargate-deploy rehearse: error: {exc}")
        return USAGE
    from .rehearsal_emulator import MOTO_VERSION, rehearsal_server

    try:
        with tempfile.TemporaryDirectory(prefix="rehearsal-") as tmp, rehearsal_server() as endpoint:
            reporter.say(
                f"rehearse {env}: {out_dir / env} on moto {MOTO_VERSION} in this process at {endpoint}; "
                "nothing reaches AWS"
            )
            ws = Workspace(Path(tmp), endpoint, pipeline.region, scan_findings)
            code = _Run(reporter, loaded, pipeline, service, actions, ws).run()
    except KeyboardInterrupt:
        reporter.warn("\nStopped: the rehearsal's emulator is stopped with it; nothing ran outside this machine.")
        return INTERRUPTED
    reporter.say("LOCAL EMULATOR stopped; everything deployed to it is gone.")
    return code


class _Run:
    """One rehearsal on a started emulator; ``run`` maps every outcome to an exit code."""

    def __init__(
        self,
        reporter: Reporter,
        loaded: Manifest,
        pipeline: StackEntry,
        service: StackEntry,
        actions: list[Action],
        ws: Workspace,
    ):
        self.reporter, self.loaded, self.actions, self.ws = reporter, loaded, actions, ws
        self.pipeline_entry, self.service_entry = pipeline, service
        self.step = "deploy"
        self.journal = Journal()

    def run(self) -> int:
        try:
            return self._release()
        except StepFailedError as exc:
            _summary(self.journal, self.reporter.say)
            self.reporter.warn(
                f"fargate-deploy rehearse: FAILED at {exc.step}: {exc.reason}", f"  AWS document: {exc.doc}"
            )
            return FAILED
        except RehearsalInputError as exc:
            self.reporter.warn(f"fargate-deploy rehearse: error: {exc}")
            return USAGE
        except (ClientError, BotoCoreError) as exc:
            self.reporter.warn(f"fargate-deploy rehearse: FAILED at {self.step}: the emulator answered: {exc}")
            return FAILED

    def _release(self) -> int:
        say, ws, env = self.reporter.say, self.ws, self.loaded.env
        if not _deploy(self.loaded, ws.endpoint, say, self.journal):
            self.reporter.warn(
                f"fargate-deploy rehearse: {env} cannot be rehearsed: out/{env} does not deploy on the emulator "
                "(the deploy output above names the stack and the reason; see README, Deploying)"
            )
            return FAILED
        from .emulator import EmulatorProvider

        provider = EmulatorProvider(ws.endpoint)
        aws = provider.clients(None)
        ws.setup()
        _source_tree(ws, self.pipeline_entry, self.actions)
        release = Release(
            ws=ws,
            aws=aws,
            pipeline=read_stack(aws, provider, self.pipeline_entry),
            service=read_stack(aws, provider, self.service_entry),
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
            INTERPRETERS[(action.category, action.provider)](release, action)
            # A deploy action may have updated the service stack (its image, its task definition).
            release.service = read_stack(aws, provider, self.service_entry)
            bluegreen_transform(release, action.label, before)
        if ws.sleeps():
            release.emulated(
                f"time: {len(ws.sleeps())} `sleep` call(s) in the release's commands shortened to 0.05 s "
                "(the emulator completes every operation at once)"
            )
        self.step = "final check"
        final_check(release, bootstrap)
        _summary(release.journal, say)
        say(f"rehearse {env}: the release reached the service")
        return OK
