"""Real servers for the token stores: Postgres (the usage tests' fixture), a bare git
repository on disk, and moto's S3-compatible server on a random 127.0.0.1 port."""

from __future__ import annotations

import select
import shutil
import subprocess
import sys
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


# moto's server, bound by the child itself to a port the kernel picks, which it prints: a
# port picked here and handed over could be taken meanwhile (by another test's server, or
# as the local port of any connection on the machine), and the readiness check would then
# talk to whatever answers there (``python -m moto.server -p PORT`` exits on a taken port)
_MOTO_CHILD = """
import os
from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
os.environ["MOTO_PORT"] = str(server.server_port)
print(server.server_port, flush=True)
server.serve_forever()
"""


@pytest.fixture
def s3_url() -> Iterator[str]:
    """moto's S3 server (``moto[server]``) as a child process; its URL."""
    pytest.importorskip("moto.server")
    pytest.importorskip("boto3")
    server = subprocess.Popen(
        [sys.executable, "-c", _MOTO_CHILD], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 30)
        line = server.stdout.readline() if ready else ""
        if not line.strip().isdigit():
            raise RuntimeError("moto server did not start")
        url = f"http://127.0.0.1:{int(line)}"  # listening already: the socket was bound and listened before the print
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
