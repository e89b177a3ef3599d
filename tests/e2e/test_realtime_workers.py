"""Realtime client secrets with ``workers: 2`` on the Redis state backend: a secret minted
through one worker opens the Realtime socket on the other (before, the secrets lived in the
minting process's memory and another worker refused them with 401).

The proxy is the real command (``python -m cliproxy serve``, as tests/test_workers.py runs
it) on a throwaway redis-server; the Realtime upstream is tests/fakes/codex_realtime.py.
Which worker accepted a socket is read from /proc: the worker process that holds the
server end of the client's TCP connection. CPA keeps its secrets in its one process, so
there is no CPA case to port: this is ours."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import orjson
import pytest
import redis
from websockets.sync.client import connect

from tests.e2e.clients import KEY
from tests.e2e.test_codex_alpha_search import write_codex
from tests.fakes.codex_realtime import RealtimeFake
from tests.test_workers import Proc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def realtime() -> Iterator[RealtimeFake]:
    with RealtimeFake() as fake:
        yield fake


@pytest.fixture
def proxy(tmp_path: Path, realtime: RealtimeFake, redis_server) -> Iterator[Proc]:
    write_codex(tmp_path, realtime, "solo", account="account-123")
    config = tmp_path / "config.yaml"
    config.write_text(
        f'api-keys: ["{KEY}"]\nauth-dir: "{tmp_path / "auths"}"\nworkers: 2\n'
        f"state: {{backend: redis, url: '{redis_server.url}', prefix: 'rt:'}}\n"
    )
    env = {**os.environ, "CLIPROXY_OAUTH_CODEX_REALTIME": realtime.ws_base}
    proc = Proc(["serve", "--config", str(config), "--port", "0"], env)
    yield proc
    proc.stop()


def _holder(pids: set[int], port: int, client_port: int) -> int | None:
    """The process among ``pids`` holding the accepted end of 127.0.0.1:client_port ->
    127.0.0.1:port (from /proc/net/tcp's socket inode and each process's fds)."""
    ends = (f"0100007F:{port:04X}", f"0100007F:{client_port:04X}")
    inodes = {
        f"socket:[{row[9]}]"
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (row := line.split()) and (row[1], row[2]) == ends
    }
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:  # closed meanwhile
                continue
    return None


def test_a_secret_minted_on_one_worker_opens_the_socket_on_another(
    proxy: Proc, realtime: RealtimeFake, redis_server
) -> None:
    """The SDK mints one secret; new connections (the kernel spreads them over both workers)
    open the socket with it until each worker has served one, every time with the secret's
    session applied first. The secret is in no log line and nowhere in Redis, nor is the
    client key in the secrets' entries."""
    port = int(proxy.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
    pids = {int(m[1]) for m in proxy.wait_for(r"listening on http://\S+ \(pid (\d+)\)", count=2)}
    sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, max_retries=0, timeout=10)
    with sdk:
        minted = sdk.realtime.client_secrets.create(
            session={"type": "realtime", "model": "gpt-realtime", "instructions": "help"}
        )
    served: dict[int, int] = {}
    for _ in range(40):  # a worker left out 40 times in a row: one chance in 2^40
        with connect(
            f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime",
            additional_headers={"Authorization": f"Bearer {minted.value}"},
            proxy=None,
            open_timeout=10,
        ) as ws:
            holder = _holder(pids, port, ws.socket.getsockname()[1])
            assert orjson.loads(ws.recv(timeout=10))["type"] == "session.created"
            updated = orjson.loads(ws.recv(timeout=10))
            assert updated["type"] == "session.updated" and updated["session"]["instructions"] == "help"
        assert holder is not None
        served[holder] = served.get(holder, 0) + 1
        if len(served) == 2:
            break
    assert set(served) == pids, served
    assert all(r.headers["Authorization"] == "Bearer token-solo" for r in realtime.requests)
    assert not [line for line in proxy.lines if minted.value in line or minted.value[3:] in line]
    with redis.Redis.from_url(redis_server.url) as db:
        kept = [key for key in db.scan_iter("rt:secret*")]
        assert len(kept) == 3, kept  # the secret, the set of all and the key's set
        for key in kept:
            held = db.get(key) if db.type(key) == b"string" else b"".join(db.zrange(key, 0, -1))
            for text in (key, held):
                assert minted.value[3:].encode() not in text and KEY.encode() not in text
