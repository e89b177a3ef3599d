"""Two cliproxy services sharing a Redis that speaks TLS only (``rediss://``, as managed
Redis services require): the state is shared as on plain Redis, with no outage reported."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_failover import MSG, _keys, _post, two_claude_keys
from tests.fakes.tls import make_cert
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.state.redis_server import RedisServer, redis_binary


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[RedisServer]:
    cert = make_cert(tmp_path)
    server = RedisServer(redis_binary(), tls=(cert.cert, cert.key))
    server.start()
    yield server
    server.close()


async def test_rotation_and_notifications_are_shared_over_tls(
    start_proxy, fakes, tls_redis, caplog, monkeypatch
):
    """Before, cliproxy's own connections (the per-request round-robin cursor, the
    notification channel) spoke plain RESP to the TLS port: every request took Redis for
    unreachable (a WARNING, this process's own cursor) and the probe brought it back at once,
    and no notification (config edits, auth-dir reloads, bans, cooldowns) ever arrived."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    caplog.set_level(logging.WARNING, "cliproxy.state")
    text = two_claude_keys(fakes, f"state:\n  backend: redis\n  url: '{tls_redis.url}'\n")
    a, b = await start_proxy(text), await start_proxy(text)
    for proxy in (a, b, a, b):
        assert (await _post(proxy, MSG))[0] == 200
    keys = _keys(fakes.claude)  # one cursor, not two (two would give a, a, b, b)
    assert keys[0] != keys[1] and keys[1] != keys[2] and keys[2] != keys[3], keys
    assert await mcall(a, "PUT", "/api-keys", [KEY, "client-new"]) == (200, {"status": "ok"})
    deadline = asyncio.get_running_loop().time() + 5
    while "client-new" not in b.service.config.api_keys:
        assert asyncio.get_running_loop().time() < deadline, "B did not hear A's edit"
        await asyncio.sleep(0.02)
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]
