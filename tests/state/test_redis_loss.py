"""Redis losing its data (FLUSHALL, a restart without persistence): the proxy notices the
marker key is gone and one process puts back, from the usage ledger, the current period's
spend of every client-key budget and the usage counters (cliproxy.state.redis_loss), so
the next request is refused or charged as if nothing had been lost."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import openai
import pytest
import redis.asyncio as aioredis

from cliproxy.state import redis_loss
from cliproxy.state.redis_keys import MARKER
from cliproxy.usage import recorder_of
from tests.fakes.server import Behavior
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.policies.conftest import chat_body, policy_config

PREFIX = "loss:"
BUDGET = '  - {key: "sk-b", budget: {tokens: 3000, period: month}}'


def shared(redis_server: Any) -> str:
    return (
        f"state:\n  backend: redis\n  url: {redis_server.url}\n  prefix: '{PREFIX}'\n"
        "usage-statistics-enabled: true\n"
    )


@pytest.fixture(autouse=True)
def _management(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)


async def _chat(proxy: Any, key: str = "sk-b") -> Any:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0) as client:
        return await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "hi"}]
        )


async def _refused(proxy: Any) -> str:
    with pytest.raises(openai.PermissionDeniedError) as spent:
        await _chat(proxy)
    return str(spent.value.body["message"])  # type: ignore[index]


async def _flushall(redis_server: Any) -> None:
    client = aioredis.from_url(redis_server.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


async def _until(check: Any, seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.02)


async def _key_usage(proxy: Any) -> tuple[int, int, int]:
    status, body = await mcall(proxy, "GET", "/api-key-usage")
    assert status == 200
    entries = [e for bucket in body.values() for e in bucket.values()]
    recent = sum(b["success"] for e in entries for b in e["recent_requests"])
    return sum(e["success"] for e in entries), sum(e["failed"] for e in entries), recent


async def _keys(proxy: Any) -> list[tuple[int, int]]:
    status, body = await mcall(proxy, "GET", "/usage/keys")
    assert status == 200
    return sorted((k["success"], k["total_tokens"]) for k in body["keys"])


async def test_a_flushall_is_noticed_and_the_budget_spent_before_it_still_counts(
    start_proxy, fakes, redis_server, monkeypatch, caplog
):
    monkeypatch.setattr(redis_loss, "CHECK_INTERVAL", 0.1)  # the periodic look: FLUSHALL drops no link
    proxy = await start_proxy(policy_config(fakes, BUDGET, shared(redis_server)))
    fakes.openai.script(Behavior(status=200, body=chat_body(800, 400), times=None))
    await _chat(proxy)  # 1,200 of 3,000
    await _chat(proxy)  # 2,400
    loss = proxy.service.state.loss
    await _until(lambda: loss._seen)  # the marker is in place
    done = loss.restores
    await _flushall(redis_server)
    caplog.set_level(logging.WARNING)
    await _until(lambda: loss.restores == done + 1)
    await _chat(proxy)  # 2,400 < 3,000: admitted, 3,600 spent
    assert "3600 of 3000 tokens" in await _refused(proxy)  # without the restore: 1,200, admitted
    lost = [r.getMessage() for r in caplog.records if "Redis lost its data" in r.getMessage()]
    assert len(lost) == 1 and "spend of 1 client key(s)" in lost[0] and "sqlite:" in lost[0]
    assert any("count only this host's requests" in r.getMessage() for r in caplog.records)
    assert any("usage-ledger.postgres-url" in r.getMessage() for r in caplog.records)


async def test_two_proxies_restore_once_and_a_request_charged_since_the_loss_counts_once(
    start_proxy, fakes, redis_server, monkeypatch
):
    monkeypatch.setattr(redis_loss, "CHECK_INTERVAL", 3600.0)  # the test looks itself
    text = policy_config(fakes, BUDGET, shared(redis_server))
    a, b = await start_proxy(text), await start_proxy(text)  # one ledger file: as one Postgres
    fakes.openai.script(Behavior(status=200, body=chat_body(500, 500), times=None))
    await _chat(a)
    await _chat(b)  # 2,000 of 3,000
    await _until(lambda: a.service.state.loss._seen and b.service.state.loss._seen)
    await _flushall(redis_server)
    await _chat(a)  # charged into the empty Redis before anyone noticed: 1,000 there, 3,000 in all
    for p in (a, b):  # every row in the ledger, whichever process restores
        assert recorder_of(p.service).stats.ledger.flush()
    looks = await asyncio.gather(*(p.service.state.loss.check() for p in (a, b, a, b)))
    assert sorted(looks) == [False, False, False, True]  # one restore of four looks
    assert not any([await p.service.state.loss.check() for p in (a, b)])  # the marker is back
    assert "3000 of 3000 tokens" in await _refused(b)  # not 5,000 (twice), not 1,000 (lost)
    assert "3000 of 3000 tokens" in await _refused(a)


async def test_counters_come_back_and_count_a_request_made_since_the_loss_once(
    start_proxy, fakes, redis_server, monkeypatch
):
    monkeypatch.setattr(redis_loss, "CHECK_INTERVAL", 3600.0)
    text = policy_config(fakes, BUDGET, shared(redis_server))
    proxy = await start_proxy(text)
    fakes.openai.script(Behavior(status=200, body=chat_body(10, 5), times=2))
    await _chat(proxy)
    await _chat(proxy, "sk-plain-key")
    fakes.openai.script(
        Behavior(status=400, body={"error": {"message": "no", "type": "invalid_request_error"}})
    )
    with pytest.raises(openai.BadRequestError):
        await _chat(proxy)
    before = await _key_usage(proxy)
    assert before == (2, 1, 2)
    assert await _keys(proxy) == [(1, 15), (1, 15)]
    await _flushall(redis_server)
    assert await _key_usage(proxy) == (0, 0, 0)  # gone with Redis's data
    fakes.openai.reset()
    fakes.openai.script(Behavior(status=200, body=chat_body(10, 5), times=None))
    await _chat(proxy)  # counted in the empty Redis before the restore
    assert await proxy.service.state.loss.check()
    assert await _key_usage(proxy) == (3, 1, 3)
    assert await _keys(proxy) == [(1, 15), (2, 30)]
    assert not await proxy.service.state.loss.check()
    assert await _key_usage(proxy) == (3, 1, 3)  # a second look adds nothing


async def test_a_redis_restart_is_noticed_through_the_reconnect(
    start_proxy, fakes, redis_server, monkeypatch
):
    monkeypatch.setattr(redis_loss, "CHECK_INTERVAL", 3600.0)  # no periodic look: the reconnect tells
    proxy = await start_proxy(policy_config(fakes, BUDGET, shared(redis_server)))
    fakes.openai.script(Behavior(status=200, body=chat_body(1000, 500), times=None))
    await _chat(proxy)  # 1,500 of 3,000
    loss = proxy.service.state.loss
    await _until(lambda: loss._seen)
    done = loss.restores
    redis_server.kill()
    redis_server.start()  # no persistence: empty
    await _chat(proxy)  # 3,000 (in Redis, or on the local fallback while the probe finds it again)
    await _until(lambda: loss.restores == done + 1)
    client = aioredis.from_url(redis_server.url)
    try:
        assert await client.exists(PREFIX + MARKER)
    finally:
        await client.aclose()
    assert "3000 of 3000 tokens" in await _refused(proxy)  # without the restore: 0 or 1,500, admitted


async def test_a_redis_that_kept_its_data_but_never_had_the_marker_gets_nothing_twice(
    start_proxy, fakes, redis_server, monkeypatch
):
    """Hashes written before this release (no ``since``) and no marker: an upgrade, or an
    eviction of the marker alone. They hold every request: nothing is added to them."""
    monkeypatch.setattr(redis_loss, "CHECK_INTERVAL", 3600.0)
    proxy = await start_proxy(policy_config(fakes, BUDGET, shared(redis_server)))
    fakes.openai.script(Behavior(status=200, body=chat_body(500, 500), times=None))
    await _chat(proxy)
    await _chat(proxy)  # 2,000 of 3,000
    assert await _key_usage(proxy) == (2, 0, 2)
    client = aioredis.from_url(redis_server.url)
    try:
        hashes = [k async for k in client.scan_iter(PREFIX + "*", _type="hash")]
        stamped = [k for k in hashes if await client.hexists(k, "since")]
        assert len(stamped) == 3  # the key's budget hash, its usage counter, the credential's
        for key in stamped:
            await client.hdel(key, "since")
        await client.delete(PREFIX + MARKER)
    finally:
        await client.aclose()
    assert await proxy.service.state.loss.check()
    assert await _key_usage(proxy) == (2, 0, 2)
    await _chat(proxy)  # 3,000: admitted (with 2,000 counted twice: refused)
    assert "3000 of 3000 tokens" in await _refused(proxy)


async def test_counts_another_process_flushes_late_are_not_restored_twice(
    start_proxy, fakes, redis_server, monkeypatch
):
    """Another process's counts that reach Redis after a loss, late (its link reconnecting
    after a Redis restart, its flush held up): they are in the ledger too. Before, the
    restore read the counter before that flush (no counter: every row added, then the flush
    added them again) or after it had been begun by a later count of this process (its
    ``since`` then skipped the earlier row): the panel showed 5 requests for 4."""
    monkeypatch.setattr(redis_loss, "CHECK_INTERVAL", 3600.0)
    text = policy_config(fakes, BUDGET, shared(redis_server))
    a, b = await start_proxy(text), await start_proxy(text)  # one ledger file: as one Postgres
    fakes.openai.script(Behavior(status=200, body=chat_body(10, 5), times=None))
    await _chat(a)
    await _chat(b)
    await _until(lambda: a.service.state.loss._seen or b.service.state.loss._seen)  # the first look
    assert not any([await p.service.state.loss.check() for p in (a, b)])  # the marker is in place
    for _ in range(250):  # both counted in Redis before the loss
        if await _counted(redis_server) == 2:
            break
        await asyncio.sleep(0.02)
    assert await _counted(redis_server) == 2
    await _flushall(redis_server)
    late = recorder_of(b.service).stats.counters.sync
    async with late._lock:  # b's flush is held up
        await _chat(b)
        await _chat(a)  # a's own flush begins the counter, after b's request ended
        for p in (a, b):
            assert recorder_of(p.service).stats.ledger.flush()
        restore = asyncio.create_task(a.service.state.loss.check())
        await asyncio.sleep(0.3)  # b flushes within the restore's wait for late flushes
    assert await restore
    await _until(lambda: not late._counts)
    assert await _counted(redis_server) == 4


async def _counted(redis_server: Any) -> int:
    """The requests the client keys' shared counters hold."""
    client = aioredis.from_url(redis_server.url)
    try:
        return sum([int(await client.hget(k, "s") or 0) async for k in client.scan_iter(PREFIX + "uc|k|*")])
    finally:
        await client.aclose()


@pytest.mark.parametrize(("policy", "warned"), [("allkeys-lru", True), ("noeviction", False)])
async def test_a_redis_that_may_evict_keys_is_named_at_start(
    redis_server, redis_states, caplog, policy, warned
):
    """Only the loss of the marker is noticed: a Redis with a memory cap that evicts keys
    (allkeys-*, volatile-*) could drop one budget's spend or one counter alone, unnoticed.
    The start says so in a WARNING naming the setting to change; a Redis that never evicts
    (noeviction, or no maxmemory: the default) gets no warning."""
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        await admin.config_set("maxmemory", "100mb")
        await admin.config_set("maxmemory-policy", policy)
    finally:
        await admin.aclose()
    with caplog.at_level(logging.WARNING, logger="cliproxy.state.redis_loss"):
        await redis_states(PREFIX)
    said = [r.getMessage() for r in caplog.records if "may evict" in r.getMessage()]
    assert bool(said) is warned
    if warned:
        assert "maxmemory-policy allkeys-lru" in said[0] and "noeviction" in said[0]
