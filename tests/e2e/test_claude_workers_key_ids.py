"""A cloaked Claude API key's ids with ``workers: 2`` on the Redis state backend: every
request of the key carries one ``X-Claude-Code-Session-Id`` and (``cache-user-id``) one
``metadata.user_id``, whichever worker served it. Before, each worker made its own, so
one key's requests showed the upstream two identities. CPA shares the two through its
Home KV store (user_id_cache.go, session_id_cache.go); the ported cases' facts are here:
TestCachedUserIDRequiredHomeReusesKVAcrossLocalCacheReset (a process whose own cache holds
nothing, or something else, takes what the store holds).

The proxy is the real command (``python -m cliproxy serve``, as tests/test_workers.py runs
it) on a throwaway redis-server, the upstream tests/fakes/claude.py on a thread; each
request opens its own connection, which the kernel hands to either worker. Which worker
served one is read from /proc, as tests/e2e/test_realtime_workers.py does."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_realtime_workers import _holder
from tests.fakes.claude import ClaudeFake
from tests.test_workers import Proc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def claude() -> Iterator[ClaudeFake]:
    with ClaudeFake() as fake:
        yield fake


@pytest.fixture
def proxy(tmp_path: Path, claude: ClaudeFake, redis_server) -> Iterator[Proc]:
    config = tmp_path / "config.yaml"
    config.write_text(
        f'api-keys: ["{KEY}"]\nworkers: 2\n'
        f"state: {{backend: redis, url: '{redis_server.url}', prefix: 'ids:'}}\n"
        f'claude-api-key:\n  - api-key: "sk-ant-api03-shared"\n    base-url: "{claude.base_url}"\n'
        "    cloak: {mode: always, cache-user-id: true}\n"
    )
    proc = Proc(["serve", "--config", str(config), "--port", "0"], {**os.environ})
    yield proc
    proc.stop()


def _ask(port: int, pids: set[int]) -> int | None:
    """One Messages request on a connection of its own; the worker that accepted it."""
    body = json.dumps(
        {"model": "claude-sonnet-4-6", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
    ).encode()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nx-api-key: {KEY}\r\n"
        f"anthropic-version: 2023-06-01\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        worker = _holder(pids, port, conn.getsockname()[1])
        conn.sendall(head + body)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
    return worker


def test_one_keys_ids_are_the_same_on_every_worker(proxy: Proc, claude: ClaudeFake) -> None:
    port = int(proxy.wait_for(r"supervising 2 workers on 127\.0\.0\.1:(\d+)")[0][1])
    pids = {int(m[1]) for m in proxy.wait_for(r"listening on http://\S+ \(pid (\d+)\)", count=2)}
    served: set[int | None] = set()
    for _ in range(40):  # until both workers served some (the kernel picks)
        served.add(_ask(port, pids))
        if pids <= served and len(claude.requests) >= 4:
            break
    assert pids <= served, "one worker served every request"
    sessions = {r.headers["x-claude-code-session-id"] for r in claude.requests}
    users = {orjson.loads(r.json["metadata"]["user_id"])["session_id"] for r in claude.requests}
    devices = {orjson.loads(r.json["metadata"]["user_id"])["device_id"] for r in claude.requests}
    assert len(sessions) == 1 and users == sessions and len(devices) == 1
