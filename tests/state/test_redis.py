"""The Redis state backend honours the StateBackend contract the memory backend sets,
shares it between two instances (two processes), and survives Redis going away."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

import pytest

from cliproxy.state.base import CooldownRecord, StateBackend
from cliproxy.state.memory import MemoryState
from tests.state.redis_server import hold_busy
from tests.state.test_memory import alias_facts, secret_facts

redis_state = pytest.importorskip("cliproxy.state.redis")
RedisState = redis_state.RedisState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def make(redis_states: Callable[..., Any]) -> Callable[..., Any]:
    return functools.partial(redis_states, "t:")


async def test_is_a_state_backend(make):
    assert isinstance(await make(), StateBackend)


async def test_cooldown_records(make):
    """Same facts as tests/state/test_memory.py::test_cooldown_records."""
    state = await make()
    await state.set_cooldown(CooldownRecord("a", "m", next_retry_after=5, last_error={"code": "x"}))
    await state.set_cooldown(CooldownRecord("a", "", next_retry_after=7))
    await state.set_cooldown(CooldownRecord("b", "m", next_retry_after=9))
    assert set(await state.get_cooldowns("m")) == {"a", "b"}
    assert (await state.get_cooldowns("m"))["a"].last_error == {"code": "x"}
    assert (await state.get_cooldown("a", "")).next_retry_after == 7
    assert len(await state.credential_cooldowns("a")) == 2
    assert await state.delete_cooldown("b", "m") and not await state.delete_cooldown("b", "m")
    assert await state.clear_cooldowns("a") == ["a"]
    assert await state.get_cooldowns("m") == {}
    await state.set_cooldown(CooldownRecord("c", "n", next_retry_after=9))
    assert await state.clear_cooldowns(None) == ["c"]


async def test_a_cooldown_written_by_one_process_is_read_by_the_other(make):
    """The reader caches its map; the writer's notification drops that cache at once."""
    a, b = await make(), await make(cache_ttl=60.0)
    assert await b.get_cooldowns("m") == {}  # cached now, for a minute
    await a.set_cooldown(CooldownRecord("x", "m", next_retry_after=50))
    for _ in range(100):
        if "x" in await b.get_cooldowns("m"):
            break
        await asyncio.sleep(0.01)
    assert (await b.get_cooldown("x", "m")).next_retry_after == 50
    await a.delete_cooldown("x", "m")
    for _ in range(100):
        if not await b.get_cooldowns("m"):
            break
        await asyncio.sleep(0.01)
    assert await b.get_cooldowns("m") == {}


async def test_cursor_is_shared_and_wraps(make):
    a, b = await make(), await make()
    assert [await s.next_cursor("k") for s in (a, b, a, b)] == [0, 1, 2, 3]
    await a._redis.set("t:rr|k", 2_147_483_640)
    assert await b.next_cursor("k") == 0


async def test_weighted_picks_match_the_memory_backend(make):
    """Same sequence as MemoryState (the reference), across two instances, restarting on change."""
    a, b = await make(), await make()
    memory = MemoryState()
    weights = (("a", 3), ("b", 7), ("c", 2))
    expected = [await memory.weighted_pick("k", weights) for _ in range(30)]
    got = [await (a if i % 2 else b).weighted_pick("k", weights) for i in range(30)]
    assert got == expected
    assert await a.weighted_pick("k", [("a", 1), ("b", 1)]) == "a"  # a new vector starts over
    with pytest.raises(ValueError):
        await a.weighted_pick("k", [("a", 0)])


async def test_bindings_ttl_refresh_and_groups(make):
    """Same facts as tests/state/test_memory.py::test_bindings_ttl_refresh_and_groups."""
    clock = Clock()
    state = await make(clock=clock)
    await state.set_binding(("p", "f"), "a", 10)
    clock.now += 8
    assert await state.get_binding("p", 10) == "a"  # refreshed to now + 10
    clock.now += 8
    assert await state.get_binding("f", 10, refresh=False) == "a"
    assert not await state.delete_binding("p", "b")
    assert await state.delete_binding("p", "a")
    clock.now += 20
    assert await state.get_binding("f", 10) is None
    await alias_facts(state, clock)


async def test_in_flight_counters_and_leases(make):
    a, b = await make(), await make()
    assert await a.add_in_flight("x", 1) == 1
    assert await b.add_in_flight("x", 1) == 2
    assert await a.add_in_flight("x", -5) == 0
    assert await b.in_flight("x") == 0
    assert await a.acquire_lease("r", "A", 5)
    assert not await b.acquire_lease("r", "B", 5)
    assert await b.lease_holder("r") == "A"
    await b.release_lease("r", "B")  # not the holder: nothing happens
    assert await b.lease_holder("r") == "A"
    await a.release_lease("r", "A")
    assert await b.acquire_lease("r", "B", 5)


async def test_redis_going_away_degrades_once_and_recovers(make, redis_server, caplog):
    """Every call keeps answering while Redis is down (one WARNING); cooldowns set meanwhile
    reach Redis when it returns."""
    caplog.set_level(logging.WARNING, logger="cliproxy.state.redis")
    a = await make()
    await a.set_cooldown(CooldownRecord("known", "m", next_retry_after=50))
    assert "known" in await a.get_cooldowns("m")
    redis_server.kill()
    await a.set_cooldown(CooldownRecord("during", "m", next_retry_after=60))
    assert not a.available
    assert set(await a.get_cooldowns("m")) == {"known", "during"}  # what the cache held is kept
    assert [await a.next_cursor("k") for _ in range(3)] == [0, 1, 2]
    await a.set_binding(("s",), "x", 10)
    assert await a.get_binding("s", 10) == "x"
    assert await a.put_secret("n", b"v", 10, "o", 5, 5) and await a.get_secret("n") == b"v"
    downs = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(downs) == 1
    redis_server.start()  # empty again: a restarted Redis with no persistence
    for _ in range(200):
        if a.available:
            break
        await asyncio.sleep(0.02)
    assert a.available
    b = await make()
    assert "during" in await b.get_cooldowns("m")


async def test_a_request_costs_one_round_trip(make):
    """The hot path of a request on a cooled-nothing pool: cooldown reads come from the cache,
    the success's delete of an absent record is skipped, only the cursor goes to Redis."""
    state = await make()
    await state.get_cooldowns("m")
    await state.get_cooldowns("")
    await state._redis.config_resetstat()
    for _ in range(20):
        await state.get_cooldowns("m")
        await state.get_cooldowns("")
        await state.next_cursor("k")
        assert not await state.delete_cooldown("x", "m")
    stats = await state._redis.info("commandstats")
    calls = {
        name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items() if "resetstat" not in name
    }
    # (the listener's first subscription marks the cache stale once per model: two re-reads;
    # the listener may subscribe after the stats reset: once per process, not per request)
    calls.pop("subscribe", None)
    assert calls.pop("incr") == 20 and calls.pop("hgetall", 0) <= 2 and not calls, calls


async def test_a_burst_larger_than_the_pool_waits_instead_of_failing(make, caplog):
    """1,000 streams ending at once once exhausted redis-py's pool (MaxConnectionsError) and
    the state fell back to local for a moment; the pool now makes a command wait its turn."""
    state = await make(max_connections=4)
    caplog.set_level(logging.WARNING)
    counts = await asyncio.gather(*(state.add_in_flight("burst", 1) for _ in range(300)))
    assert sorted(counts) == list(range(1, 301))  # every increment landed, atomically
    assert state.available
    assert await state.in_flight("burst") == 300
    assert "unreachable" not in caplog.text


async def test_secrets_are_shared_expire_and_are_capped(make):
    """Same facts as tests/state/test_memory.py::test_secrets_expire_and_are_capped, one
    process storing and the other reading; the caps count both processes' secrets."""
    clock = Clock()
    a, b = await make(clock=clock), await make(clock=clock)
    await secret_facts(a, b, clock)
    assert 0 < await a._redis.pttl("t:secret|n5") <= 10_000  # Redis forgets them by itself
    assert 0 < await a._redis.pttl("t:secrets") <= 60_000
    assert await a._redis.zrange("t:secrets|o", 0, -1) == [b"n5", b"n4"]  # by expiry; n1 dropped
    assert await a._redis.get("t:secret|n6") == b"1070.0\0"


async def test_a_request_cancelled_while_the_cursor_link_connects_is_cancelled(redis_server, redis_states):
    """Our own pipelined link (no CPA counterpart). A request cancelled while the link waits for
    Redis to answer its ``AUTH`` ends cancelled: Redis is not taken for away (before, the cancel
    came out as a connection error, the state switched to this process's own and logged it),
    and a request waiting on the same connect still gets its cursor from Redis."""
    admin = redis_state.aioredis.from_url(redis_server.url)
    await admin.config_set("requirepass", "pw")
    await admin.aclose()
    url = redis_server.url.replace("redis://", "redis://:pw@")
    state = RedisState(url, "lk:")
    await state.start()
    try:
        busy = await hold_busy(url, 0.4)
        cancelled = asyncio.create_task(state.next_cursor("k"))
        waiting = asyncio.create_task(state.next_cursor("k"))
        await asyncio.sleep(0.05)  # both wait for the link's AUTH reply
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        await busy
        assert await asyncio.wait_for(waiting, 2) == 0
        assert state.available
        assert await state.peek_cursor("k") == 1
    finally:
        await state.close()
