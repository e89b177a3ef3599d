"""The shared replay mirrors after an outage of a worker's notification channel, on a real
Redis: a notice sent while the channel was down is missed, so once the channel is followed
again the worker drops the copies it holds (RedisMirror: its next turn reads Redis;
SharedReplay: nothing in Redis to read, so the stale entry simply goes).

Before, the copies stayed as they were until the cache's TTL (an hour): a loop going A, B,
A restored on A its own first step without B's, and a refusal's forget on B never reached A.
The outage is the one a load balancer or a Redis failover makes: the server closes the
subscriber connections (``CLIENT KILL TYPE pubsub``) and the data stays."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

import cliproxy.state.redis as state_redis
from cliproxy.translate.kimi_replay import CompatReplayCache
from cliproxy.translate.kimi_replay_record import SharedReplay, compat_entry
from cliproxy.translate.replay import ThinkingReplayCache
from cliproxy.translate.replay_shared import RedisMirror
from tests.state.test_replayfix_mirror import FAMILY, SESSION, _holds, claude_step
from tests.state.test_replaymirror_compat import settled
from tests.state.test_replaymirror_record import SIGNED

OTHER = [{**SIGNED[0], "signature": "sig-other-" + "y" * 60}, SIGNED[1]]


@pytest.fixture
def slow_resubscribe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A channel lost comes back after 0.5 s (0.25 s by default): room enough for the other
    worker's change to be told while it is down, checked by each test."""
    monkeypatch.setattr(state_redis, "PROBE_INTERVAL", 0.5)


async def _listening(admin: aioredis.Redis, channel: str, count: int) -> bool:
    """Whether ``count`` listeners follow ``channel`` within 2 s."""
    for _ in range(200):
        if (await admin.pubsub_numsub(channel))[0][1] == count:
            return True
        await asyncio.sleep(0.01)
    return False


async def _drop_listeners(redis_server: Any, channel: str) -> aioredis.Redis:
    admin = aioredis.Redis.from_url(redis_server.url)
    assert await _listening(admin, channel, 2)
    await admin.client_kill_filter(_type="pubsub")
    return admin


async def _unheard(admin: aioredis.Redis, channel: str) -> None:
    """The change was told while nobody listened (else the test proves nothing)."""
    assert (await admin.pubsub_numsub(channel))[0][1] == 0, "a listener came back too early"


async def test_a_redis_mirror_reads_redis_again_after_its_channel_was_down(
    redis_server: Any, redis_states: Any, slow_resubscribe: None
) -> None:
    cache_a, cache_b = ThinkingReplayCache(), ThinkingReplayCache()
    mirror_a = RedisMirror(await redis_states("hr:"), cache_a)
    mirror_b = RedisMirror(await redis_states("hr:"), cache_b)
    cache_a.append(FAMILY, SESSION, claude_step(1))
    assert await _holds(mirror_b, (claude_step(1),)) == (claude_step(1),)
    admin = await _drop_listeners(redis_server, "hr:events")
    try:
        cache_b.append(FAMILY, SESSION, claude_step(2))  # B's step, told to nobody
        both = (claude_step(1), claude_step(2))
        await settled(lambda: not mirror_b._pending)
        await _unheard(admin, "hr:events")
        assert cache_a.get(FAMILY, SESSION) == (claude_step(1),)  # A's copy: stale for now
        assert await _holds(mirror_a, both, seconds=4.0) == both, "A kept its stale copy"
    finally:
        await admin.aclose()


async def test_shared_replay_drops_what_it_may_have_missed(
    redis_server: Any, redis_states: Any, slow_resubscribe: None
) -> None:
    """A refusal on B (its tombstone) told while A's channel was down: A drops its entry
    when it follows the channel again (it cannot know which entries changed), and takes
    the notices that come after as before."""
    cache_a, cache_b = CompatReplayCache(), CompatReplayCache()
    SharedReplay(await redis_states("hk:"), cache_a, "replay-compat", compat_entry)
    shared_b = SharedReplay(await redis_states("hk:"), cache_b, "replay-compat", compat_entry)
    assert cache_b.replace("m", "s", None, SIGNED)
    assert await settled(lambda: cache_a.get("m", "s") == [SIGNED])
    cache_a.replace("m", "other", None, OTHER)  # another session A holds
    admin = await _drop_listeners(redis_server, "hk:events")
    try:
        assert cache_b.discard("m", "s", cache_b.snapshot("m", "s"))  # the refusal on B
        await settled(lambda: not shared_b._pending)
        await _unheard(admin, "hk:events")
        assert await settled(lambda: cache_a.snapshot("m", "s") is None, 4.0), "A kept the refused entry"
        assert cache_a.snapshot("m", "other") is None  # everything held goes: the documented limit
        assert await _listening(admin, "hk:events", 2)
        assert cache_b.replace("m", "s", cache_b.snapshot("m", "s"), OTHER)
        assert await settled(lambda: cache_a.get("m", "s") == [OTHER]), "A no longer hears B"
    finally:
        await admin.aclose()


async def test_a_first_subscribe_drops_nothing(redis_server: Any, redis_states: Any) -> None:
    """Only a channel that was lost drops the copies: a worker whose channel came up at
    start keeps what it recorded meanwhile."""
    cache = ThinkingReplayCache()
    RedisMirror(await redis_states("hf:"), cache)
    cache.append(FAMILY, SESSION, claude_step(1))  # (before the listener ran)
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await _listening(admin, "hf:events", 1)
        await asyncio.sleep(0.05)  # (the listener reads the SUBSCRIBE reply)
        assert cache.get(FAMILY, SESSION) == (claude_step(1),)
    finally:
        await admin.aclose()
