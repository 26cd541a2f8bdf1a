"""Local AWS endpoint for the deploy tests: moto 5.2.5 on 127.0.0.1 only.

Uses $MOTO_ENDPOINT (started by .ci/run) when set, otherwise starts moto_server on a free port for
the session. Every test that uses `moto` gets a freshly reset server and fake credentials.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

HOST = "127.0.0.1"


def _wait_ready(url: str, process: subprocess.Popen | None) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
            return
        except OSError:
            if (process and process.poll() is not None) or time.monotonic() > deadline:
                raise RuntimeError(f"moto server at {url} did not start") from None
            time.sleep(0.05)


@pytest.fixture(scope="session")
def moto_endpoint():
    given = os.environ.get("MOTO_ENDPOINT")
    if given:
        assert given.startswith(f"http://{HOST}:"), "MOTO_ENDPOINT must be on 127.0.0.1"
        yield given.rstrip("/")
        return
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(exe), "-H", HOST, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://{HOST}:{port}"
    try:
        _wait_ready(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def moto(moto_endpoint, monkeypatch):
    """A reset endpoint, fake credentials, and no AWS config from the machine."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint


def client(endpoint: str, service: str = "cloudformation", region: str = "eu-west-1"):
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
