"""A worker reconnecting to Redis goes on serving requests while it merges what it set during
the outage (52c568f's carry takes a few round trips: WATCH, the reads, MULTI/EXEC, the leases,
the headroom script). A cooldown a request recorded in those round trips went to the outage's
local state, which was then thrown away: neither Redis nor the worker itself kept it, and the
account was offered again. Here the link to Redis is slow (30 ms a way) once it mends, so the
carry takes long enough for requests to record cooldowns during it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cliproxy.state.base import CooldownRecord
from tests.state.test_redisout_carry import Relay, _cut

redis_state = pytest.importorskip("cliproxy.state.redis")
RedisState = redis_state.RedisState

LAG = 0.03


class SlowRelay(Relay):
    """The relay, each chunk held ``lag`` seconds once ``lag`` is set."""

    lag = 0.0

    async def upward(self, data: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(SlowRelay.lag)
        return await super().upward(data, writer)

    async def downward(self, data: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(SlowRelay.lag)
        return await super().downward(data, writer)


@pytest.fixture
async def slow_relay(redis_server: Any) -> AsyncIterator[SlowRelay]:
    relay = SlowRelay(redis_server.port)
    await relay.start()
    yield relay
    SlowRelay.lag = 0.0
    await relay.close()


def _failed(cid: str, at: float) -> CooldownRecord:
    return CooldownRecord(
        cid, "m", "claude", next_retry_after=at + 600, reason="transient upstream error", updated_at=at
    )


async def test_cooldowns_recorded_while_the_outage_is_carried_back_are_kept(
    redis_server: Any, slow_relay: SlowRelay
) -> None:
    a = RedisState(f"redis://127.0.0.1:{slow_relay.port}/0", "rw:", cache_ttl=0.0, timeout=2.0)
    b = RedisState(redis_server.url, "rw:", cache_ttl=0.0, timeout=2.0)
    await a.start()
    await b.start()
    try:
        await _cut(slow_relay, a)
        now = time.time()
        await a.set_cooldown(_failed("during-outage", now))
        SlowRelay.lag = LAG
        slow_relay.mend()
        recorded: list[str] = []
        async with asyncio.timeout(15):
            while not a.available:  # requests go on recording failures, every 10 ms
                cid = f"acct-{len(recorded)}"
                await a.set_cooldown(_failed(cid, time.time()))
                recorded.append(cid)
                await asyncio.sleep(0.01)
        SlowRelay.lag = 0.0
        assert len(recorded) > 10
        lost: list[str] = []
        for _ in range(100):  # (what came during the carry is carried just after: a moment)
            held = await b.get_cooldowns("m")
            lost = [cid for cid in ["during-outage", *recorded] if cid not in held]
            if not lost:
                break
            await asyncio.sleep(0.03)
        assert lost == []  # before: those recorded while the carry ran, for good
        mine = await a.get_cooldowns("m")
        assert [cid for cid in recorded if cid not in mine] == []
    finally:
        await asyncio.wait_for(a.close(), 5)
        await asyncio.wait_for(b.close(), 5)
