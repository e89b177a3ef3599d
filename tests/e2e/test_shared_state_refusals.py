"""Redis that answers but refuses commands: full (``maxmemory`` with ``noeviction``: OOM) or
turned into a read-only replica (READONLY, as during a failover). Requests go on, served
from this process's own state as during an outage, and the shared state resumes once Redis
takes writes again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.e2e.test_failover import MSG, _keys, _post, two_claude_keys


async def _full(admin: Any) -> Callable[[], Awaitable[Any]]:
    await admin.config_set("maxmemory-policy", "noeviction")
    await admin.config_set("maxmemory", "1")
    return lambda: admin.config_set("maxmemory", "0")


async def _replica(admin: Any) -> Callable[[], Awaitable[Any]]:
    await admin.execute_command("REPLICAOF", "127.0.0.1", "9")  # a primary that never answers
    return lambda: admin.execute_command("REPLICAOF", "NO", "ONE")


@pytest.mark.parametrize("refuse", [_full, _replica], ids=["oom", "readonly"])
async def test_requests_go_on_while_redis_refuses_writes(start_proxy, fakes, redis_server, caplog, refuse):
    """Before, every request was answered 500 ("internal error in cliproxy") for as long as
    Redis refused the round-robin step."""
    caplog.set_level(logging.WARNING, "cliproxy.state")
    text = two_claude_keys(fakes, f"state:\n  backend: redis\n  url: {redis_server.url}\n")
    proxy = await start_proxy(text)
    assert (await _post(proxy, MSG))[0] == 200
    admin = aioredis.from_url(redis_server.url)
    restore = await refuse(admin)
    try:
        fakes.claude.clear()
        fakes.claude.fail_key("sk-a", 429, retry_after=60)
        for _ in range(6):
            status, body, _ = await _post(proxy, MSG)
            assert status == 200, body
        assert _keys(fakes.claude).count("sk-a") <= 1  # cooled here, on the local state
        refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
        assert len(refused) == 1, refused  # one WARNING, not one per request
    finally:
        await restore()
    deadline = asyncio.get_running_loop().time() + 5
    while not proxy.service.state.available:
        assert asyncio.get_running_loop().time() < deadline, "the shared state did not resume"
        await asyncio.sleep(0.02)
    try:
        assert await admin.keys("cliproxy:cd|*")  # the cooldown set meanwhile was carried over
    finally:
        await admin.aclose()
