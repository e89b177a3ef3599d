"""Real servers for the token stores: Postgres (the usage tests' fixture), a bare git
repository on disk, and moto's S3-compatible server on a random 127.0.0.1 port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.usage.conftest import postgres_url  # noqa: F401  (a fixture, re-exported here)


@pytest.fixture
def bare_repo(tmp_path: Path) -> Path:
    """An empty bare git repository whose default branch is ``trunk``."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    remote = tmp_path / "remote.git"
    subprocess.run(
        ["git", "init", "-q", "--bare", "--initial-branch", "trunk", str(remote)], check=True, timeout=30
    )
    return remote


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def s3_url() -> Iterator[str]:
    """moto's S3 server (``moto[server]``) as a child process; its URL."""
    pytest.importorskip("moto.server")
    pytest.importorskip("boto3")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/moto-api/", timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
