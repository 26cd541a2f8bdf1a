"""The hand-off emulator: moto 5.2.5 (pinned in setup.cfg) on 127.0.0.1, with server-side fixes, for
an unmodified client such as the AWS CLI running out/<env>/deploy.sh.

scripts/deployer/emulator.py closes moto's gaps on the client side for `fargate-deploy --local`;
deploy.sh is plain AWS CLI, so the gaps on its path that a template cannot avoid are closed here, in
the server, to answer as CloudFormation does (tests/test_handoff.py shows each is still needed):

- after ExecuteChangeSet moto keeps the Outputs of the stack's previous template (none after a
  create): ``outputs_after_change_set``;
- an UPDATE change set with nothing to change makes CreateChangeSet fail ("No updates are to be
  performed"), where CloudFormation creates the change set and reports it FAILED with "The submitted
  information didn't contain changes": ``empty_change_sets_fail``.

The templates still need the emulator's adaptation (deployer.emulator.template_for_emulator):
``adapted_copy`` copies out/<env>/ with only the templates adapted.

`python -m tests.moto_server_patches [--port N]` (`make emulator`) runs this emulator in the
foreground, after writing adapted copies of out/<env>/ into .cache/handoff/ to run deploy.sh from.
These are test tools: nothing here is part of the deployer.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import socket
import threading
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any
from unittest import mock

MOTO_VERSION = "5.2.5"
HOST = "127.0.0.1"


@contextlib.contextmanager
def outputs_after_change_set() -> Iterator[None]:
    """Make moto compute a stack's Outputs when a change set is executed, as CloudFormation does."""
    from moto.cloudformation.models import ChangeSet

    assert metadata.version("moto") == MOTO_VERSION, "re-check this patch against the new moto version"
    original = ChangeSet.apply

    def apply(self: Any) -> None:
        original(self)
        stack = self.stack
        stack.template = self.template
        stack._parse_template()
        stack.output_map = stack._create_output_map()

    # patch.object restores the original method on the way out, even when the body fails.
    with mock.patch.object(ChangeSet, "apply", apply):
        yield


@contextlib.contextmanager
def empty_change_sets_fail() -> Iterator[None]:
    """Let CreateChangeSet create an UPDATE change set with no changes, which moto's backend then
    marks FAILED with CloudFormation's reason, instead of failing the call as UpdateStack would."""
    from moto.cloudformation.responses import CloudFormationResponse

    assert metadata.version("moto") == MOTO_VERSION, "re-check this patch against the new moto version"
    original = CloudFormationResponse.create_change_set

    def create_change_set(self: Any) -> Any:
        with mock.patch.object(self, "_validate_different_update", lambda *args, **kwargs: None):
            return original(self)

    with mock.patch.object(CloudFormationResponse, "create_change_set", create_change_set):
        yield


@contextlib.contextmanager
def handoff_server(port: int = 0) -> Iterator[str]:
    """The hand-off emulator: the in-process server with every fix above."""
    with outputs_after_change_set(), empty_change_sets_fail(), in_process_server(port) as endpoint:
        yield endpoint


def adapted_copy(env_dir: Path, target: Path) -> Path:
    """out/<env>/ copied to ``target`` with each template adapted as `fargate-deploy --local` adapts it
    (moto 5.2.5 cannot run them as they are); deploy.sh, parameter files and stacks.json untouched."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(env_dir, target)
    return adapt_templates(target)


def adapt_templates(folder: Path) -> Path:
    from deployer import emulator

    manifest = json.loads((folder / "stacks.json").read_text())
    for stack in manifest["stacks"]:
        path = folder / stack["template"]
        path.write_text(emulator.template_for_emulator(json.loads(path.read_text()), manifest["region"]))
    return folder


@contextlib.contextmanager
def in_process_server(port: int = 0) -> Iterator[str]:
    """A moto server in this process (so the patches above apply to it) on a free port of 127.0.0.1."""
    import logging
    import warnings

    from moto.server import ThreadedMotoServer

    # The server shares this process: keep its request log and its notes on resource types it
    # does not model out of the caller's output.
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse AWS")
    if not port:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    with module_list_read_once():
        server.start()
        endpoint = f"http://{HOST}:{port}"
        # moto's state is per process, not per server: each server starts empty.
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).close()
        try:
            yield endpoint
        finally:
            server.stop()


@contextlib.contextmanager
def module_list_read_once() -> Iterator[None]:
    """Speed only: moto's server lists its own package folder (a listdir and a stat per entry, ~2 ms)
    for every request, under the lock that serialises its dispatch, to learn its service names. They
    cannot change while it runs, so they are listed once. Every request of every client waits on that
    lock, so it weighed most where several environments deploy at once (the bench's "apply 4
    environments at once"); the answers are unchanged (tests/test_deploy_parallel_emulator.py)."""
    from moto import backends

    assert metadata.version("moto") == MOTO_VERSION, "re-check this patch against the new moto version"
    modules = tuple(backends.list_of_moto_modules())
    with mock.patch.object(backends, "list_of_moto_modules", lambda: modules):
        yield


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(
        prog="python -m tests.moto_server_patches",
        description="The hand-off emulator (moto with the fixes of tests/moto_server_patches.py) in the foreground.",
    )
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default 5000)")
    parser.add_argument("--out-dir", type=Path, default=root / "out", help="default: out/")
    parser.add_argument("--copy-to", type=Path, default=root / ".cache" / "handoff", help="default: .cache/handoff/")
    args = parser.parse_args(argv)
    copies = [adapted_copy(env, args.copy_to / env.name) for env in sorted(args.out_dir.glob("*/")) if env.is_dir()]
    with handoff_server(args.port) as endpoint:
        print(f"moto {MOTO_VERSION} with the hand-off fixes at {endpoint} (Ctrl-C stops it; its stacks go with it)")
        print(f"out/<env>/ with templates adapted for it: {', '.join(str(c) for c in copies)}")
        print("in another terminal:")
        print(f"  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
        print(f"  bash {copies[0] if copies else 'DIR'}/deploy.sh --s3-bucket handoff   # aws s3 mb s3://handoff first")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
