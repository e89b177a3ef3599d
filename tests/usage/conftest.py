from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.usage.helpers import close_recorder


@pytest.fixture
async def proxy_of(start_proxy: Any) -> AsyncIterator[Any]:
    """Like ``start_proxy``, and the recorder (writer thread, log file handler) closes after the test."""
    started: list[Any] = []

    async def start(yaml_text: str, **kw: Any) -> Any:
        proxy = await start_proxy(yaml_text, **kw)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        close_recorder(proxy)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway Postgres (the Debian package's binaries) on 127.0.0.1 at a random port,
    trust authentication; skipped where PostgreSQL or psycopg is not installed."""
    psycopg = pytest.importorskip("psycopg")
    bindir = next((Path(p).parent for p in [shutil.which("initdb") or ""] if p), None)
    if bindir is None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        bindir = found[-1].parent if found else None
    if bindir is None or not (bindir / "postgres").exists():
        if os.environ.get("CLIPROXY_REQUIRE_POSTGRES"):  # CI installs it: a skip would hide a failure
            pytest.fail("PostgreSQL is not installed but CLIPROXY_REQUIRE_POSTGRES is set")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="cliproxy-pg-"))  # outside pytest's 0700 tree: postgres reads it
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            *prefix,
            str(bindir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(sock),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("PostgreSQL did not start")
            time.sleep(0.1)
    try:
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        shutil.rmtree(base, ignore_errors=True)
