"""Two workers on one Redis (two services in miniature, as test_workers_hunt_served.py) after
Redis restarted without its data (no persistence, a failover to an empty replica).

Which models an account has served is noted in Redis once per process (``srv|<credential>``),
so every worker lists the account alike (credentials/served.py). A process never noted a
model again: after a restart that lost the set, a worker that had not served the account
itself listed it unavailable (its only other model cooling) while the worker that served it
listed it available, the flapping 7aa4407 fixed, back for good. Now a process notes what it
has served again once it follows Redis's channel after a loss.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from tests.management.conftest import MANAGEMENT_KEY
from tests.management.test_unavailable_model_states import OPUS, SONNET, ask, listed, spend_opus_week
from tests.state.test_workers_hunt_served import pair


async def _until(check: Any, seconds: float) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_worker_lists_the_account_alike_after_redis_lost_its_data(
    start_proxy, fake_claude, redis_server, tmp_path, monkeypatch
):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    a, b = await pair(start_proxy, fake_claude, redis_server, tmp_path)
    assert await ask(a, SONNET) == 200
    admin = aioredis.Redis.from_url(redis_server.url)
    try:

        async def noted() -> bool:
            return bool(await admin.keys("hunt:srv|*"))

        assert await _until(noted, 2.0)  # A noted Sonnet in Redis
        redis_server.kill()
        redis_server.start()  # empty: no persistence
        await admin.aclose()
        admin = aioredis.Redis.from_url(redis_server.url)

        async def both_listen() -> bool:
            return bool((await admin.pubsub_numsub("hunt:events"))[0][1] == 2)

        assert await _until(both_listen, 10.0)  # both workers follow the channel again
        spend_opus_week(fake_claude)
        assert await _until(lambda: _asked(b), 10.0)  # Opus's week spent, noted through B

        async def alike() -> bool:
            entry = await listed(b)
            return (entry["status"], entry["unavailable"]) == ("error", False)

        assert await _until(alike, 5.0), {
            k: v for k, v in (await listed(b)).items() if k in ("status", "unavailable", "next_retry_after")
        }
        entry = await listed(a)
        assert (entry["status"], entry["unavailable"]) == ("error", False)
    finally:
        await admin.aclose()


async def _asked(proxy: Any) -> bool:
    return await ask(proxy, OPUS) == 429
