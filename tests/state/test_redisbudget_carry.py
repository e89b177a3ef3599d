"""A client key's budget, rate and concurrency counters that one process charged on its own
while it could not reach Redis (a partition: Redis kept its data and served the others) are
added to Redis's when it reconnects, once, into the period they belong to: a shared budget is
not overspent by what the cut-off process let through, nor a slot left taken forever.

The outage is the TCP relay of :mod:`tests.state.test_redisout_carry` between that process and
a real ``redis-server``; the others talk to Redis directly. The calls are the ones
:class:`cliproxy.policies.enforce.Enforcer` makes for a request (admit, then settle with the
usage and the slot's release)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest

from cliproxy.state.base import KeyLimits
from tests.policies.conftest import policy_config
from tests.state.test_redisout_carry import Relay, _cut, _mend

redis_state = pytest.importorskip("cliproxy.state.redis")
RedisState = redis_state.RedisState

DAY5, DAY6 = "d:2026-12-05", "d:2026-12-06"


class TrippingRelay(Relay):
    """A relay that, once, lets the first command naming a carried spend (``kc|``) reach Redis
    and loses its reply: the worst halfway failure (Redis applied it; the worker cannot know)."""

    def __init__(self, target: int) -> None:
        super().__init__(target)
        self.armed = False
        self.tripped = 0
        self._deaf = False
        self._answered = asyncio.Event()

    async def upward(self, data: bytes, writer: asyncio.StreamWriter) -> bool:
        if not (self.armed and b"kc|" in data):
            return await super().upward(data, writer)
        self.armed, self._deaf = False, True
        self.tripped += 1
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(5):  # Redis ran it: its answer came, and is dropped
            await self._answered.wait()
        self.cut()
        self._deaf = False
        self.mend()
        return False

    async def downward(self, data: bytes, writer: asyncio.StreamWriter) -> bool:
        if self._deaf:
            self._answered.set()
            return True
        return await super().downward(data, writer)


@pytest.fixture
async def relay(redis_server: Any) -> AsyncIterator[TrippingRelay]:
    relay = TrippingRelay(redis_server.port)
    await relay.start()
    yield relay
    await relay.close()


@pytest.fixture
async def workers(redis_server: Any, relay: Relay) -> AsyncIterator[Callable[..., Any]]:
    """``await workers(cut_off=True)``: a started ``RedisState`` of the shared prefix, through
    the relay (``cut_off``) or straight to Redis."""
    opened: list[Any] = []

    async def open_one(*, cut_off: bool = False) -> Any:
        url = f"redis://127.0.0.1:{relay.port}/0" if cut_off else redis_server.url
        state = RedisState(url, "rb:", cache_ttl=0.0, timeout=0.5)
        await state.start()
        opened.append(state)
        return state

    yield open_one
    for state in opened:
        await asyncio.wait_for(state.close(), 5)


async def _request(
    state: Any, key: str, limits: KeyLimits, now: float, tokens: int, cost: float = 0.0
) -> None:
    """One admitted request that spends ``tokens`` (and ``cost``) and ends."""
    admitted = await state.key_admit(key, limits, now)
    assert admitted.ok, admitted.reason
    await state.key_settle(key, limits, now, tokens=tokens, cost=cost, release=True)


async def test_a_token_budget_spent_while_cut_off_is_spent_on_every_worker(workers, relay):
    """The bug: Redis held the others' 200 tokens only; the 900 the cut-off worker let through
    were never added, so every worker went on admitting the key past its 1,000."""
    limits = KeyLimits(budget_tokens=1000, period=DAY6)
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _request(b, "k", limits, now, 200)
    await _cut(relay, a)
    for _ in range(3):
        await _request(a, "k", limits, now, 300)
    await _mend(relay, a)
    for state in (a, b):
        used = await state.key_usage("k", limits, now)
        assert (used.tokens_used, used.requests, used.in_flight) == (1100, 4, 0)
        assert (await state.key_admit("k", limits, now)).reason == "budget_tokens"


async def test_a_cost_budget_spent_while_cut_off_is_spent_on_every_worker(workers, relay):
    limits = KeyLimits(budget_cost=1.0, period="total")
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _cut(relay, a)
    await _request(b, "k", limits, now, 10, 0.4)
    for _ in range(3):
        await _request(a, "k", limits, now, 10, 0.25)
    await _mend(relay, a)
    for state in (a, b):
        used = await state.key_usage("k", limits, now)
        assert used.cost_used == pytest.approx(1.15) and used.tokens_used == 40
        assert (await state.key_admit("k", limits, now)).reason == "budget_cost"


async def test_requests_and_tokens_per_minute_from_the_outage_fill_the_shared_buckets(workers, relay):
    """rpm 5: two requests through Redis and three cut off are the minute's five; tpm 1,000:
    900 tokens cut off and 200 through Redis are over it, on every worker."""
    rpm, tpm = KeyLimits(rpm=5), KeyLimits(tpm=1000)
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _cut(relay, a)
    for _ in range(2):
        await _request(b, "r", rpm, now, 0)
    for _ in range(3):
        await _request(a, "r", rpm, now, 0)
    await _request(b, "t", tpm, now, 200)
    await _request(a, "t", tpm, now, 900)
    await _mend(relay, a)
    for state in (a, b):
        refused = await state.key_admit("r", rpm, now)
        assert refused.reason == "rpm" and refused.retry_after > 0
        assert (await state.key_admit("t", tpm, now)).reason == "tpm"
    # what the minute let through has drained a minute later: admitted again
    assert (await b.key_admit("r", rpm, now + 61)).ok
    assert (await b.key_admit("t", tpm, now + 61)).ok


async def test_a_concurrency_slot_given_back_while_cut_off_is_free_again(workers, relay):
    """A request admitted through Redis that ended during the outage gave its slot back to the
    local state only: Redis kept it taken, and a key with max-concurrency 1 was refused for good.
    One admitted during the outage and still running at reconnect holds its slot in Redis."""
    limits = KeyLimits(max_concurrency=1)
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    assert (await a.key_admit("k", limits, now)).ok
    await _cut(relay, a)
    await a.key_settle("k", limits, now, tokens=5, cost=0.0, release=True)
    await _mend(relay, a)
    assert (await b.key_admit("k", limits, now)).ok
    await b.key_settle("k", limits, now, tokens=5, cost=0.0, release=True)
    await _cut(relay, a)
    assert (await a.key_admit("k", limits, now)).ok  # still running when Redis is back
    await _mend(relay, a)
    assert (await b.key_admit("k", limits, now)).reason == "concurrency"
    await a.key_settle("k", limits, now, tokens=5, cost=0.0, release=True)
    assert (await b.key_admit("k", limits, now)).ok


async def test_spend_of_an_ended_period_is_not_added_to_the_current_one(workers, relay):
    """The cut-off worker's spend of yesterday: Redis has moved on to today (another worker's
    request), so yesterday's spend is dropped, not charged to today's budget."""
    yesterday, today = KeyLimits(budget_tokens=1000, period=DAY5), KeyLimits(budget_tokens=1000, period=DAY6)
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _cut(relay, a)
    await _request(a, "k", yesterday, now, 700)
    await _request(b, "k", today, now, 100)
    await _mend(relay, a)
    used = await b.key_usage("k", today, now)
    assert (used.tokens_used, used.requests) == (100, 1)


async def test_spend_of_a_period_redis_has_not_reached_yet_replaces_the_ended_one(workers, relay):
    """Redis still holds yesterday's spend (nobody charged the key since midnight); the cut-off
    worker's spend of today becomes today's, and yesterday's does not carry over."""
    yesterday, today = KeyLimits(budget_tokens=1000, period=DAY5), KeyLimits(budget_tokens=1000, period=DAY6)
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _request(b, "k", yesterday, now, 900)
    await _cut(relay, a)
    await _request(a, "k", today, now, 300)
    await _mend(relay, a)
    used = await b.key_usage("k", today, now)
    assert (used.tokens_used, used.requests) == (300, 1)


async def test_a_reconnect_that_fails_halfway_counts_each_spend_once(workers, relay):
    """The first key's carry reaches Redis and its answer is lost with the connection; the
    worker carries again at the next reconnect: that key is not charged twice, the other is
    charged once."""
    limits = KeyLimits(budget_tokens=10_000, rpm=100, period=DAY6)
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _cut(relay, a)
    for key in ("k1", "k2"):
        for _ in range(3):
            await _request(a, key, limits, now, 100)
    relay.armed = True
    await _mend(relay, a)
    assert relay.tripped == 1
    for key in ("k1", "k2"):
        used = await b.key_usage(key, limits, now)
        assert (used.tokens_used, used.requests, used.in_flight) == (300, 3, 0), key
        assert used.rpm_reset == pytest.approx(3 * 60 / 100, abs=0.01), key  # three requests' worth


async def test_a_second_outage_carries_only_its_own_spend(workers, relay):
    limits = KeyLimits(budget_tokens=10_000, period=DAY6)
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    for spend in (100, 250):
        await _cut(relay, a)
        await _request(a, "k", limits, now, spend)
        await _mend(relay, a)
    await _request(a, "k", limits, now, 1)  # through Redis
    used = await b.key_usage("k", limits, now)
    assert (used.tokens_used, used.requests) == (351, 3)


async def _chat(proxy: Any, key: str) -> int:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=key, max_retries=0) as client:
        try:
            await client.chat.completions.create(
                model="compat-model", messages=[{"role": "user", "content": "x"}]
            )
        except openai.RateLimitError:
            return 429
    return 200


async def test_two_proxies_refuse_a_key_its_cut_off_requests_brought_to_its_rpm(
    start_proxy, fakes, redis_server, relay
):
    """rpm 4 shared by two proxies; three requests reach the one cut off from Redis, one the
    other: once Redis is back the minute's four are spent, and both refuse the fifth."""
    direct = f'state: {{backend: redis, url: "{redis_server.url}", prefix: "rbe:"}}\n'
    relayed = f'state: {{backend: redis, url: "redis://127.0.0.1:{relay.port}/0", prefix: "rbe:"}}\n'
    one = await start_proxy(policy_config(fakes, '  - {key: "sk-shared", rpm: 4}', relayed))
    two = await start_proxy(policy_config(fakes, '  - {key: "sk-shared", rpm: 4}', direct))
    relay.cut()
    assert [await _chat(one, "sk-shared") for _ in range(3)] == [200, 200, 200]
    state = one.service.pool.state
    assert not state.available
    assert await _chat(two, "sk-shared") == 200
    await _mend(relay, state)
    assert [await _chat(one, "sk-shared"), await _chat(two, "sk-shared")] == [429, 429]
