"""Server-side fixes for moto 5.2.5 (pinned in setup.cfg), for tests that drive an unmodified
client, such as the AWS CLI, against an in-process moto server on 127.0.0.1.

scripts/deployer/emulator.py closes moto's gaps on the client side for `deploy.py --local`; a
hand-off test runs the AWS CLI exactly as the README says, so the one gap on its path that a
template cannot avoid is fixed here, in the server: after ExecuteChangeSet moto keeps the
Outputs of the stack's previous template (none after a create). tests/test_handoff.py has a
test that shows the fix is still needed.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from importlib import metadata
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
def in_process_server() -> Iterator[str]:
    """A moto server in this process (so the patches above apply to it) on a free port of 127.0.0.1."""
    import logging
    import warnings

    from moto.server import ThreadedMotoServer

    # The server shares this process: keep its request log and its notes on resource types it
    # does not model out of the caller's output.
    for name in ("werkzeug", "moto"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse AWS")
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address=HOST, port=port, verbose=False)
    server.start()
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.stop()
