"""What is restored, from which ledger: with the Postgres ledger every host writes to, the
restore after a Redis loss counts every host's requests and says so without the per-host
warning; a budget restored at a restart (memory backend) leaves the rate limits alone."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import openai
import pytest

from cliproxy.state import redis_loss
from cliproxy.usage import recorder_of
from tests.fakes.server import Behavior
from tests.policies.conftest import chat_body, policy_config
from tests.state.test_redis_loss import BUDGET, _chat, _flushall, _key_usage, _refused, shared
from tests.usage import conftest as usage_fixtures

postgres_url = usage_fixtures.postgres_url  # a fixture: a throwaway PostgreSQL


@pytest.fixture(autouse=True)
def _management(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.management.conftest import MANAGEMENT_KEY

    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)


async def test_with_the_postgres_ledger_every_hosts_requests_come_back(
    start_proxy,
    fakes,
    redis_server,
    postgres_url,
    monkeypatch,
    caplog,
    tmp_path,
):
    monkeypatch.setattr(redis_loss, "CHECK_INTERVAL", 3600.0)
    ledger = f"usage-ledger:\n  postgres-url: {postgres_url}\n"
    proxies = []
    for host in ("a", "b"):  # two hosts: auth-dirs of their own, one Postgres ledger
        (tmp_path / host).mkdir()
        extra = f"auth-dir: {tmp_path / host}\n" + shared(redis_server) + ledger
        proxies.append(await start_proxy(policy_config(fakes, BUDGET, extra)))
    a, b = proxies
    fakes.openai.script(Behavior(status=200, body=chat_body(500, 500), times=None))
    for proxy in (a, b, b):
        await _chat(proxy)  # 3,000 of 3,000
    for proxy in (a, b):  # every count in Redis, every row in the ledger
        await recorder_of(proxy.service).stats.counters.sync.flush()
    assert await _key_usage(a) == (3, 0, 3)
    await _flushall(redis_server)
    for proxy in (a, b):
        assert recorder_of(proxy.service).stats.ledger.flush()
    caplog.set_level(logging.WARNING)
    looks = await asyncio.gather(a.service.state.loss.check(), b.service.state.loss.check())
    assert sorted(looks) == [False, True]
    assert await _key_usage(a) == (3, 0, 3) and await _key_usage(b) == (3, 0, 3)
    assert "3000 of 3000 tokens" in await _refused(a)
    [lost] = [r.getMessage() for r in caplog.records if "Redis lost its data" in r.getMessage()]
    assert "usage ledger (postgres)" in lost and "1 client key(s)" in lost
    assert not any("count only this host's requests" in r.getMessage() for r in caplog.records)


async def test_a_budget_restored_at_a_restart_leaves_the_tokens_per_minute_alone(start_proxy, fakes):
    keys = '  - {key: "sk-b", tpm: 1000, budget: {tokens: 100000, period: month}}'
    proxy = await start_proxy(policy_config(fakes, keys))
    fakes.openai.script(Behavior(status=200, body=chat_body(800, 400), times=None))
    await _chat(proxy)
    await proxy.close()  # the ledger has the row; a minute later the bucket would be full again
    again = await start_proxy(policy_config(fakes, keys))
    # the 1,200 tokens restored count against the budget, not as tokens used this minute (the
    # bucket was charged them at once: refused for 72 s, after every restart)
    answer: Any = await _chat(again)
    assert answer.choices[0].message.content == "ok"
    with pytest.raises(openai.RateLimitError):  # its own 1,200 tokens now fill the minute
        await _chat(again)
