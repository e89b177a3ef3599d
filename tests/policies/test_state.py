"""The key policy counters of both state backends, and limits shared by two proxies on one Redis."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from cliproxy.state.base import KeyLimits, StateBackend
from cliproxy.state.memory import MemoryState
from cliproxy.state.redis import RedisState
from tests.policies.conftest import policy_config


async def _redis(redis_server: Any) -> Any:
    state = RedisState(redis_server.url, "kp:")
    await state.start()
    return state


@pytest.fixture(params=["memory", "redis"])
async def backend(request) -> Any:
    if request.param == "memory":
        yield MemoryState()
        return
    state = await _redis(request.getfixturevalue("redis_server"))
    yield state
    await state.close()


async def test_backends_honour_the_contract(backend):
    assert isinstance(backend, StateBackend)


async def test_rpm_bucket_bursts_to_the_limit_then_refills(backend):
    limits = KeyLimits(rpm=3)
    now = 1000.0
    answers = [await backend.key_admit("k", limits, now) for _ in range(4)]
    assert [a.reason for a in answers] == ["", "", "", "rpm"]
    assert [a.rpm_remaining for a in answers[:3]] == [2, 1, 0]
    assert answers[3].retry_after == pytest.approx(20.0)  # one request every 60/3 s
    assert (await backend.key_admit("k", limits, now + 20)).ok
    assert not (await backend.key_admit("k", limits, now + 20)).ok


async def test_tpm_charges_after_the_request(backend):
    limits = KeyLimits(tpm=600)
    assert (await backend.key_admit("t", limits, 0.0)).ok
    await backend.key_settle("t", limits, 0.0, tokens=900, cost=0.0, release=True)
    refused = await backend.key_admit("t", limits, 1.0)
    assert refused.reason == "tpm" and refused.tpm_remaining == 0
    assert refused.retry_after == pytest.approx(89.0 - 60.0 + 0.1)
    assert (await backend.key_admit("t", limits, 31.0)).ok


async def test_concurrency_and_release(backend):
    limits = KeyLimits(max_concurrency=2)
    assert (await backend.key_admit("c", limits, 0.0)).ok
    assert (await backend.key_admit("c", limits, 0.0)).ok
    assert (await backend.key_admit("c", limits, 0.0)).reason == "concurrency"
    await backend.key_settle("c", limits, 0.0, tokens=0, cost=0.0, release=True)
    assert (await backend.key_admit("c", limits, 0.0)).ok


async def test_budget_rolls_over_with_the_period_and_resets(backend):
    day1 = KeyLimits(budget_tokens=100, budget_cost=1.0, period="d:2026-12-03")
    assert (await backend.key_admit("b", day1, 0.0)).ok
    await backend.key_settle("b", day1, 0.0, tokens=100, cost=0.25, release=True)
    used = await backend.key_usage("b", day1, 0.0)
    assert (used.tokens_used, used.cost_used, used.requests) == (100, 0.25, 1)
    assert (await backend.key_admit("b", day1, 0.0)).reason == "budget_tokens"
    day2 = KeyLimits(budget_tokens=100, period="d:2026-12-04")
    assert (await backend.key_admit("b", day2, 0.0)).ok
    cost = KeyLimits(budget_cost=0.5, period="total")
    await backend.key_settle("b", cost, 0.0, tokens=0, cost=0.5, release=False)
    assert (await backend.key_admit("b", cost, 0.0)).reason == "budget_cost"
    await backend.key_reset("b")
    assert (await backend.key_admit("b", cost, 0.0)).ok


async def test_limits_are_shared_by_two_proxies_on_one_redis(start_proxy, fakes, redis_server, tmp_path):
    state = f'state: {{backend: redis, url: "{redis_server.url}", prefix: "shared:"}}\n'
    text = policy_config(fakes, '  - {key: "sk-shared", rpm: 3}', state)
    one = await start_proxy(text)
    two = await start_proxy(text)
    assert one.port != two.port
    statuses = []
    for proxy in (one, two, one, two):
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk-shared", max_retries=0) as c:
            try:
                await c.chat.completions.create(
                    model="compat-model", messages=[{"role": "user", "content": "x"}]
                )
                statuses.append(200)
            except openai.RateLimitError:
                statuses.append(429)
    assert statuses == [200, 200, 200, 429]
