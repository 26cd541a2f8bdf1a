"""``fargate-deploy``: deploy out/<env>/ through CloudFormation change sets.

    fargate-deploy COMMAND --env ENV [--stack NAME]... [--yes] [--region R] [--profile P] [--out-dir DIR]
    fargate-deploy apply --env ENV --env ENV... | --all     several environments at once
    fargate-deploy rehearse --env ENV [--stack NAME]... [--out-dir DIR] [--scan-findings clean|high]

Commands: plan, apply, status, outputs, diff, drift, destroy, demo (local emulator only), rehearse
(the release of out/<env>/ on an emulator started in-process, every service's unless --stack names
pipeline or service stacks: see deployer.rehearsal).
apply takes several environments (--env repeated, or --all: every one in the out directory): they
are planned and applied in parallel (lines prefixed with [ENV]), with one confirmation for all;
the exit code is the worst of theirs.
Exit codes: 0 success or nothing to do; 1 a deployment or change set failed; 2 bad usage or bad
input (also: endpoint unreachable, out/ stale against params/, an update that widens access
without --allow-widening); 3 `plan --detailed-exitcode` (or
`diff --detailed-exitcode`) found changes, or `drift` found unexpected drift;
130 interrupted (Ctrl-C stops waiting, never the deployment).
"""

from __future__ import annotations

import argparse
import math
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import FAILED, INTERRUPTED, OK, USAGE, UserError

if TYPE_CHECKING:  # the commands' modules import boto3: loaded only once the arguments are valid
    from .context import Context
    from .manifest import Manifest
    from .provider import Provider
    from .reporter import Reporter
    from .staleness import Staleness

COMMANDS = ("plan", "apply", "status", "outputs", "diff", "drift", "destroy", "demo", "rehearse")
# Options that mean nothing to rehearse, which starts its own emulator and deploys every stack (its --stack
# chooses the releases to rehearse: pipeline stacks, or the service stacks they release).
NOT_FOR_REHEARSE = (
    "local",
    "local_endpoint",
    "region",
    "profile",
    "keep",
    "allow_replacement",
    "allow_widening",
    "allow_stale",
    "s3_bucket",
)
# Commands that change something (stacks or change sets): the emulator banner and the stale guard are theirs.
CHANGING = ("plan", "apply", "destroy", "demo")
STALE_GUARDED = ("plan", "apply", "demo")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a number of seconds greater than 0")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # bad usage is exit 2, as argparse does, with one clear line
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"fargate-deploy: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="fargate-deploy",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 2)[2],
    )
    p.add_argument("command", choices=COMMANDS)
    p.add_argument("--env", action="append", default=[], help="environment: a folder of out/ (apply: repeatable)")
    p.add_argument("--all", action="store_true", help="apply: every environment of the out directory")
    p.add_argument(
        "--stack",
        action="append",
        default=[],
        help="only this stack (short name; repeatable); rehearse: only the release of this pipeline stack "
        "or of the service stack it releases",
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--region", help="override the manifest's region for every stack")
    p.add_argument("--profile", help="AWS profile to use")
    p.add_argument("--keep", action="store_true", help="plan: keep the change sets for review in the console")
    p.add_argument(
        "--allow-replacement",
        action="store_true",
        help="apply: allow change sets that replace or remove stateful resources",
    )
    p.add_argument(
        "--allow-widening",
        action="store_true",
        help="apply: allow updates that widen access (IAM grants, security-group ingress; see plan's access changes)",
    )
    p.add_argument("--detailed-exitcode", action="store_true", help="plan/diff: exit 3 when there are changes")
    p.add_argument("--s3-bucket", help="bucket for templates over 51,200 bytes (default: one per account and region)")
    p.add_argument("--wait-timeout", type=_seconds, default=3600.0, help="seconds to wait for a stack (default 3600)")
    p.add_argument(
        "--allow-stale",
        action="store_true",
        help="plan/apply: deploy out/ even when params/ beside it now generates something else",
    )
    p.add_argument(
        "--out-dir",
        "--out",
        dest="out",
        default="out",
        help="the generated tree to deploy (default: out/ of the current directory)",
    )
    p.add_argument(
        "--scan-findings",
        choices=("clean", "high"),
        default="clean",
        help="rehearse: the emulated ECR scan's result (high: moto's static HIGH finding, which the scan gate stops)",
    )
    local = p.add_mutually_exclusive_group()
    local.add_argument(
        "--local",
        action="store_true",
        help="start a local AWS emulator (moto) on 127.0.0.1 and deploy there, not to AWS",
    )
    local.add_argument(
        "--local-endpoint",
        metavar="URL",
        help="use an emulator (moto) already running at http://127.0.0.1:PORT (or http://localhost:PORT)",
    )
    return p


def _provider(args: argparse.Namespace, endpoint: str | None) -> Provider:
    """The deployment target: the only place that tells AWS and the local emulator apart."""
    from .emulator import EmulatorProvider
    from .provider import AwsProvider

    if endpoint:
        return EmulatorProvider(endpoint, ephemeral=bool(args.local))
    return AwsProvider()


def _context(
    args: argparse.Namespace,
    provider: Provider,
    reporter: Reporter,
    env: str | None = None,
    shared: Context | None = None,
    *,
    loaded: Manifest | None = None,
    aws: Any = None,
) -> Context:
    """The context of one environment (args.env unless given); ``shared``: the first environment of
    several, whose waiter, stack slots and AWS clients every other one shares. ``loaded``: its manifest
    when already read; ``aws``: other clients than the provider's (deployer.up_to_date's read-only ones)."""
    from . import manifest
    from .changesets import Options
    from .context import Context
    from .waiting import Waiter

    loaded = loaded or manifest.load(Path(args.out), env or args.env, args.stack, args.region)
    options = Options(
        bucket=args.s3_bucket,
        keep=args.keep,
        allow_replacement=args.allow_replacement,
        allow_widening=args.allow_widening,
    )
    if aws is None:
        aws = shared.aws.sharing(reporter.say) if shared else provider.clients(args.profile)
    aws.say = reporter.say
    ctx = Context(
        loaded,
        aws,
        options,
        shared.waiter if shared else Waiter(timeout=args.wait_timeout),
        yes=args.yes,
        detailed_exitcode=args.detailed_exitcode,
        provider=provider,
        reporter=reporter,
    )
    if shared:
        ctx.slots = shared.slots
    return ctx


def _apply_environments(args: argparse.Namespace, provider: Provider, reporter: Reporter) -> int:
    from .environments import apply_all

    contexts: list[Context] = []
    for env in args.envs:
        shared = contexts[0] if contexts else None
        contexts.append(_context(args, provider, reporter.prefixed(f"[{env}] "), env, shared))
    for region in sorted({ctx.manifest.selected[0].region for ctx in contexts if ctx.manifest.selected}):
        contexts[0].aws.probe(region)  # an unreachable endpoint is exit 2 within seconds
    return apply_all(contexts, reporter)


def _run(args: argparse.Namespace, provider: Provider, reporter: Reporter) -> int:
    from . import commands, drift, inspect_cmds

    if len(args.envs) > 1:
        return _apply_environments(args, provider, reporter)
    ctx = _context(args, provider, reporter)
    if ctx.manifest.selected:  # one short call first: an unreachable endpoint is exit 2 within seconds
        ctx.aws.probe(ctx.manifest.selected[0].region)
    if args.command == "demo":
        reporter.say("-- demo: apply (fresh create) --")
        code = commands.apply(ctx)
        if code != OK:
            return code
        reporter.say("-- demo: outputs --")
        inspect_cmds.outputs(ctx)
        reporter.say("-- demo: apply again (expect: up to date) --")
        return commands.apply(_context(args, provider, reporter))
    handler = {
        "plan": commands.plan,
        "apply": commands.apply,
        "status": inspect_cmds.status,
        "outputs": inspect_cmds.outputs,
        "diff": inspect_cmds.diff,
        "drift": drift.drift,
        "destroy": inspect_cmds.destroy,
    }
    return handler[args.command](ctx)


def _interrupted(args: argparse.Namespace, reporter: Reporter, running: list[str], ephemeral: bool) -> int:
    if ephemeral:  # the emulator is stopped on the way out: nothing goes on, and there is nothing to watch
        reporter.warn(
            "\nStopped. The local emulator started by --local is being stopped, and every stack deployed to it "
            "goes with it: nothing continues and there is nothing to watch with `status`. For a session "
            "spanning several commands, start moto yourself (moto_server -H 127.0.0.1 -p PORT) and pass "
            "--local-endpoint http://127.0.0.1:PORT to each command."
        )
        return INTERRUPTED
    stacks = "".join(f" --stack {n}" for n in running)
    if args.local_endpoint:
        stacks += f" --local-endpoint {args.local_endpoint}"
    reporter.warn(
        f"\nStopped waiting. Nothing was cancelled: operations already started continue in CloudFormation"
        f"{' (' + ', '.join(running) + ')' if running else ''}. Watch them with: "
        f"fargate-deploy status --env {args.env}{stacks}"
    )
    return INTERRUPTED


def _stale_guard(args: argparse.Namespace, reporter: Reporter, checked: dict[str, Staleness]) -> None:
    """plan and apply refuse an out/<env>/ that params/ no longer generates (deployer.staleness;
    ``checked``: its result, one generator run for them all)."""
    from . import staleness

    for env in args.envs:
        note = staleness.guard(Path(args.out), env, args.allow_stale, checked[env])
        if note:
            reporter.warn(note if len(args.envs) == 1 else f"[{env}] {note}")


def _environments(args: argparse.Namespace) -> None:
    """args.envs: the environments given (--env, repeatable, or --all); args.env: the first of them."""
    if args.all:
        if args.env:
            parser().error("--all takes no --env")
        from blueprints import manifest as contract

        args.env = contract.environments(Path(args.out))
        if not args.env:
            raise UserError(f"{args.out}: no environment to apply (run make generate)")
    if not args.env:
        parser().error("the following arguments are required: --env")
    args.envs = list(dict.fromkeys(args.env))
    if len(args.envs) > 1 and args.command != "apply":
        parser().error(f"{args.command} takes one --env (only apply takes several, or --all)")
    args.env = args.envs[0]


def _rehearse(args: argparse.Namespace) -> int:
    given = [name for name in NOT_FOR_REHEARSE if getattr(args, name) not in (None, False, [])]
    if given:
        option = "--" + given[0].replace("_", "-")
        sys.stderr.write(f"fargate-deploy: error: rehearse takes no {option} (it starts its own emulator)\n")
        return USAGE
    from .rehearsal import rehearse

    return rehearse(Path(args.out), args.env, scan_findings=args.scan_findings, stacks=args.stack)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.all and args.command != "apply":
        parser().error(f"{args.command} takes no --all (only apply does)")
    try:
        _environments(args)
    except UserError as exc:
        sys.stderr.write(f"fargate-deploy: error: {exc}\n")
        return USAGE
    if args.command == "rehearse":
        return _rehearse(args)
    from .local_server import LocalServer, check_url
    from .reporter import Reporter
    from .waiting import WaitInterruptedError

    reporter = Reporter()
    server = None
    try:
        if args.command == "demo" and not args.local_endpoint:
            args.local, args.yes = True, True
        endpoint = check_url(args.local_endpoint) if args.local_endpoint else None
        if args.local or args.command in STALE_GUARDED:
            # Validate the manifest (and, for plan and apply, out/ against params/) before anything else.
            from . import manifest

            loaded = [manifest.load(Path(args.out), env, args.stack, args.region) for env in args.envs]
        if args.command in STALE_GUARDED:
            from . import staleness, up_to_date

            with staleness.Pending(Path(args.out), args.envs) as pending:
                # apply's read-only look (deployer.up_to_date) runs while the generator checks out/
                quick = up_to_date.attempt(
                    args, endpoint, partial(_context, args, _provider(args, endpoint), loaded=loaded[0])
                )
                _stale_guard(args, reporter, pending.result())
            if quick:
                return up_to_date.finish(quick, reporter)
        if args.local:
            server = LocalServer()
            endpoint = server.url
        provider = _provider(args, endpoint)
        announcement = provider.announcement() if args.command in CHANGING else None
        if announcement:
            reporter.say(announcement)
        return _run(args, provider, reporter)
    except UserError as exc:
        reporter.warn(f"fargate-deploy: error: {exc}")
        return USAGE
    except (WaitInterruptedError, KeyboardInterrupt) as exc:
        running = exc.args[0] if isinstance(exc, WaitInterruptedError) and exc.args else []
        return _interrupted(args, reporter, running, ephemeral=server is not None)
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        from .aws import EMULATOR_ERROR, error_code, error_message

        if isinstance(exc, ClientError) and error_code(exc) == EMULATOR_ERROR:
            reporter.warn(f"fargate-deploy: emulator error: {error_message(exc)}")
            return FAILED
        if isinstance(exc, ResponseParserError) and (args.local or args.local_endpoint):
            reporter.warn(f"fargate-deploy: emulator error: the local emulator (moto) sent an unreadable answer: {exc}")
            return FAILED
        if isinstance(exc, (ClientError, BotoCoreError, ResponseParserError)):
            reporter.warn(f"fargate-deploy: AWS error: {exc}")
            return FAILED
        raise
    finally:
        if server:
            server.stop()
            reporter.say("LOCAL EMULATOR stopped; everything deployed to it is gone.")
