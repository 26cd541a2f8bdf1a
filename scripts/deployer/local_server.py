"""The local emulator's process and address: a moto server on 127.0.0.1 only (--local starts one,
--local-endpoint names one already running). Nothing here runs against AWS."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from . import UserError

HOST = "127.0.0.1"
# The only names accepted for the emulator's host: this machine, never another one.
LOCAL_NAMES = (HOST, "localhost")


def check_url(url: str) -> str:
    """The endpoint as http://127.0.0.1:PORT (localhost is accepted and spelled as 127.0.0.1, which
    moto binds; localhost may resolve to ::1 first)."""
    parsed = urlparse(url)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "http" or parsed.hostname not in LOCAL_NAMES or not port or parsed.path not in ("", "/"):
        raise UserError(
            f"--local-endpoint {url!r}: must be http://{HOST}:PORT or http://localhost:PORT "
            "(the emulator runs on this machine only)"
        )
    return f"http://{HOST}:{port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class LocalServer:
    """A moto server started by this script on 127.0.0.1 and a free port, stopped on exit."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://{HOST}:{self.port}"
        exe = Path(sys.executable).parent / "moto_server"
        command = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
        self.process = subprocess.Popen(
            [*command, "-H", HOST, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        import urllib.error  # only here: urllib.request is ~10 ms of every deployer command's start
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise UserError("--local: the moto server did not start (is moto[server] installed?)") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
