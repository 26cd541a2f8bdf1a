"""apply of an environment that is already up to date, without botocore's client: a quick look first.

``attempt`` runs apply's own planning and judging (commands.prepare_apply, unchanged: the planner's
template, parameter and tag comparison, day-2 and environment checks, the stack policy) with a read-only
CloudFormation client (deployer.query_api) and its output held back. It stands only when that ends in
"Nothing to apply: every stack is up to date."; then its output is shown, exactly what the normal path
would have written. Anything else (a change set to make, a stack policy to set, a stack to wait for,
an error, any call the read-only client does not make) drops the attempt and its output, and the normal
path starts over with botocore: the attempt changed nothing, since it can only read.

Used only where botocore's credentials and endpoint are known exactly without botocore (``target``): the
emulator's fixed test credentials with --local-endpoint, or static keys in AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) with no profile, no other AWS_* setting, no proxy and no
config file setting anything but the region or output format, in a region of the standard ``aws``
partition. Everything else goes the normal way.

The stale guard (deployer.staleness, a generator process) runs meanwhile; cli waits for it before
anything is shown, so a stale out/ is refused exactly as before.
"""

from __future__ import annotations

import io
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from . import OK
from .query_api import Credentials, FullPath, QueryClient

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from .context import Context
    from .provider import Provider
    from .reporter import Reporter

UP_TO_DATE = "Nothing to apply: every stack is up to date."  # commands.prepare_apply's last line then
# botocore's region pattern of the standard partition (botocore/data/partitions.json, "aws"); its
# CloudFormation endpoint there is https://cloudformation.REGION.amazonaws.com (endpoint rule set).
AWS_REGION = re.compile(r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$")
# AWS_* variables that change nothing about the credentials, endpoint or transport botocore would use
# here (the region comes from the manifest; retries do not matter to a look that falls back on any error;
# the CA bundle is used as botocore uses it). Any other (a profile, an endpoint, FIPS, a credential
# expiry...) leaves apply to botocore.
NEUTRAL_ENV = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_DEFAULT_OUTPUT",
    "AWS_PAGER",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
    "AWS_CA_BUNDLE",
    "AWS_EC2_METADATA_DISABLED",  # the keys in the environment come before any metadata service
    "AWS_CONFIG_FILE",  # read by _plain_config
    "AWS_SHARED_CREDENTIALS_FILE",  # the keys in the environment come first
}
NEUTRAL_CONFIG = {"region", "output", "cli_pager", "max_attempts", "retry_mode"}
PROXIES = ("http_proxy", "https_proxy", "all_proxy")


def _proxied() -> bool:
    return any(os.environ.get(name) or os.environ.get(name.upper()) for name in PROXIES)


def _plain_config() -> bool:
    """Whether the AWS config file is absent, or sets nothing but NEUTRAL_CONFIG keys anywhere."""
    path = Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()
    if not path.exists():
        return True
    if not path.is_file():  # /dev/null and other special files: botocore reads nothing from them either
        return path.is_char_device()
    import configparser  # only when there is a file to read

    parser = configparser.RawConfigParser()
    try:
        parser.read(path)
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False
    return all(set(parser[section]) <= NEUTRAL_CONFIG for section in parser.sections())


def target(endpoint: str | None, profile: str | None) -> Credentials | None:
    """The credentials botocore would sign with, when they are known exactly without it; else None.
    The environment and config file are checked for the emulator too: boto3's session reads them
    (AWS_PROFILE naming a missing profile fails there), so a quick look must not succeed past them."""
    env = os.environ
    if _proxied() or {k for k in env if k.startswith("AWS_")} - NEUTRAL_ENV or not _plain_config():
        return None
    if endpoint:  # EmulatorProvider.clients always signs with its fixed test credentials, whatever --profile says
        return emulator_credentials()
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if profile or not key or not secret:
        return None
    return Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)


def emulator_credentials() -> Credentials:
    """The keys EmulatorProvider.clients gives botocore (deployer.emulator is loaded on this path anyway,
    for the provider; it does not load boto3)."""
    from . import emulator

    keys = emulator.FAKE_CREDENTIALS
    return Credentials(keys["aws_access_key_id"], keys["aws_secret_access_key"], keys["aws_session_token"])


def ca_bundle() -> str:
    """The certificates botocore verifies AWS with: AWS_CA_BUNDLE, else certifi's, else its own."""
    given = os.environ.get("AWS_CA_BUNDLE")
    if given:
        return given
    try:
        import certifi

        return str(certifi.where())
    except ImportError:
        import importlib.util

        spec = importlib.util.find_spec("botocore")
        return str(Path(spec.origin or "").parent / "cacert.pem") if spec else ""


class QuickAws:
    """What the planner and the judges use of deployer.aws.Aws, read-only: CloudFormation clients per
    region. Anything else is FullPath."""

    def __init__(self, endpoint: str | None, credentials: Credentials):
        self._endpoint, self._credentials = endpoint, credentials
        self._clients: dict[str, QueryClient] = {}
        self._lock = threading.Lock()

    def cfn(self, region: str) -> QueryClient:
        with self._lock:
            if region not in self._clients:
                if not self._endpoint and not AWS_REGION.match(region):
                    raise FullPath  # another partition (China, GovCloud, ISO): botocore knows its endpoints
                url = self._endpoint or f"https://cloudformation.{region}.amazonaws.com"
                cafile = None if self._endpoint else ca_bundle()
                self._clients[region] = QueryClient(url, region, self._credentials, cafile=cafile)
            return self._clients[region]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise FullPath


class _Held(io.TextIOBase):
    """One of the attempt's streams: what is written is kept, in order with the other stream's."""

    def __init__(self, chunks: list[tuple[bool, str]], err: bool):
        self._chunks, self._err = chunks, err

    def write(self, text: str) -> int:
        self._chunks.append((self._err, text))
        return len(text)

    def isatty(self) -> bool:  # colour as the real stream would get it
        return (sys.stderr if self._err else sys.stdout).isatty()


@dataclass
class Quick:
    """An attempt that stands: its provider (for the announcement) and its output."""

    provider: Provider
    chunks: list[tuple[bool, str]] = field(default_factory=list)

    def last_line(self) -> str:
        lines = [line for line in "".join(text for err, text in self.chunks if not err).splitlines() if line]
        return lines[-1] if lines else ""


def attempt(args: argparse.Namespace, endpoint: str | None, context: Callable[..., Context]) -> Quick | None:
    """apply of one environment, read-only, its output held: a Quick when every selected stack is up to
    date, None when the normal path must run (see the module docstring). ``context(reporter, aws=...)``:
    the Context the normal path would make (cli._context, its provider and manifest), with these."""
    if args.command != "apply" or len(args.envs) != 1 or args.local:
        return None
    credentials = target(endpoint, args.profile)
    if credentials is None:
        return None
    from . import commands
    from .emulator import certificate_arns
    from .reporter import Reporter
    from .waiting import WaitInterruptedError

    chunks: list[tuple[bool, str]] = []
    reporter = Reporter(cast(TextIO, _Held(chunks, False)), cast(TextIO, _Held(chunks, True)))
    ctx = context(reporter, aws=QuickAws(endpoint, credentials))
    if endpoint and any(certificate_arns(entry.template) for entry in ctx.manifest.stacks):
        return None  # gap 27: the emulator's stand-in certificate is requested through botocore
    try:
        result = commands.prepare_apply(ctx)
    except FullPath:
        return None
    except WaitInterruptedError:
        raise
    except Exception:  # the normal path meets the same problem with botocore, and reports it as it does
        return None
    quick = Quick(ctx.provider, chunks)
    return quick if result == OK and quick.last_line() == UP_TO_DATE else None


def finish(quick: Quick, reporter: Reporter) -> int:
    """Show what the attempt said, after the announcement apply makes before planning."""
    announcement = quick.provider.announcement()
    if announcement:
        reporter.say(announcement)
    for err, text in quick.chunks:
        (reporter.err if err else reporter.out).write(text)
    reporter.out.flush()
    reporter.err.flush()
    return OK
